import { copyFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createModel } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { arrayBatchSource, type Callback, pretrainRecipe, Trainer } from "../src/index.js";
import { restorationData, useCpu, weightsOf } from "./helpers.js";

beforeAll(useCpu);

const SHAPE: [number, number, number] = [8, 8, 8];
const s = [...SHAPE, 1];

function trainer(epochs: number, dir: string, resume: string | false = false, modelSeed = 3) {
  const data = restorationData(8, SHAPE, 11);
  const val = restorationData(2, SHAPE, 12);
  const recipe = pretrainRecipe({ lr: 0.1 });
  return new Trainer({
    ...recipe,
    model: createModel({ variant: "torch", width: 2 }, { seed: modelSeed }),
    train: arrayBatchSource({ ...data, sampleShapeX: s, sampleShapeY: s, batchSize: 2 }),
    validation: arrayBatchSource({ ...val, sampleShapeX: s, sampleShapeY: s, batchSize: 2, shuffle: false }),
    epochs,
    seed: 1,
    stepsPerEpoch: 1,
    checkpointDir: dir,
    resume,
  });
}

describe("a width-2 Genesis U-Net (torch variant) on the trainer", () => {
  it("trains without tensor leaks and resumes exactly (BatchNorm running statistics included)", async () => {
    const counts: number[] = [];
    const dir = mkdtempSync(join(tmpdir(), "unet-"));
    const full = trainer(2, dir);
    const kept = join(dir, "after-epoch-0.ckpt");
    full.callbacks.push({
      onEpochStart: (_c, e) => {
        if (e === 1) copyFileSync(join(dir, "last.ckpt"), kept); // the state a run stopped after epoch 0 left
      },
      onEpochEnd: () => void counts.push(tf.memory().numTensors),
    } satisfies Callback);
    const before = weightsOf(full.model);
    const r = await full.run();
    expect(r.history.map((h) => h.steps)).toEqual([1, 1]);
    expect(r.history.every((h) => Number.isFinite(h.valLoss!))).toBe(true);
    expect(weightsOf(full.model)).not.toEqual(before);
    expect(counts[1]).toBe(counts[0]);

    const resumed = trainer(2, mkdtempSync(join(tmpdir(), "unet-")), kept, 77);
    const r2 = await resumed.run();
    expect(weightsOf(resumed.model)).toEqual(weightsOf(full.model));
    expect(r2.history.map((h) => h.valLoss)).toEqual(r.history.map((h) => h.valLoss));
  });
});
