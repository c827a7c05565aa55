/**
 * Training on webgpu (a software adapter in CI): the Genesis U-Net's SGD steps give the same
 * weights as on cpu, memory (tensor count and GPU bytes) stays flat over 10 steps, and a model
 * trained on webgpu saves, loads and predicts the same on wasm (and back).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { initBackend, webgpuSkipReason } from "@models-genesis/kernels";
import { createModel, type GenesisUNet, loadModel, saveModel } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arrayBatchSource, mseLoss, SGD, Trainer } from "../src/index.js";
import { restorationData } from "./helpers.js";

const skip = await webgpuSkipReason();
const SHAPE: [number, number, number] = [16, 16, 8];
const S = [...SHAPE, 1];

async function weights(model: GenesisUNet): Promise<Map<string, Float32Array>> {
  const out = new Map<string, Float32Array>();
  for (const [k, v] of [...model.trainableWeights, ...model.nonTrainableWeights])
    out.set(k, Float32Array.from(await v.data()));
  return out;
}

/** Three SGD steps (batch 2, lr 0.05, momentum 0.9) of a width-4 PyTorch-variant U-Net on `backend`. */
async function threeSteps(backend: string): Promise<{ w: Map<string, Float32Array>; losses: number[] }> {
  await tf.setBackend(backend);
  const model = createModel({ variant: "torch", width: 4 }, { seed: 11 });
  const data = restorationData(6, SHAPE, 4);
  const losses: number[] = [];
  await new Trainer({
    model,
    optimizer: new SGD({ lr: 0.05, momentum: 0.9 }),
    loss: mseLoss,
    train: arrayBatchSource({ ...data, sampleShapeX: S, sampleShapeY: S, batchSize: 2 }),
    epochs: 1,
    seed: 3,
    threads: 1,
    callbacks: [{ onBatchEnd: (_c, info) => void losses.push(info.loss) }],
  }).run();
  const w = await weights(model);
  model.dispose();
  return { w, losses };
}

describe.skipIf(skip !== null)("training on webgpu", () => {
  let dir: string;
  beforeAll(async () => {
    await initBackend({ backend: "wasm", log: () => {} });
    await initBackend({ backend: "cpu", log: () => {} });
    await initBackend({ backend: "webgpu", log: () => {} });
    dir = mkdtempSync(path.join(tmpdir(), "genesis-webgpu-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("3 SGD steps of the Genesis U-Net give the cpu weights and losses", async () => {
    const cpu = await threeSteps("cpu");
    const gpu = await threeSteps("webgpu");
    expect(gpu.losses).toHaveLength(3);
    for (let i = 0; i < 3; i++) expect(Math.abs(gpu.losses[i] - cpu.losses[i])).toBeLessThan(1e-5);
    let worst = 0;
    for (const [k, a] of cpu.w) {
      const b = gpu.w.get(k) as Float32Array;
      let m = 0;
      let s = 0;
      for (let i = 0; i < a.length; i++) {
        m = Math.max(m, Math.abs(a[i] - b[i]));
        s = Math.max(s, Math.abs(a[i]));
      }
      worst = Math.max(worst, m / Math.max(1, s));
    }
    expect(worst).toBeLessThan(1e-4);
  });

  it("memory is flat over 10 training steps (tensor count and GPU bytes)", async () => {
    await tf.setBackend("webgpu");
    const model = createModel({ variant: "torch", width: 2 }, { seed: 2 });
    const data = restorationData(4, SHAPE, 5);
    const trainer = new Trainer({
      model,
      optimizer: new SGD({ lr: 0.05, momentum: 0.9 }),
      loss: mseLoss,
      train: arrayBatchSource({ ...data, sampleShapeX: S, sampleShapeY: S, batchSize: 2 }),
      epochs: 1,
      seed: 1,
    });
    const batch = {
      x: data.x.subarray(0, 2 * 2048),
      y: data.y.subarray(0, 2 * 2048),
      xShape: [2, ...S],
      yShape: [2, ...S],
    };
    await trainer.trainStep(batch);
    await trainer.trainStep(batch);
    const m0 = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
    for (let i = 0; i < 10; i++) await trainer.trainStep(batch);
    const m1 = tf.memory() as tf.MemoryInfo & { numBytesInGPU: number };
    expect(m1.numTensors).toBe(m0.numTensors);
    expect(m1.numBytes).toBe(m0.numBytes);
    expect(m1.numBytesInGPU).toBe(m0.numBytesInGPU);
    model.dispose();
  });

  it("a model trained on webgpu predicts the same on wasm after save/load, and the reverse", async () => {
    const x = restorationData(2, SHAPE, 9).x;
    const predict = async (m: GenesisUNet) => {
      const y = tf.tidy(() => m.forward(tf.tensor(x, [2, ...S]), { training: false }));
      const v = Float32Array.from(await y.data());
      y.dispose();
      return v;
    };
    for (const [from, to] of [
      ["webgpu", "wasm"],
      ["wasm", "webgpu"],
    ]) {
      await tf.setBackend(from);
      const model = createModel({ variant: "torch", width: 4 }, { seed: 21 });
      const data = restorationData(4, SHAPE, 8);
      await new Trainer({
        model,
        optimizer: new SGD({ lr: 0.05, momentum: 0.9 }),
        loss: mseLoss,
        train: arrayBatchSource({ ...data, sampleShapeX: S, sampleShapeY: S, batchSize: 2 }),
        epochs: 1,
        seed: 1,
        threads: 1,
      }).run();
      const before = await predict(model);
      const out = path.join(dir, `${from}-model`);
      await saveModel(out, model);
      model.dispose();
      await tf.setBackend(to);
      const { model: loaded } = await loadModel(out);
      const after = await predict(loaded as GenesisUNet);
      loaded.dispose();
      let d = 0;
      for (let i = 0; i < before.length; i++) d = Math.max(d, Math.abs(before[i] - after[i]));
      expect(d, `${from} → ${to}`).toBeLessThan(1e-4);
    }
  });
});
