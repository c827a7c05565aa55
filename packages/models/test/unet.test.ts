/** @vitest-environment node */
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  buildPlan,
  countParams,
  createModel,
  GenesisUNet,
  ModelConfigError,
  resolveConfig,
  WeightMismatchError,
} from "../src/index.js";
import { BACKENDS, maxAbsDiff, useBackend } from "./helpers.js";

describe("parameter counts (from shapes, nothing allocated)", () => {
  it("width 32 matches the reference models", () => {
    // pytorch/unet3d.py: sum(p.numel() for p in UNet3D().parameters())
    expect(countParams("genesis-unet3d")).toBe(19_073_665);
    // keras/unet3d.py: trainable weights of unet_model_3d(batch_normalization=True)
    expect(countParams("genesis-unet3d-keras")).toBe(16_320_257);
    // BN running/moving statistics: mean + variance for every BN channel (2 × 2,336 channels)
    expect(countParams("genesis-unet3d", { includeNonTrainable: true })).toBe(19_073_665 + 4_672);
    expect(countParams("genesis-unet3d-keras", { includeNonTrainable: true })).toBe(16_320_257 + 4_672);
  });
  it("2-D model: the same plan with 3×3 and 2×2 kernels", () => {
    // Σ (9·in·out + out + 2·out) over the 14 convs + ConvTranspose 4·c² + c (c = 512, 256, 128) + 65
    expect(countParams("genesis-unet2d")).toBe(6_821_953);
  });
  it("width 4 matches the parity fixtures' README", () => {
    expect(countParams({ variant: "torch", width: 4 })).toBe(298_993);
    expect(countParams({ variant: "keras", width: 4 })).toBe(255_873);
  });
  it("a model's variables add up to its count", async () => {
    await useBackend("cpu");
    const m = createModel("genesis-unet3d", { width: 2 });
    let n = 0;
    for (const v of m.trainableWeights.values()) n += v.size;
    expect(n).toBe(countParams(m));
    m.dispose();
  });
  it("the classification head replaces the decoder: encoder + 16w·1024 + 1024 + 1024·n + n", () => {
    const enc = buildPlan(resolveConfig({ width: 32, head: { kind: "classification", nClasses: 1 } })).specs;
    expect(enc.some((s) => s.name.startsWith("up_tr"))).toBe(false);
    const encoderOnly = countParams({ width: 32, head: { kind: "classification", nClasses: 1 } });
    const encoderParams = encoderOnly - (512 * 1024 + 1024 + 1024 + 1);
    // encoder of the torch model = total − decoder − final conv
    const full = buildPlan(resolveConfig({ width: 32 })).specs.filter((s) => s.trainable);
    const dec = full.filter((s) => s.name.startsWith("up_tr") || s.name.startsWith("out_tr"));
    const decParams = dec.reduce((a, s) => a + s.shape.reduce((p, q) => p * q, 1), 0);
    expect(encoderParams).toBe(19_073_665 - decParams);
  });
});

describe("config validation", () => {
  it("rejects bad fields with a message naming them", () => {
    expect(() => resolveConfig({ width: 0 })).toThrow(/width must be a positive integer/);
    expect(() => resolveConfig({ variant: "jax" as "torch" })).toThrow(/variant must be/);
    expect(() => resolveConfig({ bnMode: "x" as "batch-statistics" })).toThrow(/bnMode/);
    expect(() => createModel("genesis-nope")).toThrow(
      /unknown model id "genesis-nope"; known: genesis-unet3d/,
    );
  });
  it("variant defaults follow the references", () => {
    const t = resolveConfig({ variant: "torch" });
    const k = resolveConfig({ variant: "keras" });
    expect([t.bnEps, t.bnMomentum, t.bnMode]).toEqual([1e-5, 0.1, "batch-statistics"]);
    expect([k.bnEps, k.bnMomentum, k.bnMode]).toEqual([1e-3, 0.99, "running-statistics"]);
  });
});

