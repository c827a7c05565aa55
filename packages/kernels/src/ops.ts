import * as tf from "@tensorflow/tfjs-core";
// tfjs-core alone registers no gradients (the `@tensorflow/tfjs` union package does): training needs them.
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";
import {
  batchChunkThreshold,
  channelSum,
  concatLastAxis,
  customGrad,
  depthToSpace2,
  flipFilter,
  type GradFn,
  planeConv,
  planeConvFilterGrad,
  planeConvFilterGradSplitK,
  spaceToDepth2,
} from "./core.js";
import { holdForBackward, installLeanBackprop, releaseHeld } from "./lean-backprop.js";
import { webgpuAdapterSync } from "./webgpu.js";

/**
 * The spatial operations the Genesis networks are built from. Every tensor is channels-last:
 * NDHWC (N, rows, cols, deps, C) for 3-D — see `spec/reference-facts.md`, "Axis convention" — and
 * NHWC for the 2-D equivalents (Genesis 2D).
 *
 * Two implementations sit behind each op:
 * - `fast` (default on every backend but native TensorFlow): custom-gradient ops built only from
 *   kernels that are fast on wasm/XNNPACK — 3-D convolution as a sum over kernel depth of 2-D
 *   convolutions of depth-shifted plane stacks, its input gradient as the same convolution with
 *   the flipped filter, its filter gradient as plain matMuls of shifted slices; transposed
 *   convolution and up-sampling as one matMul/tile plus rank-4 depth-to-space transposes;
 *   BatchNorm(+ReLU) whose backward saves only its input and two per-channel vectors.
 * - `stock`: the tfjs ops (`tf.conv3d` …), used on the `tensorflow` (tfjs-node) backend whose
 *   native kernels are faster, and as the reference in tests.
 */

/**
 * tfjs's `Concat` gradient splits along the concat axis with `SplitV`, which on wasm takes ≈ 20 s
 * for a rank-5 (1, 32, 32, 32, 192) tensor; this replacement slices a rank-2 view instead
 * (≈ 0.1 s). Registered once, for every backend, when this module loads.
 */
tf.registerGradient({
  kernelName: "Concat",
  saveAllInputs: true,
  gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[], attrs: tf.NamedAttrMap) => {
    const g = dy as tf.Tensor;
    const rank = saved[0].rank;
    let axis = attrs.axis as number;
    if (axis < 0) axis += rank;
    const outer = g.shape.slice(0, axis).reduce((a, b) => a * b, 1);
    const inner = g.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
    const sizes = saved.map((t) => t.shape[axis] * inner);
    const total = sizes.reduce((a, b) => a + b, 0);
    const grads: Record<string, () => tf.Tensor> = {};
    let off = 0;
    saved.forEach((t, i) => {
      const start = off;
      off += sizes[i];
      grads[i] = () =>
        tf.reshape(tf.slice(tf.reshape(g, [outer, total]), [0, start], [outer, sizes[i]]), t.shape);
    });
    return grads;
  },
});

// Free activation gradients and saved tensors as soon as the reverse pass is done with them.
installLeanBackprop();

/**
 * Concatenation along the channel (last) axis, e.g. the U-Net decoder's `[up, skip]`: like
 * `tf.concat(xs, -1)`, but its gradient saves no activation (only channel counts) and slices a
 * rank-2 view (fast on wasm).
 * @param xs (N, …spatial, C_i), equal but for C_i
 * @returns (N, …spatial, ΣC_i)
 * @throws Error when the tensors differ in rank or in a non-channel axis.
 */
export function concatChannels(xs: tf.Tensor[]): tf.Tensor {
  if (xs.length === 0) throw new Error("concatChannels: no tensors given");
  const ref = xs[0].shape.slice(0, -1);
  for (const t of xs) {
    const s = t.shape.slice(0, -1);
    if (s.length !== ref.length || s.some((v, i) => v !== ref[i])) {
      throw new Error(
        `concatChannels: shapes [${xs[0].shape}] and [${t.shape}] differ outside the channel axis`,
      );
    }
  }
  return activeKernelImpl() === "stock" ? tf.concat(xs, -1) : concatLastAxis(xs);
}

