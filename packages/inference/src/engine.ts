/**
 * The engine-neutral forward pass whole-volume prediction runs on: the same sliding window,
 * Gaussian blending and geometry for TensorFlow.js and ONNX Runtime (`@models-genesis/onnx`'s
 * `createOnnxEngine` returns an object of this shape).
 */
import type { GenesisUNet, ModelMetadata } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";

/** A network's forward pass on float32 arrays. */
export interface ForwardEngine {
  /** `tfjs` or `onnx`. */
  readonly name: string;
  /** One line for logs, e.g. `tfjs wasm` or `onnxruntime-node 1.30.0 (cpu)`. */
  readonly description: string;
  /**
   * BatchNorm statistics the engine's network uses, when fixed by the engine (an exported ONNX
   * graph); `predictVolume` refuses a different requested mode.
   */
  readonly bnMode?: ModelMetadata["bnMode"];
  /**
   * Run the network on one batch.
   * @param batch float32, C order, `shape` = NDHWC (N, rows, cols, deps, C) — NHWC for 2-D models.
   * @returns float32 output: (N, rows, cols, deps, classes) for segmentation, (N, classes) for
   *   classification.
   */
  forward(batch: Float32Array, shape: readonly number[]): Promise<Float32Array>;
}

/**
 * The TensorFlow.js engine: `model.forward(x, {training: false, bnMode})` on the current tfjs
 * backend; every tensor it makes is disposed before it returns.
 */
export function tfjsEngine(model: GenesisUNet, bnMode: ModelMetadata["bnMode"]): ForwardEngine {
  return {
    name: "tfjs",
    description: `tfjs ${tf.getBackend()}`,
    bnMode,
    async forward(batch, shape) {
      const y = tf.tidy(() => model.forward(tf.tensor(batch, [...shape]), { training: false, bnMode }));
      try {
        return (await y.data()) as Float32Array;
      } finally {
        y.dispose();
      }
    },
  };
}
