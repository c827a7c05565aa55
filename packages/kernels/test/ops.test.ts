import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BatchNormMode,
  batchNormRelu,
  conv2d,
  conv3d,
  convTranspose2dStride2,
  convTranspose3dStride2,
  initBackend,
  maxPool2d,
  maxPool3d,
  setBatchChunkThreshold,
  setKernelImpl,
  upsampleNearest2d,
  upsampleNearest3d,
} from "../src/index.js";

/** Deterministic pseudo-random tensor in [-1, 1). */
function rand(shape: number[], seed: number): tf.Tensor {
  return tf.randomUniform(shape, -1, 1, "float32", seed);
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

function maxAbs(a: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
}

/**
 * Checks the gradient of L(inputs) = Σ f(inputs) · r against central finite differences along a
 * random direction v for every input: (L(θ + εv) − L(θ − εv)) / 2ε ≈ ⟨∇L, v⟩.
 */
function checkNumericalGradient(
  f: (...xs: tf.Tensor[]) => tf.Tensor,
  inputs: tf.Tensor[],
  eps: number,
  relTol: number,
): void {
  tf.tidy(() => {
    const out = f(...inputs);
    const r = rand(out.shape, 99);
    const loss = (...xs: tf.Tensor[]) => tf.sum(tf.mul(f(...xs), r)) as tf.Scalar;
    const grads = tf.grads(loss)(inputs);
    inputs.forEach((x, i) => {
      const v = rand(x.shape, 7 + i);
      const plus = inputs.map((t, j) => (j === i ? tf.add(t, tf.mul(v, eps)) : t));
      const minus = inputs.map((t, j) => (j === i ? tf.sub(t, tf.mul(v, eps)) : t));
      const numeric = (loss(...plus).dataSync()[0] - loss(...minus).dataSync()[0]) / (2 * eps);
      const analytic = tf.sum(tf.mul(grads[i], v)).dataSync()[0];
      expect(
        Math.abs(numeric - analytic),
        `input ${i}: numeric ${numeric} analytic ${analytic}`,
      ).toBeLessThanOrEqual(relTol * Math.max(1, Math.abs(analytic)));
    });
  });
}

/** Runs `fn` on the cpu backend with copies of `inputs`; returns the outputs' values and shapes. */
function onCpu(
  inputs: tf.Tensor[],
  fn: (...xs: tf.Tensor[]) => tf.Tensor[],
): { data: Float32Array; shape: number[] }[] {
  const vals = inputs.map((t) => ({ data: t.dataSync() as Float32Array, shape: t.shape }));
  const backend = tf.getBackend();
  tf.setBackend("cpu");
  try {
    return tf.tidy(() =>
      fn(...vals.map((v) => tf.tensor(v.data, v.shape))).map((t) => ({
        data: t.dataSync() as Float32Array,
        shape: t.shape,
      })),
    );
  } finally {
    tf.setBackend(backend);
  }
}

/**
 * Forward values and gradients of Σ f · r with our ops (active backend) and with stock tfjs ops
 * (through `setKernelImpl("stock")`) on the cpu backend — the reference, because wasm's stock
 * `Conv3DBackpropInputV2` gives wrong values in tfjs 4.22 (see the wasm run of this suite's
 * conv tests before this was moved to cpu).
 */
function compareGradsWithStock(f: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], tol: number): void {
  const r = tf.tidy(() => rand(f(...inputs).shape, 5));
  const run = (...xs: tf.Tensor[]) => {
    const rr = tf.tensor(r.dataSync(), r.shape);
    const loss = (...ys: tf.Tensor[]) => tf.sum(tf.mul(f(...ys), rr)) as tf.Scalar;
    return [f(...xs), ...tf.grads(loss)(xs)];
  };
  setKernelImpl("stock");
  const stock = onCpu(inputs, run);
  setKernelImpl("fast");
  tf.tidy(() => {
    const ours = run(...inputs);
    setKernelImpl("auto");
    ours.forEach((g, i) => {
      const ref = tf.tensor(stock[i].data, stock[i].shape);
      expect(g.shape).toEqual(ref.shape);
      expect(maxAbsDiff(g, ref), `output ${i}`).toBeLessThanOrEqual(tol * Math.max(1, maxAbs(ref)));
    });
  });
  setKernelImpl("auto");
  r.dispose();
}