describe.each(BACKENDS)("GenesisUNet on %s", (backend) => {
  beforeAll(() => useBackend(backend));

  it.each(["torch", "keras"] as const)("%s 3-D segmentation: shapes, softmax, no tensor leak", (variant) => {
    const m = createModel({
      variant,
      width: 1,
      head: { kind: "segmentation", nClasses: 3, activation: "softmax" },
    });
    const x = tf.randomUniform([2, 8, 16, 8, 1], 0, 1, "float32", 3);
    const before = tf.memory().numTensors;
    const y = m.forward(x, { training: false });
    expect(tf.memory().numTensors).toBe(before + 1);
    expect(y.shape).toEqual([2, 8, 16, 8, 3]);
    const sums = tf.sum(y, -1);
    expect(maxAbsDiff(sums.dataSync(), new Float32Array(2 * 8 * 16 * 8).fill(1))).toBeLessThan(1e-5);
    tf.dispose([x, y, sums]);
    m.dispose();
  });

  it("classification head: (N, n) from the encoder", () => {
    const m = createModel("genesis-unet3d-keras", {
      width: 1,
      head: { kind: "classification", nClasses: 2 },
    });
    const y = m.forward(tf.ones([3, 8, 8, 8, 1]), { training: false });
    expect(y.shape).toEqual([3, 2]);
    const v = y.dataSync();
    for (const p of v) expect(p > 0 && p < 1).toBe(true);
    y.dispose();
    m.dispose();
  });

  it("2-D slice-wise model: NHWC in and out", () => {
    const m = createModel("genesis-unet2d", { width: 2, head: { kind: "segmentation", nClasses: 1 } });
    const y = m.forward(tf.randomUniform([2, 16, 8, 1], 0, 1, "float32", 1), { training: false });
    expect(y.shape).toEqual([2, 16, 8, 1]);
    y.dispose();
    m.dispose();
  });

  it("rejects spatial sizes that are not multiples of 8, wrong channels and rank", () => {
    const m = createModel("genesis-unet3d", { width: 1 });
    const bad = tf.zeros([1, 12, 8, 8, 1]);
    expect(() => m.forward(bad, { training: false })).toThrow(
      "GenesisUNet.forward: every spatial size must be a positive multiple of 8 (three 2×2×2 max-pools), got [12, 8, 8] in input shape [1, 12, 8, 8, 1]",
    );
    expect(() => m.forward(tf.zeros([1, 8, 8, 8, 2]), { training: false })).toThrow(ModelConfigError);
    expect(() => m.forward(tf.zeros([8, 8, 8, 1]), { training: false })).toThrow(/rank-5 NDHWC/);
    bad.dispose();
    m.dispose();
  });

  it("same seed → same weights; another seed → different", async () => {
    const a = createModel("genesis-unet3d", { width: 1, seed: 5 });
    const b = createModel("genesis-unet3d", { width: 1, seed: 5 });
    const c = createModel("genesis-unet3d", { width: 1, seed: 6 });
    const k = "down_tr128.ops.1.conv1.weight";
    const [wa, wb, wc] = await Promise.all([a, b, c].map((m) => m.weights.get(k)!.data()));
    expect(maxAbsDiff(wa, wb)).toBe(0);
    expect(maxAbsDiff(wa, wc)).toBeGreaterThan(0);
    // PyTorch default init bound 1/sqrt(fan_in), fan_in = 2 · 27
    expect(Math.max(...Array.from(wa, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(54));
    for (const m of [a, b, c]) m.dispose();
  });

  /**
   * With the first conv set to the identity (centre tap 1, bias 0), the first BN sees x itself, so
   * its running statistics after one training step have a closed form.
   */
  it.each([
    ["torch", "down_tr64.ops.0.conv1", "down_tr64.ops.0.bn1", ".", "running_mean", "running_var"],
    ["keras", "depth_0_conv", "depth_0_bn", "/", "moving_mean", "moving_variance"],
  ] as const)(
    "%s: one training step updates the running statistics like the reference",
    async (variant, conv, bn, sep, meanName, varName) => {
      const m = createModel({ variant, width: 1, bnMode: "running-statistics" });
      const kernel = new Float32Array(27);
      kernel[13] = 1;
      const ws = new Map((await m.getWeights()).entries());
      ws.set(`${conv}${sep}${variant === "torch" ? "weight" : "kernel"}`, {
        shape: [3, 3, 3, 1, 1],
        data: kernel,
      });
      ws.set(`${conv}${sep}bias`, { shape: [1], data: new Float32Array(1) });
      m.setWeights(ws);
      const xs = tf.randomUniform([2, 8, 8, 8, 1], 0, 1, "float32", 11);
      const xv = xs.dataSync() as Float32Array;
      const n = xv.length;
      const mean = xv.reduce((a, b) => a + b, 0) / n;
      const biased = xv.reduce((a, b) => a + (b - mean) ** 2, 0) / n;
      const y = m.forward(xs, { training: true });
      const rm = m.nonTrainableWeights.get(`${bn}${sep}${meanName}`)!.dataSync()[0];
      const rv = m.nonTrainableWeights.get(`${bn}${sep}${varName}`)!.dataSync()[0];
      if (variant === "torch") {
        // torch.nn.functional.batch_norm: momentum 0.1, unbiased variance n/(n−1)
        expect(rm).toBeCloseTo(0.1 * mean, 6);
        expect(rv).toBeCloseTo(0.9 * 1 + 0.1 * biased * (n / (n - 1)), 6);
      } else {
        // Keras 2.2 BatchNormalization: momentum 0.99, variance · n/(n − (1 + eps))
        expect(rm).toBeCloseTo(0.01 * mean, 6);
        expect(rv).toBeCloseTo(0.99 * 1 + 0.01 * biased * (n / (n - 1.001)), 6);
      }
      // Evaluation leaves them alone, in both BN modes.
      const y2 = m.forward(xs, { training: false });
      expect(m.nonTrainableWeights.get(`${bn}${sep}${meanName}`)!.dataSync()[0]).toBe(rm);
      tf.dispose([xs, y, y2]);
      m.dispose();
    },
  );

  it("training: gradients reach every trainable variable and none reach the running statistics", () => {
    const m = createModel("genesis-unet3d", { width: 1 });
    const x = tf.randomUniform([2, 8, 8, 8, 1], 0, 1, "float32", 2);
    const { value, grads } = tf.variableGrads(() => tf.mean(m.forward(x, { training: true })) as tf.Scalar);
    expect(Object.keys(grads).length).toBe(m.trainableWeights.size);
    tf.dispose([x, value, ...Object.values(grads)]);
    m.dispose();
  });
});

describe("setWeights", () => {
  it("one error lists every missing, unexpected and mis-shaped key and changes nothing", async () => {
    await useBackend("cpu");
    const m = createModel("genesis-unet3d", { width: 1 });
    const ws = await m.getWeights();
    const before = ws.get("down_tr64.ops.0.bn1.weight")!.data.slice();
    ws.delete("out_tr.final_conv.bias");
    ws.set("extra.weight", { shape: [1], data: new Float32Array(1) });
    ws.set("down_tr64.ops.0.conv1.bias", { shape: [2], data: new Float32Array(2) });
    ws.set("down_tr64.ops.0.bn1.weight", { shape: [1], data: new Float32Array([7]) });
    let err: unknown;
    try {
      m.setWeights(ws, { source: "w.bin" });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(WeightMismatchError);
    const w = err as WeightMismatchError;
    expect(w.missing).toEqual(["out_tr.final_conv.bias"]);
    expect(w.unexpected).toEqual(["extra.weight"]);
    expect(w.misShaped).toEqual([{ name: "down_tr64.ops.0.conv1.bias", expected: [1], got: [2] }]);
    expect(w.message).toMatch(/^w\.bin: weights do not match the model: missing keys \(1\)/);
    expect(Array.from(m.weights.get("down_tr64.ops.0.bn1.weight")!.dataSync())).toEqual(Array.from(before));
    m.dispose();
  });
  it("GenesisUNet exposes the GenesisModule contract", () => {
    const m = new GenesisUNet(resolveConfig({ width: 1 }));
    expect(m.config).toMatchObject({ variant: "torch", width: 1, head: { kind: "segmentation" } });
    for (const v of m.nonTrainableWeights.values()) expect(v.trainable).toBe(false);
    for (const v of m.trainableWeights.values()) expect(v.trainable).toBe(true);
    m.dispose();
    m.dispose();
  });
});
