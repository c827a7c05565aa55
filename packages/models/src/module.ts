import type * as tf from "@tensorflow/tfjs-core";

/**
 * The contract between models and the training loop.
 *
 * A `GenesisModule` is a functional network: named variables plus a `forward`. Tensors are NDHWC
 * (N, rows, cols, deps, C) for 3-D models and NHWC for 2-D ones.
 */
export interface GenesisModule {
  /** JSON-serialisable description that rebuilds the architecture (variant, width, head, BN mode, …). */
  readonly config: Record<string, unknown>;
  /** Trainable variables keyed by a stable name (the name used in saved weight manifests). */
  readonly trainableWeights: ReadonlyMap<string, tf.Variable>;
  /** Non-trainable state keyed by name, e.g. BatchNorm running mean/variance. */
  readonly nonTrainableWeights: ReadonlyMap<string, tf.Variable>;
  /**
   * Run the network. With `training: true` BatchNorm uses batch statistics and updates the running
   * averages in `nonTrainableWeights` (a side effect); with `training: false` it follows the model's
   * BN mode. The caller owns the returned tensor.
   */
  forward(x: tf.Tensor, opts: { training: boolean }): tf.Tensor;
  /** Free every variable. */
  dispose(): void;
}
