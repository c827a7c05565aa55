/**
 * The Genesis ops on the webgpu backend (Dawn in Node; in CI the Mesa lavapipe software adapter):
 * forward values and every gradient against stock tfjs on the cpu backend, central finite
 * differences on webgpu itself, the buffer-limit batch chunking, and flat memory (tensor count and
 * GPU bytes) over 10 training steps. Reads are asynchronous: webgpu has no synchronous read in Node.
 */
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type BatchNormMode,
  batchChunkThreshold,
  batchNormRelu,
  concatChannels,
  conv2d,
  conv3d,
  convTranspose2dStride2,
  convTranspose3dStride2,
  filterGradForm,
  initBackend,
  maxPool2d,
  maxPool3d,
  setBatchChunkThreshold,
  setKernelImpl,
  upsampleNearest2d,
  upsampleNearest3d,
  webgpuAdapterSync,
  webgpuSkipReason,
} from "../src/index.js";

const skip = await webgpuSkipReason();

type Arr = { data: Float32Array; shape: number[] };

/** Deterministic values in [-1, 1) without a backend (same on every backend). */
function randArr(shape: number[], seed: number): Arr {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed * 2654435761;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s ^ (s >>> 15), 2246822507) + 0x9e3779b9) | 0;
    data[i] = ((s >>> 0) / 2 ** 32) * 2 - 1;
  }
  return { data, shape };
}

type Op = (...xs: tf.Tensor[]) => tf.Tensor;

