import { initBackend } from "@models-genesis/kernels";
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { arrayBatchSource, mseLoss, SGD, Trainer } from "../src/index.js";
import { restorationData, tinyConvNet } from "./helpers.js";

const SHAPE: [number, number, number] = [8, 8, 4];
const s = [...SHAPE, 1];

async function losses(): Promise<number[]> {
  const data = restorationData(6, SHAPE, 1);
  const t = new Trainer({
    model: tinyConvNet(1),
    optimizer: new SGD({ lr: 0.5, momentum: 0.9 }),
    loss: mseLoss,
    train: arrayBatchSource({ ...data, sampleShapeX: s, sampleShapeY: s, batchSize: 3 }),
    epochs: 3,
    seed: 4,
  });
  const r = await t.run();
  const out = r.history.map((h) => h.trainLoss);
  t.model.dispose();
  t.optimizer.dispose();
  return out;
}

describe("the same training on the wasm and cpu backends", () => {
  it("gives the same losses to float32 rounding", async () => {
    await initBackend({ backend: "wasm", log: () => {} });
    expect(tf.getBackend()).toBe("wasm");
    const wasm = await losses();
    await initBackend({ backend: "cpu", log: () => {} });
    expect(tf.getBackend()).toBe("cpu");
    const cpu = await losses();
    wasm.forEach((v, i) => {
      expect(v).toBeCloseTo(cpu[i], 6);
    });
    expect(cpu[2]).toBeLessThan(cpu[0]);
  });
});
