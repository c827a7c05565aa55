import * as tf from "@tensorflow/tfjs-core";

/**
 * The 3-D operations the Genesis networks are built from. Every tensor is channels-last,
 * NDHWC: (N, rows, cols, deps, C) — see `spec/reference-facts.md`, "Axis convention".
 *
 * This first version is written with stock tfjs ops only (correct on every backend, slow on
 * wasm); the fast kernels replace the bodies without changing these signatures.
 */

/**
 * 3-D convolution, stride 1, "same" padding (PyTorch `padding=k//2`).
 * @param x (N, D0, D1, D2, Cin)
 * @param w (k, k, k, Cin, Cout), k odd (3 or 1)
 * @param bias optional (Cout)
 * @returns (N, D0, D1, D2, Cout)
 */
export function conv3d(x: tf.Tensor5D, w: tf.Tensor5D, bias?: tf.Tensor1D): tf.Tensor5D {
  return tf.tidy(() => {
    const y = tf.conv3d(x, w, 1, "same");
    return (bias ? tf.add(y, bias) : y) as tf.Tensor5D;
  });
}

/**
 * Transposed 3-D convolution with kernel 2 and stride 2 (PyTorch `ConvTranspose3d(k=2, s=2)`):
 * every input voxel writes one 2×2×2 output block, so it is one matMul followed by a
 * depth-to-space rearrangement.
 * @param x (N, A, B, C, Cin)
 * @param w (2, 2, 2, Cout, Cin) — tfjs `conv3dTranspose` filter layout
 * @param bias optional (Cout)
 * @returns (N, 2A, 2B, 2C, Cout)
 */
export function convTranspose3dStride2(x: tf.Tensor5D, w: tf.Tensor5D, bias?: tf.Tensor1D): tf.Tensor5D {
  return tf.tidy((): tf.Tensor5D => {
    const [n, a, b, c, cin] = x.shape;
    const cout = w.shape[3];
    // w (2,2,2,Cout,Cin) -> (Cin, 2*2*2*Cout)
    const wm = tf.reshape(tf.transpose(w, [4, 0, 1, 2, 3]), [cin, 8 * cout]);
    const y = tf.matMul(tf.reshape(x, [n * a * b * c, cin]), wm); // (NABC, 8*Cout)
    const y8 = tf.reshape(y, [n, a, b, c, 2, 2, 2, cout]);
    const out = tf.reshape(tf.transpose(y8, [0, 1, 4, 2, 5, 3, 6, 7]), [n, 2 * a, 2 * b, 2 * c, cout]);
    return (bias ? tf.add(out, bias) : out) as tf.Tensor5D;
  });
}

/**
 * Nearest-neighbour ×2 up-sampling along the three spatial axes (Keras `UpSampling3D(2)`).
 * @param x (N, A, B, C, Ch)
 * @returns (N, 2A, 2B, 2C, Ch)
 */
export function upsampleNearest3d(x: tf.Tensor5D): tf.Tensor5D {
  return tf.tidy(() => {
    const [n, a, b, c, ch] = x.shape;
    const x8 = tf.reshape(x, [n, a, 1, b, 1, c, 1, ch]);
    const t = tf.tile(x8, [1, 1, 2, 1, 2, 1, 2, 1]);
    return tf.reshape(t, [n, 2 * a, 2 * b, 2 * c, ch]);
  });
}

/**
 * 2×2×2 max pooling with stride 2 (PyTorch `MaxPool3d(2)`, Keras `MaxPooling3D(2)`).
 * @param x (N, A, B, C, Ch) with A, B, C even
 * @returns (N, A/2, B/2, C/2, Ch)
 */
export function maxPool3d(x: tf.Tensor5D): tf.Tensor5D {
  return tf.maxPool3d(x, 2, 2, "valid");
}

/** BatchNorm statistics source: the batch's own (training, and the official PyTorch model always) or running averages. */
export type BatchNormMode = "batch-statistics" | "running-statistics";

/** Parameters of a BatchNorm over the channel (last) axis. */
export interface BatchNormParams {
  gamma: tf.Tensor1D;
  beta: tf.Tensor1D;
  /** Running mean, used in `running-statistics` mode. */
  movingMean?: tf.Tensor1D;
  /** Running (unbiased in PyTorch, biased in Keras) variance, used in `running-statistics` mode. */
  movingVariance?: tf.Tensor1D;
  /** Epsilon: 1e-5 in PyTorch (`nn.BatchNorm3d`), 1e-3 in Keras (`BatchNormalization`). */
  eps: number;
}

/** Output of {@link batchNormRelu}. */
export interface BatchNormResult {
  y: tf.Tensor5D;
  /** The batch mean per channel (Ch) in `batch-statistics` mode, for running-average updates; else undefined. */
  batchMean?: tf.Tensor1D;
  /** The biased batch variance per channel (Ch) in `batch-statistics` mode; else undefined. */
  batchVariance?: tf.Tensor1D;
}

/**
 * BatchNorm over (N, D0, D1, D2) per channel, optionally followed by ReLU.
 * @param x (N, D0, D1, D2, Ch)
 * @throws Error when `running-statistics` is asked for without running mean/variance.
 */
export function batchNormRelu(
  x: tf.Tensor5D,
  p: BatchNormParams,
  mode: BatchNormMode,
  relu: boolean,
): BatchNormResult {
  if (mode === "running-statistics") {
    if (!p.movingMean || !p.movingVariance) {
      throw new Error("batchNormRelu: running-statistics mode needs movingMean and movingVariance");
    }
    const y = tf.tidy(() => {
      const z = tf.batchNorm(x, p.movingMean!, p.movingVariance!, p.beta, p.gamma, p.eps) as tf.Tensor5D;
      return relu ? tf.relu(z) : z;
    });
    return { y };
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2, 3]);
  const y = tf.tidy(() => {
    const z = tf.batchNorm(x, mean, variance, p.beta, p.gamma, p.eps) as tf.Tensor5D;
    return relu ? tf.relu(z) : z;
  });
  return { y, batchMean: mean as tf.Tensor1D, batchVariance: variance as tf.Tensor1D };
}