/** Value and gradients of Σ op(inputs)·r (r fixed) on `backend` with `impl`, read back as arrays. */
async function valueAndGrads(
  backend: string,
  impl: "fast" | "stock",
  op: Op,
  inputs: Arr[],
  r: Arr,
): Promise<Arr[]> {
  await tf.setBackend(backend);
  setKernelImpl(impl);
  const before = tf.memory().numTensors;
  const ts = inputs.map((a) => tf.tensor(a.data, a.shape));
  const rt = tf.tensor(r.data, r.shape);
  const outs = tf.tidy(() => {
    const y = op(...ts);
    const g = tf.grads((...xs: tf.Tensor[]) => tf.sum(tf.mul(op(...xs), rt)))(ts);
    return [y, ...g];
  });
  const res = await Promise.all(
    outs.map(async (t) => ({ data: (await t.data()) as Float32Array, shape: t.shape })),
  );
  tf.dispose([...outs, ...ts, rt]);
  expect(tf.memory().numTensors).toBe(before);
  setKernelImpl("auto");
  return res;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

/** Ours on webgpu against stock tfjs on cpu: forward and every input gradient within tol (relative to max |ref|). */
async function compareWithCpu(op: Op, inputs: Arr[], outShape: number[], tol = 1e-4): Promise<void> {
  const r = randArr(outShape, 77);
  const ref = await valueAndGrads("cpu", "stock", op, inputs, r);
  const ours = await valueAndGrads("webgpu", "fast", op, inputs, r);
  expect(ours.length).toBe(ref.length);
  ours.forEach((o, i) => {
    expect(o.shape, `output ${i} shape`).toEqual(ref[i].shape);
    expect(maxAbsDiff(o.data, ref[i].data), `output ${i}`).toBeLessThanOrEqual(
      tol * Math.max(1, maxAbs(ref[i].data)),
    );
  });
}

describe.skipIf(skip !== null)("ops on webgpu", () => {
  beforeAll(async () => {
    await initBackend({ backend: "cpu", log: () => {} });
    await initBackend({ backend: "webgpu", log: () => {} });
  });
  afterAll(() => setKernelImpl("auto"));

  it("runs on the webgpu backend and sizes chunks by the storage binding limit", async () => {
    await tf.setBackend("webgpu");
    expect(tf.getBackend()).toBe("webgpu");
    // default on webgpu: maxStorageBufferBindingSize / 4 floats (≥ 128 MiB on every adapter)
    expect(batchChunkThreshold()).toBeGreaterThanOrEqual(2 ** 25);
    // the filter-gradient form: split-k on a hardware GPU, plain on a software adapter (a CPU)
    const adapter = webgpuAdapterSync();
    expect(filterGradForm()).toBe(adapter?.software ? "plain" : "split-k");
    process.env.GENESIS_FILTER_GRAD = "split-k";
    expect(filterGradForm()).toBe("split-k");
    delete process.env.GENESIS_FILTER_GRAD;
    await tf.setBackend("cpu");
    expect(batchChunkThreshold()).toBe(2 ** 23);
    expect(filterGradForm()).toBe("plain");
  });

  it.each([
    [3, 2, true],
    [3, 1, false],
    [1, 2, true],
  ])("conv3d k=%i batch %i (bias %s): values and gradients match cpu", async (k, n, bias) => {
    const ins = [randArr([n, 4, 5, 3, 3], 1), randArr([k, k, k, 3, 4], 2), randArr([4], 3)];
    const op: Op = (x, w, b) =>
      conv3d(x as tf.Tensor5D, w as tf.Tensor5D, bias ? (b as tf.Tensor1D) : undefined);
    await compareWithCpu(bias ? op : (x, w) => op(x, w), bias ? ins : ins.slice(0, 2), [n, 4, 5, 3, 4]);
  });

  it("conv3d filter gradient split over voxel chunks (M = 2048: 8 chunks) matches cpu", async () => {
    // the default on a hardware GPU; forced here (a software adapter defaults to the plain form)
    process.env.GENESIS_FILTER_GRAD = "split-k";
    const ins = [randArr([2, 8, 8, 16, 2], 101), randArr([3, 3, 3, 2, 3], 102)];
    await compareWithCpu((x, w) => conv3d(x as tf.Tensor5D, w as tf.Tensor5D), ins, [2, 8, 8, 16, 3]);
    const ins2 = [randArr([4, 16, 16, 3], 103), randArr([3, 3, 3, 2], 104)];
    await compareWithCpu((x, w) => conv2d(x as tf.Tensor4D, w as tf.Tensor4D), ins2, [4, 16, 16, 2]);
    delete process.env.GENESIS_FILTER_GRAD;
  });

  it("conv3d one batch element at a time (buffer-limit chunking) gives the same values and gradients", async () => {
    const ins = [randArr([3, 4, 3, 2, 2], 91), randArr([3, 3, 3, 2, 3], 92), randArr([3], 93)];
    const op: Op = (x, w, b) => conv3d(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D);
    const r = randArr([3, 4, 3, 2, 3], 94);
    const whole = await valueAndGrads("webgpu", "fast", op, ins, r);
    setBatchChunkThreshold(0);
    const chunked = await valueAndGrads("webgpu", "fast", op, ins, r);
    setBatchChunkThreshold(null);
    for (const [i, t] of whole.entries()) {
      expect(maxAbsDiff(t.data, chunked[i].data), `output ${i}`).toBeLessThan(1e-5);
    }
  });

  it("conv3d gradients match central finite differences on webgpu", async () => {
    await tf.setBackend("webgpu");
    setKernelImpl("fast");
    const ins = [randArr([1, 3, 4, 3, 2], 11), randArr([3, 3, 3, 2, 3], 12), randArr([3], 13)];
    const ts = ins.map((a) => tf.tensor(a.data, a.shape));
    const r = tf.tensor(randArr([1, 3, 4, 3, 3], 14).data, [1, 3, 4, 3, 3]);
    const loss = (x: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
      tf.sum(tf.mul(conv3d(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D), r)) as tf.Scalar;
    const grads = tf.grads(loss)(ts);
    const eps = 1e-2;
    for (let i = 0; i < 3; i++) {
      const v = tf.tensor(randArr(ins[i].shape, 20 + i).data, ins[i].shape);
      const at = (sign: number) =>
        tf.tidy(() =>
          loss(
            ...(ts.map((t, j) => (j === i ? tf.add(t, tf.mul(v, sign * eps)) : t)) as [
              tf.Tensor,
              tf.Tensor,
              tf.Tensor,
            ]),
          ),
        );
      const [lp, lm, dir] = [at(1), at(-1), tf.sum(tf.mul(grads[i], v))];
      const numeric = ((await lp.data())[0] - (await lm.data())[0]) / (2 * eps);
      const analytic = (await dir.data())[0];
      expect(Math.abs(numeric - analytic), `input ${i}: ${numeric} vs ${analytic}`).toBeLessThanOrEqual(
        3e-3 * Math.max(1, Math.abs(analytic)),
      );
      tf.dispose([v, lp, lm, dir]);
    }
    tf.dispose([...ts, ...grads, r]);
    setKernelImpl("auto");
  });

  it("conv2d (Genesis 2D) matches cpu", async () => {
    const ins = [randArr([2, 5, 4, 3], 31), randArr([3, 3, 3, 2], 32), randArr([2], 33)];
    await compareWithCpu(
      (x, w, b) => conv2d(x as tf.Tensor4D, w as tf.Tensor4D, b as tf.Tensor1D),
      ins,
      [2, 5, 4, 2],
    );
  });

  it("convTranspose3dStride2 and convTranspose2dStride2 match cpu (forward: tfjs's transposed convolutions)", async () => {
    // tfjs has no gradient of Conv3DBackpropInputV2, so the gradients are compared with our ops on
    // cpu (checked there against finite differences, ops.test.ts) and the forward with stock tfjs
    const cases = [
      {
        ins: [randArr([2, 2, 3, 2, 3], 41), randArr([2, 2, 2, 4, 3], 42), randArr([4], 43)],
        out: [2, 4, 6, 4, 4],
        ours: ((x, w, b) =>
          convTranspose3dStride2(x as tf.Tensor5D, w as tf.Tensor5D, b as tf.Tensor1D)) as Op,
        stock: ((x, w, b) =>
          tf.add(
            tf.conv3dTranspose(x as tf.Tensor5D, w as tf.Tensor5D, [2, 4, 6, 4, 4], 2, "same"),
            b,
          )) as Op,
      },
      {
        ins: [randArr([2, 3, 2, 3], 51), randArr([2, 2, 2, 3], 52)],
        out: [2, 6, 4, 2],
        ours: ((x, w) => convTranspose2dStride2(x as tf.Tensor4D, w as tf.Tensor4D)) as Op,
        stock: ((x, w) =>
          tf.conv2dTranspose(x as tf.Tensor4D, w as tf.Tensor4D, [2, 6, 4, 2], 2, "same")) as Op,
      },
    ];
    for (const c of cases) {
      const r = randArr(c.out, 44);
      const gpu = await valueAndGrads("webgpu", "fast", c.ours, c.ins, r);
      const cpu = await valueAndGrads("cpu", "fast", c.ours, c.ins, r);
      for (const [i, o] of gpu.entries()) {
        expect(maxAbsDiff(o.data, cpu[i].data), `output ${i}`).toBeLessThan(
          1e-4 * Math.max(1, maxAbs(cpu[i].data)),
        );
      }
      await tf.setBackend("cpu");
      const stock = tf.tidy(() => c.stock(...c.ins.map((a) => tf.tensor(a.data, a.shape))));
      expect(maxAbsDiff(gpu[0].data, stock.dataSync())).toBeLessThan(1e-5);
      stock.dispose();
    }
  });

  it("up-sampling, pooling and channel concat match cpu", async () => {
    await compareWithCpu(
      (x) => upsampleNearest3d(x as tf.Tensor5D),
      [randArr([2, 2, 2, 3, 5], 61)],
      [2, 4, 4, 6, 5],
    );
    await compareWithCpu(
      (x) => upsampleNearest2d(x as tf.Tensor4D),
      [randArr([2, 2, 3, 2], 62)],
      [2, 4, 6, 2],
    );
    await compareWithCpu((x) => maxPool3d(x as tf.Tensor5D), [randArr([2, 4, 4, 2, 3], 63)], [2, 2, 2, 1, 3]);
    await compareWithCpu((x) => maxPool2d(x as tf.Tensor4D), [randArr([2, 4, 6, 3], 64)], [2, 2, 3, 3]);
    await compareWithCpu(
      (a, b) => concatChannels([a, b]),
      [randArr([2, 3, 2, 2, 3], 65), randArr([2, 3, 2, 2, 5], 66)],
      [2, 3, 2, 2, 8],
    );
  });

  describe.each(["batch-statistics", "running-statistics"] as BatchNormMode[])("batchNormRelu %s", (mode) => {
    it.each([true, false])(
      "relu=%s: values and gradients match the element-wise composition on cpu",
      async (relu) => {
        const ins = [
          randArr([2, 3, 2, 4, 3], 71),
          { data: new Float32Array([1.5, 0.5, -0.7]), shape: [3] },
          { data: new Float32Array([0.1, -0.2, 0.3]), shape: [3] },
        ];
        // one op whose stock form is the element-wise composition (tfjs's batchNorm has no rank-5 gradient)
        const op: Op = (x, g, b) => {
          const m = tf.tensor1d([0.05, -0.1, 0.2]);
          const v = tf.tensor1d([0.3, 0.6, 0.9]);
          if (referenceComposition) {
            const { mean, variance } = tf.moments(x, [0, 1, 2, 3]);
            const mu = mode === "batch-statistics" ? mean : m;
            const va = mode === "batch-statistics" ? variance : v;
            const z = tf.add(tf.mul(tf.div(tf.sub(x, mu), tf.sqrt(tf.add(va, 1e-5))), g), b);
            return relu ? tf.relu(z) : z;
          }
          const p = {
            gamma: g as tf.Tensor1D,
            beta: b as tf.Tensor1D,
            movingMean: m,
            movingVariance: v,
            eps: 1e-5,
          };
          const out = batchNormRelu(x as tf.Tensor5D, p, mode, relu);
          tf.dispose([out.batchMean, out.batchVariance].filter((t): t is tf.Tensor1D => t !== undefined));
          return out.y;
        };
        const r = randArr([2, 3, 2, 4, 3], 72);
        referenceComposition = true;
        const ref = await valueAndGrads("cpu", "stock", op, ins, r);
        referenceComposition = false;
        const ours = await valueAndGrads("webgpu", "fast", op, ins, r);
        // the value and the x, gamma, beta gradients
        for (const i of [0, 1, 2, 3]) {
          expect(maxAbsDiff(ours[i].data, ref[i].data), `output ${i}`).toBeLessThan(
            2e-4 * Math.max(1, maxAbs(ref[i].data)),
          );
        }
      },
    );
  });

  it("memory is flat over 10 training steps (tensor count and GPU bytes)", async () => {
    await tf.setBackend("webgpu");
    const w1 = tf.variable(tf.tensor(randArr([3, 3, 3, 1, 4], 81).data, [3, 3, 3, 1, 4]));
    const w2 = tf.variable(tf.tensor(randArr([2, 2, 2, 4, 4], 82).data, [2, 2, 2, 4, 4]));
    const w3 = tf.variable(tf.tensor(randArr([1, 1, 1, 8, 1], 83).data, [1, 1, 1, 8, 1]));
    const gamma = tf.variable(tf.ones([4]));
    const beta = tf.variable(tf.zeros([4]));
    const x = tf.tensor(randArr([2, 4, 4, 4, 1], 84).data, [2, 4, 4, 4, 1]);
    const y = tf.tensor(randArr([2, 4, 4, 4, 1], 85).data, [2, 4, 4, 4, 1]);
    const vars = [w1, w2, w3, gamma, beta];
    const step = async () => {
      const { value, grads } = tf.variableGrads(() => {
        const h = batchNormRelu(
          conv3d(x as tf.Tensor5D, w1 as unknown as tf.Tensor5D),
          { gamma: gamma as unknown as tf.Tensor1D, beta: beta as unknown as tf.Tensor1D, eps: 1e-5 },
          "batch-statistics",
          true,
        );
        tf.dispose([h.batchMean as tf.Tensor, h.batchVariance as tf.Tensor]);
        const p = maxPool3d(h.y);
        const u = convTranspose3dStride2(p, w2 as unknown as tf.Tensor5D);
        const out = conv3d(concatChannels([u, h.y]) as tf.Tensor5D, w3 as unknown as tf.Tensor5D);
        return tf.mean(tf.square(tf.sub(out, y))) as tf.Scalar;
      }, vars);
      tf.tidy(() => {
        for (const v of vars) v.assign(tf.sub(v, tf.mul(grads[v.name], 0.01)));
      });
      const l = (await value.data())[0];
      tf.dispose([value, ...Object.values(grads)]);
      return l;
    };
    const losses = [await step(), await step()];
    const m0 = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
    for (let i = 0; i < 10; i++) losses.push(await step());
    const m1 = tf.memory() as tf.MemoryInfo & { numBytesInGPU?: number };
    expect(m1.numTensors).toBe(m0.numTensors);
    expect(m1.numBytes).toBe(m0.numBytes);
    expect(m1.numBytesInGPU).toBe(m0.numBytesInGPU);
    expect(losses.at(-1)).toBeLessThan(losses[0]);
    tf.dispose([...vars, x, y]);
  });
});

let referenceComposition = false;