describe.each(["cpu", "wasm"])("ops on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, log: () => {} });
  });
  afterAll(() => setKernelImpl("auto"));

  it.each([
    [3, 1],
    [3, 2],
    [1, 2],
  ])("conv3d k=%i batch %i matches stock tfjs forward and gradients", (k, n) => {
    const x = rand([n, 4, 5, 3, 3], 1);
    const w = rand([k, k, k, 3, 4], 2);
    const b = rand([4], 3);
    compareGradsWithStock(
      (xx, ww, bb) => conv3d(xx as tf.Tensor5D, ww as tf.Tensor5D, bb as tf.Tensor1D),
      [x, w, b],
      1e-4,
    );
    compareGradsWithStock((xx, ww) => conv3d(xx as tf.Tensor5D, ww as tf.Tensor5D), [x, w], 1e-4);
    tf.dispose([x, w, b]);
  });

  it("conv3d and conv2d give the same values and gradients one batch element at a time", () => {
    const cases: [tf.Tensor, tf.Tensor, tf.Tensor, (...t: tf.Tensor[]) => tf.Tensor][] = [
      [
        rand([3, 4, 3, 2, 2], 91),
        rand([3, 3, 3, 2, 3], 92),
        rand([3], 93),
        (a, b, c) => conv3d(a as tf.Tensor5D, b as tf.Tensor5D, c as tf.Tensor1D),
      ],
      [
        rand([2, 4, 3, 2], 94),
        rand([3, 3, 2, 3], 95),
        rand([3], 96),
        (a, b, c) => conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c as tf.Tensor1D),
      ],
    ];
    setKernelImpl("fast");
    for (const [x, w, b, f] of cases) {
      const run = () =>
        tf.tidy(() => {
          const r = rand(f(x, w, b).shape, 97);
          const g = tf.grads((p: tf.Tensor, q: tf.Tensor, s: tf.Tensor) => tf.sum(tf.mul(f(p, q, s), r)))([
            x,
            w,
            b,
          ]);
          return [f(x, w, b), ...g];
        });
      const whole = run();
      setBatchChunkThreshold(0);
      const chunked = run();
      setBatchChunkThreshold(null);
      whole.forEach((t, i) => {
        expect(maxAbsDiff(t, chunked[i]), `output ${i}`).toBeLessThan(1e-5);
      });
      tf.dispose([x, w, b, ...whole, ...chunked]);
    }
    setKernelImpl("auto");
  });

  it("conv3d gradients match finite differences", () => {
    const x = rand([1, 3, 4, 3, 2], 11);
    const w = rand([3, 3, 3, 2, 3], 12);
    const b = rand([3], 13);
    setKernelImpl("fast");
    checkNumericalGradient(
      (xx, ww, bb) => conv3d(xx as tf.Tensor5D, ww as tf.Tensor5D, bb as tf.Tensor1D),
      [x, w, b],
      1e-2,
      2e-3,
    );
    setKernelImpl("auto");
    tf.dispose([x, w, b]);
  });

  it("conv3d known answer: a centred one-hot 3×3×3 filter copies the input", () => {
    const x = rand([1, 3, 3, 3, 1], 21);
    const w = tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(13, 27), "float32"), [3, 3, 3, 1, 1]));
    const y = conv3d(x as tf.Tensor5D, w as tf.Tensor5D);
    expect(maxAbsDiff(y, x)).toBe(0);
    // the corner tap (0,0,0) shifts by one voxel along every axis: y[i,j,k] = x[i-1,j-1,k-1]
    const w0 = tf.tidy(() => tf.reshape(tf.cast(tf.oneHot(0, 27), "float32"), [3, 3, 3, 1, 1]));
    const y0 = conv3d(x as tf.Tensor5D, w0 as tf.Tensor5D);
    const xd = x.dataSync();
    const yd = y0.dataSync();
    expect(yd[0]).toBe(0);
    expect(yd[(1 * 3 + 1) * 3 + 1]).toBe(xd[0]);
    expect(yd[(2 * 3 + 2) * 3 + 2]).toBe(xd[(1 * 3 + 1) * 3 + 1]);
    tf.dispose([x, w, y, w0, y0]);
  });

  it("conv2d matches finite differences and the stock forward", () => {
    const x = rand([2, 5, 4, 3], 31);
    const w = rand([3, 3, 3, 2], 32);
    const b = rand([2], 33);
    setKernelImpl("fast");
    const ours = conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D);
    const stock = tf.add(tf.conv2d(x as tf.Tensor4D, w as tf.Tensor4D, 1, "same"), b);
    expect(maxAbsDiff(ours, stock)).toBeLessThan(1e-5);
    checkNumericalGradient(
      (xx, ww, bb) => conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, bb as tf.Tensor1D),
      [x, w, b],
      1e-2,
      2e-3,
    );
    setKernelImpl("auto");
    tf.dispose([x, w, b, ours, stock]);
  });

  it("convTranspose3dStride2 matches tf.conv3dTranspose and finite differences", () => {
    const x = rand([2, 2, 3, 2, 3], 41);
    const w = rand([2, 2, 2, 4, 3], 42);
    const b = rand([4], 43);
    const ours = convTranspose3dStride2(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D);
    // reference on cpu: wasm's Conv3DBackpropInputV2 (behind tf.conv3dTranspose) is wrong in tfjs 4.22
    const [ref] = onCpu([x, w, b], (xx, ww, bb) => [
      tf.add(tf.conv3dTranspose(xx as tf.Tensor5D, ww as tf.Tensor5D, [2, 4, 6, 4, 4], 2, "same"), bb),
    ]);
    const stock = tf.tensor(ref.data, ref.shape);
    expect(ours.shape).toEqual([2, 4, 6, 4, 4]);
    expect(maxAbsDiff(ours, stock)).toBeLessThan(1e-5);
    checkNumericalGradient(
      (xx, ww, bb) => convTranspose3dStride2(xx as tf.Tensor5D, ww as tf.Tensor5D, bb as tf.Tensor1D),
      [x, w, b],
      1e-2,
      2e-3,
    );
    tf.dispose([x, w, b, ours, stock]);
  });

  it("convTranspose2dStride2 matches tf.conv2dTranspose and finite differences", () => {
    const x = rand([2, 3, 2, 3], 51);
    const w = rand([2, 2, 2, 3], 52);
    const ours = convTranspose2dStride2(x as tf.Tensor4D, w as tf.Tensor4D);
    const stock = tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 6, 4, 2], 2, "same");
    expect(maxAbsDiff(ours, stock)).toBeLessThan(1e-5);
    checkNumericalGradient(
      (xx, ww) => convTranspose2dStride2(xx as tf.Tensor4D, ww as tf.Tensor4D),
      [x, w],
      1e-2,
      2e-3,
    );
    tf.dispose([x, w, ours, stock]);
  });

  it("upsampleNearest3d/2d copy each voxel into a 2×2(×2) block; gradient sums blocks", () => {
    const x = tf.tensor5d([1, 2, 3, 4, 5, 6, 7, 8], [1, 2, 2, 1, 2]);
    const y = upsampleNearest3d(x as tf.Tensor5D);
    expect(y.shape).toEqual([1, 4, 4, 2, 2]);
    const yd = y.arraySync() as number[][][][][];
    expect(yd[0][3][1][1]).toEqual([5, 6]); // (3,1,1) comes from (1,0,0)
    expect(yd[0][2][3][0]).toEqual([7, 8]); // (2,3,0) comes from (1,1,0)
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(upsampleNearest3d(t as tf.Tensor5D), y)))(x);
    // d/dx Σ up(x)·up(x0) = 8·x0
    expect(Array.from(g.dataSync())).toEqual([8, 16, 24, 32, 40, 48, 56, 64]);
    const x2 = rand([2, 2, 3, 2], 61);
    const y2 = upsampleNearest2d(x2 as tf.Tensor4D);
    const ref = tf.tidy(() =>
      tf.reshape(tf.tile(tf.reshape(x2, [2, 2, 1, 3, 1, 2]), [1, 1, 2, 1, 2, 1]), [2, 4, 6, 2]),
    );
    expect(maxAbsDiff(y2, ref)).toBe(0);
    checkNumericalGradient((t) => upsampleNearest2d(t as tf.Tensor4D), [x2], 1e-2, 1e-3);
    tf.dispose([x, y, g, x2, y2, ref]);
  });

  it("maxPool3d/2d take block maxima and route the gradient to them", () => {
    const x = tf.tensor5d([1, 9, 3, 4, 5, 6, 7, 8, -1, -2, -3, -4, -5, -6, -7, 0], [1, 2, 2, 2, 2]);
    const y = maxPool3d(x as tf.Tensor5D);
    expect(Array.from(y.dataSync())).toEqual([7, 9]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(maxPool3d(t as tf.Tensor5D)))(x);
    expect(Array.from(g.dataSync())).toEqual([0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const y2 = maxPool2d(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]));
    expect(Array.from(y2.dataSync())).toEqual([4]);
    tf.dispose([x, y, g, y2]);
  });

  describe.each(["batch-statistics", "running-statistics"] as BatchNormMode[])("batchNormRelu %s", (mode) => {
    const params = () => ({
      gamma: tf.tensor1d([1.5, 0.5, -0.7]),
      beta: tf.tensor1d([0.1, -0.2, 0.3]),
      movingMean: tf.tensor1d([0.05, -0.1, 0.2]),
      movingVariance: tf.tensor1d([0.3, 0.6, 0.9]),
      eps: 1e-5,
    });

    it.each([true, false])("relu=%s matches stock tfjs forward, statistics and gradients", (relu) => {
      const x = rand([2, 3, 2, 4, 3], 71);
      const p = params();
      const { y, batchMean, batchVariance } = batchNormRelu(x as tf.Tensor5D, p, mode, relu);
      const ref = tf.tidy(() => {
        const { mean, variance } = tf.moments(x, [0, 1, 2, 3]);
        const m = mode === "batch-statistics" ? mean : p.movingMean;
        const v = mode === "batch-statistics" ? variance : p.movingVariance;
        const z = tf.add(tf.mul(tf.div(tf.sub(x, m), tf.sqrt(tf.add(v, p.eps))), p.gamma), p.beta);
        return { y: relu ? tf.relu(z) : z, mean, variance };
      });
      expect(maxAbsDiff(y, ref.y)).toBeLessThan(1e-5);
      if (mode === "batch-statistics") {
        expect(maxAbsDiff(batchMean as tf.Tensor, ref.mean)).toBeLessThan(1e-6);
        expect(maxAbsDiff(batchVariance as tf.Tensor, ref.variance)).toBeLessThan(1e-6);
      } else {
        expect(batchMean).toBeUndefined();
      }
      // gradients w.r.t. x, gamma, beta against the stock composition
      const f = (fast: boolean) => (xx: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => {
        const pp = { ...p, gamma: g as tf.Tensor1D, beta: b as tf.Tensor1D };
        if (fast) return batchNormRelu(xx as tf.Tensor5D, pp, mode, relu).y;
        const { mean, variance } = tf.moments(xx, [0, 1, 2, 3]);
        const m = mode === "batch-statistics" ? mean : p.movingMean;
        const v = mode === "batch-statistics" ? variance : p.movingVariance;
        // element-wise reference (tfjs's batchNorm gradient fails on rank 5)
        const z = tf.add(tf.mul(tf.div(tf.sub(xx, m), tf.sqrt(tf.add(v, p.eps))), g), b);
        return relu ? tf.relu(z) : z;
      };
      tf.tidy(() => {
        const r = rand(x.shape, 72);
        const ours = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(f(true)(a, b, c), r)),
        )([x, p.gamma, p.beta]);
        const stock = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.sum(tf.mul(f(false)(a, b, c), r)),
        )([x, p.gamma, p.beta]);
        ours.forEach((g, i) => {
          expect(maxAbsDiff(g, stock[i]), `gradient ${i}`).toBeLessThan(2e-4 * Math.max(1, maxAbs(stock[i])));
        });
      });
      // and against finite differences (without ReLU: its kink breaks central differences)
      if (!relu) checkNumericalGradient(f(true), [x, p.gamma, p.beta], 1e-2, 5e-3);
      tf.dispose([x, y, p.gamma, p.beta, p.movingMean, p.movingVariance, ref.y, ref.mean, ref.variance]);
      tf.dispose([batchMean, batchVariance].filter((t): t is tf.Tensor1D => t !== undefined));
    });
  });

  it("batchNormRelu works on NHWC (Genesis 2D) and rejects bad parameters", () => {
    const x = rand([2, 3, 4, 2], 81);
    const p = { gamma: tf.ones([2]) as tf.Tensor1D, beta: tf.zeros([2]) as tf.Tensor1D, eps: 1e-5 };
    const { y, batchMean, batchVariance } = batchNormRelu(x as tf.Tensor4D, p, "batch-statistics", false);
    // normalised output: per-channel mean 0 and biased variance 1 (up to eps)
    const { mean, variance } = tf.moments(y, [0, 1, 2]);
    expect(maxAbs(mean)).toBeLessThan(1e-5);
    expect(maxAbsDiff(variance, tf.onesLike(variance))).toBeLessThan(1e-3);
    expect(() => batchNormRelu(x as tf.Tensor4D, p, "running-statistics", true)).toThrow(/movingMean/);
    expect(() =>
      batchNormRelu(x as tf.Tensor4D, { ...p, gamma: tf.ones([3]) as tf.Tensor1D }, "batch-statistics", true),
    ).toThrow(/gamma must be \(2\)/);
    tf.dispose([x, y, batchMean as tf.Tensor, batchVariance as tf.Tensor, mean, variance, p.gamma, p.beta]);
  });

  it("rejects mismatched shapes with a named error", () => {
    const x = tf.zeros([1, 2, 2, 2, 3]) as tf.Tensor5D;
    expect(() => conv3d(x, tf.zeros([3, 3, 3, 4, 2]) as tf.Tensor5D)).toThrow(
      /w expects 4 input channels, x has 3/,
    );
    expect(() => conv3d(x, tf.zeros([2, 2, 2, 3, 2]) as tf.Tensor5D)).toThrow(/odd size/);
    expect(() => convTranspose3dStride2(x, tf.zeros([2, 2, 2, 4, 2]) as tf.Tensor5D)).toThrow(
      /input channels/,
    );
    tf.disposeVariables();
  });
});
