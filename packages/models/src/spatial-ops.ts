import {
  type BatchNormMode,
  type BatchNormParams,
  type BatchNormResult,
  batchNormRelu,
  conv3d,
  convTranspose3dStride2,
  maxPool3d,
  upsampleNearest3d,
} from "@models-genesis/kernels";
import * as tf from "@tensorflow/tfjs-core";

/**
 * The five spatial operations a Genesis U-Net is built from, for one dimensionality.
 * 3-D: the `@models-genesis/kernels` ops on NDHWC tensors. 2-D: the same maths on NHWC tensors with
 * stock tfjs-core ops (the slice-wise baseline is small; it needs no custom kernels).
 */
export interface SpatialOps {
  /** Conv, stride 1, same padding. x (N, …spatial, Cin), w (…k, Cin, Cout). */
  conv(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor1D): tf.Tensor;
  /** Transposed conv kernel 2 stride 2. w (2, 2[, 2], Cout, Cin). */
  convTranspose2(x: tf.Tensor, w: tf.Tensor, b?: tf.Tensor1D): tf.Tensor;
  /** Nearest-neighbour ×2 up-sampling. */
  upsample2(x: tf.Tensor): tf.Tensor;
  /** 2×2(×2) max-pool, stride 2. */
  maxPool2(x: tf.Tensor): tf.Tensor;
  /** BatchNorm over every axis but the last, then optional ReLU. */
  batchNormRelu(x: tf.Tensor, p: BatchNormParams, mode: BatchNormMode, relu: boolean): BatchNormResult;
}

export const ops3d: SpatialOps = {
  conv: (x, w, b) => conv3d(x as tf.Tensor5D, w as tf.Tensor5D, b),
  convTranspose2: (x, w, b) => convTranspose3dStride2(x as tf.Tensor5D, w as tf.Tensor5D, b),
  upsample2: (x) => upsampleNearest3d(x as tf.Tensor5D),
  maxPool2: (x) => maxPool3d(x as tf.Tensor5D),
  batchNormRelu: (x, p, mode, relu) => batchNormRelu(x as tf.Tensor5D, p, mode, relu),
};

/**
 * 2-D convolution, stride 1, "same" padding, odd square kernels, with its gradient written out so
 * that it runs on every backend: tfjs-backend-wasm 4.22 has no `Conv2DBackpropFilter` kernel, so the
 * stock `tf.conv2d` cannot be trained there. Forward: `tf.conv2d`. Input gradient: the same-padded
 * convolution of dy with the kernel rotated by 180° and its in/out channels swapped. Filter
 * gradient: for each kernel offset (i, j), `xpadᵀ[shifted by (i, j)] · dy` as one matMul
 * (Cin × Cout), with xpad the input zero-padded by (k − 1) / 2.
 *
 * @param x (N, H, W, Cin) NHWC.
 * @param w (k, k, Cin, Cout), k odd.
 * @returns (N, H, W, Cout).
 */
export function conv2dSame(x: tf.Tensor4D, w: tf.Tensor4D): tf.Tensor4D {
  const f = tf.customGrad((xi, wi, save) => {
    const xt = xi as tf.Tensor4D;
    const wt = wi as tf.Tensor4D;
    (save as tf.GradSaveFunc)([xt, wt]);
    return {
      value: tf.conv2d(xt, wt, 1, "same"),
      gradFunc: (dy, saved) => {
        const [xs, ws] = saved as [tf.Tensor4D, tf.Tensor4D];
        const g = dy as tf.Tensor4D;
        const [kh, kw, cin, cout] = ws.shape;
        const [n, h, wd] = xs.shape;
        const dx = tf.conv2d(g, tf.transpose(tf.reverse(ws, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D, 1, "same");
        const ph = (kh - 1) / 2;
        const pw = (kw - 1) / 2;
        const xp = tf.pad(xs, [
          [0, 0],
          [ph, ph],
          [pw, pw],
          [0, 0],
        ]);
        const g2 = tf.reshape(g, [n * h * wd, cout]) as tf.Tensor2D;
        const taps: tf.Tensor[] = [];
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const xs2 = tf.reshape(tf.slice(xp, [0, i, j, 0], [n, h, wd, cin]), [
              n * h * wd,
              cin,
            ]) as tf.Tensor2D;
            taps.push(tf.matMul(xs2, g2, true, false));
          }
        }
        const dw = tf.reshape(tf.stack(taps), [kh, kw, cin, cout]);
        return [dx, dw];
      },
    };
  });
  return f(x, w) as tf.Tensor4D;
}

export const ops2d: SpatialOps = {
  conv: (x, w, b) =>
    tf.tidy(() => {
      const y = conv2dSame(x as tf.Tensor4D, w as tf.Tensor4D);
      return b ? tf.add(y, b) : y;
    }),
  convTranspose2: (x, w, b) =>
    tf.tidy(() => {
      // Every input pixel writes one 2×2 block: one matMul, then depth-to-space.
      const [n, a, c, cin] = x.shape as [number, number, number, number];
      const cout = w.shape[2] as number;
      const wm = tf.reshape(tf.transpose(w, [3, 0, 1, 2]), [cin, 4 * cout]);
      const y = tf.reshape(tf.matMul(tf.reshape(x, [n * a * c, cin]), wm), [n, a, c, 2, 2, cout]);
      const out = tf.reshape(tf.transpose(y, [0, 1, 3, 2, 4, 5]), [n, 2 * a, 2 * c, cout]);
      return b ? tf.add(out, b) : out;
    }),
  upsample2: (x) =>
    tf.tidy(() => {
      const [n, a, c, ch] = x.shape as [number, number, number, number];
      const t = tf.tile(tf.reshape(x, [n, a, 1, c, 1, ch]), [1, 1, 2, 1, 2, 1]);
      return tf.reshape(t, [n, 2 * a, 2 * c, ch]);
    }),
  maxPool2: (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, "valid"),
  // The kernel's fused BatchNorm + ReLU accepts any rank with channels last.
  batchNormRelu: (x, p, mode, relu) => batchNormRelu(x, p, mode, relu) as BatchNormResult,
};
