import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { initBackend } from "@models-genesis/kernels";
import { loadModel } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CubeSet,
  collectCubes,
  runFinetuning,
  runPretraining,
  splitCubesBySource,
  validationPairs,
} from "../src/index.js";

const SHARED = process.env.GENESIS_SHARED_DIR ?? resolve(__dirname, "../../../../shared");
const CT64 = join(SHARED, "data/ct/chest_copdgene_cip_ct64/ct.nii.gz");
const CUBE: [number, number, number] = [16, 16, 16];

let dir: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: () => {} });
  dir = await mkdtemp(join(tmpdir(), "genesis-pipelines-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function syntheticSet(count: number, sources: string[]): CubeSet {
  const per = CUBE[0] * CUBE[1] * CUBE[2];
  const data = new Float32Array(count * per);
  for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 1000) / 1000;
  return { data, count, shape: CUBE, sources };
}

describe("splitCubesBySource", () => {
  it("never puts one source on both sides and holds out at least the asked fraction", () => {
    const sources = Array.from({ length: 40 }, (_, i) => `vol${i % 7}`);
    const { train, val } = splitCubesBySource(syntheticSet(40, sources), 0.2, 3);
    expect(train.count + val.count).toBe(40);
    expect(val.count).toBeGreaterThanOrEqual(8);
    const inVal = new Set(val.sources);
    expect(train.sources.some((s) => inVal.has(s))).toBe(false);
  });

  it("splits cubes of a single source", () => {
    const { train, val } = splitCubesBySource(syntheticSet(10, Array(10).fill("one")), 0.3, 1);
    expect(val.count).toBe(3);
    expect(train.count).toBe(7);
  });
});

describe("validationPairs", () => {
  it("computes the identity and constant baselines from the pairs it returns", () => {
    const set = syntheticSet(3, ["a", "b", "c"]);
    const p = validationPairs(set, 5);
    const per = CUBE[0] * CUBE[1] * CUBE[2];
    let id = 0;
    let cst = 0;
    for (let i = 0; i < 3; i++) {
      const t = p.target.subarray(i * per, (i + 1) * per);
      const x = p.input.subarray(i * per, (i + 1) * per);
      const mean = t.reduce((a, b) => a + b, 0) / per;
      for (let k = 0; k < per; k++) {
        id += (x[k] - t[k]) ** 2;
        cst += (mean - t[k]) ** 2;
      }
    }
    expect(p.identityMse).toBeCloseTo(id / (3 * per), 10);
    expect(p.constantMse).toBeCloseTo(cst / (3 * per), 10);
    // same seed → same pairs
    expect(validationPairs(set, 5).input).toEqual(p.input);
  });
});

describe.skipIf(!existsSync(CT64))("pretraining and fine-tuning on real CT", () => {
  it("pretrains a width-2 U-Net, writes every output and a loadable model, without leaking tensors", async () => {
    const cubes = await collectCubes([CT64], {
      cubeShape: CUBE,
      scale: 12,
      borderXY: 2,
      borderZ: 2,
      lungMax: 1,
      seed: 1,
    });
    expect(cubes.count).toBe(12);
    for (const v of cubes.data) expect(v >= 0 && v <= 1).toBe(true);
    const { train, val } = splitCubesBySource(cubes, 0.25, 1);
    const out = join(dir, "pre");
    const before = tf.memory().numTensors;
    const s = await runPretraining({
      train,
      val,
      out,
      width: 2,
      batchSize: 3,
      epochs: 2,
      stepsPerEpoch: 2,
      optimizer: "adam",
      lr: 0.01,
      seed: 1,
      plainProgress: true,
      sampleEvery: 1,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.val_mse).toHaveLength(2);
    expect(s.identity_mse).toBeGreaterThan(0);
    expect(s.constant_mse).toBeGreaterThan(0);
    for (const f of [
      "model/model.json",
      "pretrain.json",
      "log.jsonl",
      "loss.svg",
      "samples/epoch_0002.png",
    ]) {
      expect(existsSync(join(out, f)), f).toBe(true);
    }
    const log = (await readFile(join(out, "log.jsonl"), "utf8")).trim().split("\n");
    expect(log).toHaveLength(2);
    const { model, metadata } = await loadModel(join(out, "model"));
    expect(metadata.width).toBe(2);
    expect(metadata.extra?.patchSize).toEqual(CUBE);
    model.dispose();

    // fine-tune a segmenter from it on real LIDC-like data: here, thresholded CT cubes as masks
    const per = CUBE[0] * CUBE[1] * CUBE[2];
    const part = (from: number, n: number) => {
      const x = cubes.data.slice(from * per, (from + n) * per);
      const y = x.map((v) => (v > 0.45 ? 1 : 0));
      return { x, xShape: [n, ...CUBE, 1], y, yShape: [n, ...CUBE, 1] };
    };
    const ft = await runFinetuning({
      task: "segmentation",
      data: { train: part(0, 6), val: part(6, 3), test: part(9, 3) },
      init: { kind: "model", dir: join(out, "model") },
      batchSize: 3,
      epochs: 1,
      seed: 2,
      modelDir: join(dir, "ft", "model"),
      plainProgress: true,
    });
    for (const k of ["dice", "iou", "paperIoU"] as const) {
      expect(ft.test[k]).toBeGreaterThanOrEqual(0);
      expect(ft.test[k]).toBeLessThanOrEqual(1);
    }
    expect(existsSync(join(dir, "ft", "model", "model.json"))).toBe(true);
    expect(existsSync(join(dir, "ft", "model.ckpt"))).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names an input folder without volumes", async () => {
    await expect(collectCubes([dir], { cubeShape: CUBE })).rejects.toThrow(/no volume files/);
  });
});