/** Which implementation the ops use: `auto` = `stock` on the `tensorflow` backend, else `fast`. */
export type KernelImpl = "auto" | "fast" | "stock";

let implSetting: KernelImpl = "auto";

/** Chooses the implementation behind every op of this module (default `auto`). */
export function setKernelImpl(impl: KernelImpl): void {
  implSetting = impl;
}

/** The implementation the ops use now on the active backend: `fast` or `stock`. */
export function activeKernelImpl(): "fast" | "stock" {
  if (implSetting !== "auto") return implSetting;
  return tf.getBackend() === "tensorflow" ? "stock" : "fast";
}

function checkRank(op: string, name: string, t: tf.Tensor, rank: number): void {
  if (t.rank !== rank) throw new Error(`${op}: ${name} must have rank ${rank}, got shape [${t.shape}]`);
}

function checkConv(op: string, x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor | undefined, rank: number): void {
  checkRank(op, "x", x, rank);
  checkRank(op, "w", w, rank);
  const k = w.shape[0];
  for (let i = 0; i < rank - 2; i++) {
    if (w.shape[i] !== k || k % 2 !== 1) {
      throw new Error(`${op}: kernel must be cubic/square with odd size, got w shape [${w.shape}]`);
    }
  }
  if (w.shape[rank - 2] !== x.shape[rank - 1]) {
    throw new Error(`${op}: w expects ${w.shape[rank - 2]} input channels, x has ${x.shape[rank - 1]}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[rank - 1])) {
    throw new Error(`${op}: bias must be (${w.shape[rank - 1]}), got [${bias.shape}]`);
  }
}

/** {@link planeConvFilterGrad} summed over batch elements (rank-2 row slices; no copy when N = 1). */
function planeConvFilterGradChunked(x: tf.Tensor, dy: tf.Tensor, kd: number, k: number): tf.Tensor {
  const n = x.shape[0];
  if (n === 1 || k === 1 || x.size + dy.size < batchChunkThreshold())
    return planeConvFilterGrad(x, dy, kd, k);
  const x2 = tf.reshape(x, [n, x.size / n]);
  const dy2 = tf.reshape(dy, [n, dy.size / n]);
  let acc: tf.Tensor | null = null;
  for (let i = 0; i < n; i++) {
    const xs = tf.slice(x2, [i, 0], [1, x.size / n]);
    const dys = tf.slice(dy2, [i, 0], [1, dy.size / n]);
    const xi = tf.reshape(xs, [1, ...x.shape.slice(1)]);
    const dyi = tf.reshape(dys, [1, ...dy.shape.slice(1)]);
    const g = planeConvFilterGrad(xi, dyi, kd, k);
    tf.dispose([xs, dys, xi, dyi]);
    if (acc === null) acc = g;
    else {
      const sum: tf.Tensor = tf.add(acc, g);
      tf.dispose([acc, g]);
      acc = sum;
    }
  }
  tf.dispose([x2, dy2]);
  return acc as tf.Tensor;
}

/**
 * Which filter-gradient form the convolutions use: `split-k` (batched matMuls over voxel chunks,
 * {@link planeConvFilterGradSplitK}; the default on webgpu with a hardware adapter, where the plain
 * form's few output tiles leave most of a GPU idle) or `plain` (the CPU form; default elsewhere,
 * and on a software adapter such as lavapipe, which is a CPU). `GENESIS_FILTER_GRAD=plain` or
 * `split-k` overrides, so both can be timed on one adapter (`pnpm bench`) and tested on lavapipe.
 */
export function filterGradForm(): "plain" | "split-k" {
  const env = process.env.GENESIS_FILTER_GRAD;
  if (env === "plain" || env === "split-k") return env;
  if (tf.getBackend() !== "webgpu") return "plain";
  return webgpuAdapterSync()?.software ? "plain" : "split-k";
}

function convGradFuncs(x: tf.Tensor, w: tf.Tensor, dy: tf.Tensor): [tf.Tensor, tf.Tensor] {
  const k = w.shape[0];
  const kd = w.rank === 5 ? k : 1;
  // Filter gradient first, one batch element at a time, so that its shifted copies of x and dy
  // never coexist with dx: this bounds the peak of the largest decoder layer's backward.
  const dw =
    filterGradForm() === "split-k" && x.size + dy.size < batchChunkThreshold()
      ? planeConvFilterGradSplitK(x, dy, kd, k)
      : planeConvFilterGradChunked(x, dy, kd, k);
  const wf = flipFilter(w);
  const dx = planeConv(dy, wf);
  wf.dispose();
  return [dx, dw];
}

/**
 * Keeps `ts` for the backward of a custom op — shared views when possible (see
 * `holdForBackward`), else tfjs's `save` (a copy on wasm) — and returns the getter/releaser pair.
 */
function keepForBackward(ts: tf.Tensor[], save: tf.GradSaveFunc) {
  const views = holdForBackward(ts);
  if (!views) save(ts);
  return {
    get: (saved: tf.Tensor[]) => views ?? saved,
    done: () => {
      if (views) releaseHeld(views);
    },
  };
}

const fastConv = customGrad(((x: tf.Tensor, w: tf.Tensor, save: tf.GradSaveFunc) => {
  const kept = keepForBackward([x, w], save);
  return {
    value: planeConv(x, w),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = kept.get(saved);
      const g = convGradFuncs(sx, sw, dy);
      kept.done();
      return g;
    },
  };
}) as GradFn);

const fastConvBias = customGrad(((x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor, save: tf.GradSaveFunc) => {
  const kept = keepForBackward([x, w], save);
  return {
    value: planeConv(x, w, bias),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [sx, sw] = kept.get(saved);
      const g = [...convGradFuncs(sx, sw, dy), channelSum(dy)];
      kept.done();
      return g;
    },
  };
}) as GradFn);

/**
 * 3-D convolution, stride 1, "same" padding (PyTorch `Conv3d(padding=k//2)`, Keras `Conv3D(padding="same")`).
 * Trainable (input, filter and bias gradients) on every backend.
 * @param x (N, D0, D1, D2, Cin)
 * @param w (k, k, k, Cin, Cout), k odd (3 or 1)
 * @param bias optional (Cout)
 * @returns (N, D0, D1, D2, Cout)
 * @throws Error on a rank, channel-count or kernel-shape mismatch.
 */
export function conv3d(x: tf.Tensor5D, w: tf.Tensor5D, bias?: tf.Tensor1D): tf.Tensor5D {
  checkConv("conv3d", x, w, bias, 5);
  if (activeKernelImpl() === "stock") {
    return tf.tidy(() => {
      const y = tf.conv3d(x, w, 1, "same");
      return (bias ? tf.add(y, bias) : y) as tf.Tensor5D;
    });
  }
  return (bias ? fastConvBias(x, w, bias) : fastConv(x, w)) as tf.Tensor5D;
}

/**
 * 2-D convolution, stride 1, "same" padding — the Genesis 2D counterpart of {@link conv3d}, with a
 * filter gradient that does not need `Conv2DBackpropFilter` (missing on wasm).
 * @param x (N, H, W, Cin)
 * @param w (k, k, Cin, Cout), k odd
 * @param bias optional (Cout)
 * @returns (N, H, W, Cout)
 * @throws Error on a rank, channel-count or kernel-shape mismatch.
 */
export function conv2d(x: tf.Tensor4D, w: tf.Tensor4D, bias?: tf.Tensor1D): tf.Tensor4D {
  checkConv("conv2d", x, w, bias, 4);
  if (activeKernelImpl() === "stock") {
    return tf.tidy(() => {
      const y = tf.conv2d(x, w, 1, "same");
      return (bias ? tf.add(y, bias) : y) as tf.Tensor4D;
    });
  }
  return (bias ? fastConvBias(x, w, bias) : fastConv(x, w)) as tf.Tensor4D;
}

/** Transposed conv, kernel 2, stride 2, as one matMul + depth-to-space; gradients by matMuls of 2-D transposes. */
function fastConvTranspose2(x: tf.Tensor, w: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor {
  const spatial = x.shape.slice(1, x.rank - 1);
  const n = x.shape[0];
  const cin = x.shape[x.rank - 1];
  const cout = w.shape[w.rank - 2];
  const taps = 2 ** spatial.length;
  const m = x.size / cin;
  const forward = (xx: tf.Tensor, ww: tf.Tensor, bb?: tf.Tensor): tf.Tensor =>
    tf.tidy(() => {
      // w (2,2[,2],Cout,Cin) -> (Cin, taps*Cout), columns (i, j[, k], Cout)
      const wm = tf.transpose(tf.reshape(ww, [taps * cout, cin]));
      const y = tf.matMul(tf.reshape(xx, [m, cin]), wm);
      const out = depthToSpace2(y, spatial, n, cout);
      return bb ? tf.add(out, bb) : out;
    });
  const backward = (dy: tf.Tensor, sx: tf.Tensor, sw: tf.Tensor): tf.Tensor[] =>
    tf.tidy(() => {
      const dyc = spaceToDepth2(dy, spatial, n, cout); // (M, taps*Cout)
      const dx = tf.reshape(tf.matMul(dyc, tf.reshape(sw, [taps * cout, cin])), sx.shape);
      // dW^T = dyc^T X with an explicit 2-D transpose (matMul transposeA is slow on wasm)
      const dw = tf.reshape(tf.matMul(tf.transpose(dyc), tf.reshape(sx, [m, cin])), sw.shape);
      return [dx, dw];
    });
  if (bias) {
    const run = customGrad(((xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor, save: tf.GradSaveFunc) => {
      save([xx, ww]);
      return {
        value: forward(xx, ww, bb),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => [
          ...backward(dy, saved[0], saved[1]),
          channelSum(dy),
        ],
      };
    }) as GradFn);
    return run(x, w, bias);
  }
  const run = customGrad(((xx: tf.Tensor, ww: tf.Tensor, save: tf.GradSaveFunc) => {
    save([xx, ww]);
    return {
      value: forward(xx, ww),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => backward(dy, saved[0], saved[1]),
    };
  }) as GradFn);
  return run(x, w);
}

function checkTranspose(
  op: string,
  x: tf.Tensor,
  w: tf.Tensor,
  bias: tf.Tensor | undefined,
  rank: number,
): void {
  checkRank(op, "x", x, rank);
  checkRank(op, "w", w, rank);
  for (let i = 0; i < rank - 2; i++) {
    if (w.shape[i] !== 2)
      throw new Error(`${op}: kernel must be 2 in every spatial axis, got w shape [${w.shape}]`);
  }
  if (w.shape[rank - 1] !== x.shape[rank - 1]) {
    throw new Error(`${op}: w expects ${w.shape[rank - 1]} input channels, x has ${x.shape[rank - 1]}`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[rank - 2])) {
    throw new Error(`${op}: bias must be (${w.shape[rank - 2]}), got [${bias.shape}]`);
  }
}

/**
 * Transposed 3-D convolution with kernel 2 and stride 2 (PyTorch `ConvTranspose3d(k=2, s=2)`):
 * every input voxel writes one 2×2×2 output block, so it is one matMul followed by a
 * depth-to-space rearrangement (two rank-4 transposes). Trainable on every backend (tfjs has no
 * gradient for `Conv3DBackpropInputV2`, so `tf.conv3dTranspose` is not).
 * @param x (N, A, B, C, Cin)
 * @param w (2, 2, 2, Cout, Cin) — tfjs `conv3dTranspose` filter layout; PyTorch weight
 *   (Cin, Cout, 2, 2, 2) maps here by transpose (2, 3, 4, 1, 0)
 * @param bias optional (Cout)
 * @returns (N, 2A, 2B, 2C, Cout)
 * @throws Error on a rank, channel-count or kernel-shape mismatch.
 */
export function convTranspose3dStride2(x: tf.Tensor5D, w: tf.Tensor5D, bias?: tf.Tensor1D): tf.Tensor5D {
  checkTranspose("convTranspose3dStride2", x, w, bias, 5);
  return fastConvTranspose2(x, w, bias) as tf.Tensor5D;
}

/**
 * Transposed 2-D convolution, kernel 2, stride 2 — the 2-D counterpart of {@link convTranspose3dStride2}.
 * @param x (N, A, B, Cin)
 * @param w (2, 2, Cout, Cin)
 * @param bias optional (Cout)
 * @returns (N, 2A, 2B, Cout)
 */
export function convTranspose2dStride2(x: tf.Tensor4D, w: tf.Tensor4D, bias?: tf.Tensor1D): tf.Tensor4D {
  checkTranspose("convTranspose2dStride2", x, w, bias, 4);
  return fastConvTranspose2(x, w, bias) as tf.Tensor4D;
}

function fastUpsample2(x: tf.Tensor): tf.Tensor {
  const spatial = x.shape.slice(1, x.rank - 1);
  const n = x.shape[0];
  const ch = x.shape[x.rank - 1];
  const taps = 2 ** spatial.length;
  const m = x.size / ch;
  const run = customGrad(((xx: tf.Tensor) => ({
    value: tf.tidy(() => depthToSpace2(tf.tile(tf.reshape(xx, [m, 1, ch]), [1, taps, 1]), spatial, n, ch)),
    gradFunc: (dy: tf.Tensor) =>
      tf.tidy(() =>
        tf.reshape(tf.sum(tf.reshape(spaceToDepth2(dy, spatial, n, ch), [m, taps, ch]), 1), x.shape),
      ),
  })) as GradFn);
  return run(x);
}

/**
 * Nearest-neighbour ×2 up-sampling along the three spatial axes (Keras `UpSampling3D(2)`);
 * its gradient sums each 2×2×2 block.
 * @param x (N, A, B, C, Ch)
 * @returns (N, 2A, 2B, 2C, Ch)
 */
export function upsampleNearest3d(x: tf.Tensor5D): tf.Tensor5D {
  checkRank("upsampleNearest3d", "x", x, 5);
  return fastUpsample2(x) as tf.Tensor5D;
}

/**
 * Nearest-neighbour ×2 up-sampling of rows and columns (Keras `UpSampling2D(2)`).
 * @param x (N, A, B, Ch)
 * @returns (N, 2A, 2B, Ch)
 */
export function upsampleNearest2d(x: tf.Tensor4D): tf.Tensor4D {
  checkRank("upsampleNearest2d", "x", x, 4);
  return fastUpsample2(x) as tf.Tensor4D;
}

/**
 * 2×2×2 max pooling with stride 2 (PyTorch `MaxPool3d(2)`, Keras `MaxPooling3D(2)`); the tfjs
 * `MaxPool3D` kernel and its gradient (both present and fast enough on wasm and cpu).
 * @param x (N, A, B, C, Ch) with A, B, C even
 * @returns (N, A/2, B/2, C/2, Ch)
 */
export function maxPool3d(x: tf.Tensor5D): tf.Tensor5D {
  checkRank("maxPool3d", "x", x, 5);
  return tf.maxPool3d(x, 2, 2, "valid");
}

/**
 * 2×2 max pooling with stride 2 (Keras `MaxPooling2D(2)`).
 * @param x (N, A, B, Ch) with A, B even
 * @returns (N, A/2, B/2, Ch)
 */
export function maxPool2d(x: tf.Tensor4D): tf.Tensor4D {
  checkRank("maxPool2d", "x", x, 4);
  return tf.maxPool(x, 2, 2, "valid");
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
export interface BatchNormResult<T extends tf.Tensor = tf.Tensor5D> {
  y: T;
  /** The batch mean per channel (Ch) in `batch-statistics` mode, for running-average updates; else undefined. */
  batchMean?: tf.Tensor1D;
  /** The biased batch variance per channel (Ch) in `batch-statistics` mode; else undefined. */
  batchVariance?: tf.Tensor1D;
}

/**
 * BatchNorm over every axis but the last (channels), optionally followed by ReLU — fused, with a
 * custom gradient that saves only its input x and two per-channel vectors (mean, 1/σ), so a
 * conv + BN + ReLU block keeps two activations for backward instead of the five or six of
 * element-wise stock ops.
 *
 * `batch-statistics`: normalises with the batch mean and biased batch variance (PyTorch training and
 * the reference `ContBatchNorm3d` always, `pytorch/unet3d.py`; Keras training); gradients flow
 * through the statistics. `running-statistics`: normalises with `movingMean`/`movingVariance`
 * (Keras inference); the statistics are constants.
 *
 * @param x (N, D0, D1, D2, Ch) — or any rank ≥ 2 with channels last (NHWC for Genesis 2D)
 * @returns y like x; in `batch-statistics` mode also `batchMean` and `batchVariance` (Ch), not
 *   differentiable, for the running-average update (the caller disposes them).
 * @throws Error when `running-statistics` is asked for without running mean/variance, or a
 *   parameter is not (Ch).
 */
export function batchNormRelu<T extends tf.Tensor = tf.Tensor5D>(
  x: T,
  p: BatchNormParams,
  mode: BatchNormMode,
  relu: boolean,
): BatchNormResult<T> {
  const ch = x.shape[x.rank - 1];
  for (const [name, t] of [
    ["gamma", p.gamma],
    ["beta", p.beta],
    ["movingMean", p.movingMean],
    ["movingVariance", p.movingVariance],
  ] as const) {
    if (t && (t.rank !== 1 || t.shape[0] !== ch)) {
      throw new Error(`batchNormRelu: ${name} must be (${ch}) for x of shape [${x.shape}], got [${t.shape}]`);
    }
  }
  if (mode === "running-statistics" && (!p.movingMean || !p.movingVariance)) {
    throw new Error("batchNormRelu: running-statistics mode needs movingMean and movingVariance");
  }
  const m = x.size / ch;
  let batchMean: tf.Tensor1D | undefined;
  let batchVariance: tf.Tensor1D | undefined;
  const run = customGrad(((xx: tf.Tensor, gamma: tf.Tensor, beta: tf.Tensor, save: tf.GradSaveFunc) => {
    const x2 = tf.reshape(xx, [m, ch]);
    let mean: tf.Tensor;
    let variance: tf.Tensor;
    if (mode === "batch-statistics") {
      mean = tf.div(tf.sum(x2, 0), m);
      const xc = tf.sub(x2, mean);
      variance = tf.div(tf.sum(tf.square(xc), 0), m);
      xc.dispose();
      batchMean = tf.keep(mean) as tf.Tensor1D;
      batchVariance = tf.keep(variance) as tf.Tensor1D;
    } else {
      mean = p.movingMean as tf.Tensor;
      variance = p.movingVariance as tf.Tensor;
    }
    const invStd = tf.rsqrt(tf.add(variance, p.eps));
    const scale = tf.mul(gamma, invStd);
    const shift = tf.sub(beta, tf.mul(mean, scale));
    const z = tf.add(tf.mul(x2, scale), shift);
    const y = relu ? tf.relu(z) : z;
    const kept = keepForBackward([xx, mean, invStd, gamma, beta], save);
    return {
      value: tf.reshape(y, xx.shape),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) =>
        tf.tidy(() => {
          const [sx, sMean, sInvStd, sGamma, sBeta] = kept.get(saved);
          const xhat = tf.mul(tf.sub(tf.reshape(sx, [m, ch]), sMean), sInvStd);
          let g = tf.reshape(dy, [m, ch]);
          if (relu) g = tf.mul(g, tf.step(tf.add(tf.mul(xhat, sGamma), sBeta)));
          const dBeta = tf.sum(g, 0);
          const dGamma = tf.sum(tf.mul(g, xhat), 0);
          let dx: tf.Tensor;
          if (mode === "batch-statistics") {
            // dx = γ/σ · (g − mean(g) − x̂ · mean(g·x̂))
            const inner = tf.sub(tf.sub(g, tf.div(dBeta, m)), tf.mul(xhat, tf.div(dGamma, m)));
            dx = tf.mul(inner, tf.mul(sGamma, sInvStd));
          } else {
            dx = tf.mul(g, tf.mul(sGamma, sInvStd));
          }
          const out = [tf.reshape(dx, sx.shape), dGamma, dBeta];
          kept.done();
          return out;
        }),
    };
  }) as GradFn);
  const y = run(x, p.gamma, p.beta) as T;
  return mode === "batch-statistics" ? { y, batchMean, batchVariance } : { y };
}
