import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { initBackend } from "@models-genesis/kernels";
import { loadModel } from "@models-genesis/models";
import { geometryFromAffine, writeNifti } from "@models-genesis/volume-io";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COLLAPSE_STD_RATIO,
  type CubeSet,
  collectCubes,
  evaluatePredictions,
  outputSpreadMetric,
  predictArrays,
  predictSlicewise,
  pretrainingShapeOf,
  pretrainVerdict,
  restorationBreakdown,
  runFinetuning,
  runPretraining,
  splitCubesBySource,
  VALIDATION_SEED_OFFSET,
  validationPairs,
  validationSlicePairs,
} from "../src/index.js";
import { countedMetrics } from "./counted-metrics.js";

/** COPDGene 10002K chest CT (64×64×79), shipped in apps/cli/sample (same bytes as the shared ct64 NIfTI). */
const CT64 = resolve(__dirname, "../../../apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");
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

describe("collectCubes names the cause when no cube comes out", () => {
  const made: string[] = [];
  afterAll(async () => {
    for (const d of made) await rm(d, { recursive: true, force: true });
  });
  const volume = async (name: string, n: number, hu: number) => {
    const folder = await mkdtemp(join(tmpdir(), "genesis-cause-"));
    made.push(folder);
    const path = join(folder, name);
    const data = new Int16Array(n * n * n).fill(hu);
    const g = geometryFromAffine([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]);
    await writeNifti(path, { data, shape: [n, n, n], channels: 1, ...g, kind: "intensity", meta: {} });
    return path;
  };
  const opts = { patchSize: [16, 16, 8] as [number, number, number], scale: 2, borderXY: 0, borderZ: 0 };

  it("the content filter, with its crop count and --lung-max; the borders, with the volume; both", async () => {
    const tissue = await volume("tissue.nii", 24, 100); // all soft tissue: every crop fails the lung filter
    const small = await volume("small.nii", 8, -800); // smaller than one cube
    await expect(collectCubes([tissue], opts)).rejects.toThrow(
      `no pretraining cubes of 16×16×8 from ${tissue}: the content filter rejected all 100 crops tried in 1 volume (--lung-max 0.15: a crop is kept when at most 15 % of it is tissue ≥ -150 HU; raise --lung-max for cubes outside the lungs)`,
    );
    await expect(collectCubes([small], opts)).rejects.toThrow(
      new RegExp(
        `^no pretraining cubes of 16×16×8 from ${small}: 1 volume is too small for the borders \\(${small}: .*; lower --border-xy / --border-z\\)$`,
      ),
    );
    await expect(collectCubes([tissue, small], { ...opts, lungMax: 0.05 })).rejects.toThrow(
      /rejected all 100 crops tried in 1 volume \(--lung-max 0\.05: .*\); 1 volume is too small for the borders/,
    );
  });
});

describe("pretraining says when it failed", () => {
  const base = { identity_mse: 0.02, constant_mse: 0.05 };
  it("judges the best validation MSE against both baselines and the output spread", () => {
    const v = (best: number, ratio: number | null) =>
      pretrainVerdict({ ...base, best_val_mse: best, output_std_ratio: ratio });
    expect(v(0.01, 0.8)).toEqual({
      verdict: "below-baselines",
      failed: false,
      reason: "best validation MSE 0.01000 is below the identity 0.02000 and constant 0.05000 baselines",
    });
    expect(v(0.03, 0.8)).toMatchObject({ verdict: "above-identity-baseline", failed: false });
    expect(v(0.05, 0.8)).toMatchObject({ verdict: "above-constant-baseline", failed: true });
    expect(v(0.06, 0.01).reason).toBe(
      "best validation MSE 0.06000 is not below the constant baseline 0.05000 (predicting each sample's mean): the network learned less than a constant",
    );
    expect(v(0.01, COLLAPSE_STD_RATIO / 2)).toMatchObject({ verdict: "collapsed", failed: true });
    expect(v(0.01, COLLAPSE_STD_RATIO / 2).reason).toMatch(/^the output collapsed: its spread is 5\.0 % /);
    expect(v(0.01, null).verdict).toBe("below-baselines");
    expect(v(Number.NaN, null)).toMatchObject({ verdict: "no-validation", failed: false });
  });

  it("std_ratio = √(Σ per-sample output variance / Σ per-sample target variance)", () => {
    const m = outputSpreadMetric();
    // sample 1: target [0, 2] (var 1), prediction [1, 1] (var 0); sample 2: target [0, 2], prediction [0.5, 1.5] (var 0.25)
    m.update(Float32Array.of(1, 1, 0.5, 1.5), Float32Array.of(0, 2, 0, 2), [2, 2, 1]);
    expect(m.compute()).toBeCloseTo(Math.sqrt(0.25 / 2), 12);
    m.reset();
    m.update(Float32Array.of(1, 1), Float32Array.of(3, 3), [1, 2, 1]);
    expect(m.compute()).toBeNaN();
  });

  it("a run that cannot beat the constant baseline (1 step at lr 0) warns and records the verdict in pretrain.json", async () => {
    const set = syntheticSet(6, ["a", "a", "a", "b", "b", "b"]);
    const { train, val } = splitCubesBySource(set, 0.4, 1);
    const out = join(dir, "verdict");
    const lines: string[] = [];
    const s = await runPretraining({
      train,
      val,
      out,
      width: 2,
      batchSize: 2,
      epochs: 1,
      stepsPerEpoch: 1,
      lr: 0,
      seed: 1,
      sampleEvery: 0,
      plainProgress: true,
      log: (l) => lines.push(l),
    });
    expect(s.best_val_mse).toBeGreaterThanOrEqual(s.constant_mse);
    expect(s.verdict).toBe("above-constant-baseline");
    const json = JSON.parse(await readFile(join(out, "pretrain.json"), "utf8"));
    expect(json.verdict).toBe("above-constant-baseline");
    expect(json.verdict_reason).toBe(s.verdict_reason);
    expect(json.output_std_ratio).toBeGreaterThan(0);
    expect(
      lines.filter((l) => l.startsWith("warning: pretraining failed (above-constant-baseline): ")),
    ).toHaveLength(1);
  }, 60_000);
});

describe("pretraining and fine-tuning on real CT", () => {
  it("pretrains a width-2 U-Net, writes every output and a loadable model, without leaking tensors", async () => {
    const cubes = await collectCubes([CT64], {
      patchSize: CUBE,
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
    // the sample sheet: 3 validation cubes × (4 depths × transformed | restored | original), each
    // 16×16 slice upscaled 9× (144 px: ≥ 128 and wide enough for "transformed" at 2×) under a 26-px header
    const sheet = await readFile(join(out, "samples/epoch_0002.png"));
    expect([sheet.readUInt32BE(16), sheet.readUInt32BE(20)]).toEqual([
      12 * 144 + 11 * 4 + 3 * 8,
      26 + 3 * 144 + 2 * 4,
    ]);
    const { model, metadata } = await loadModel(join(out, "model"));
    expect(metadata.width).toBe(2);
    expect(metadata.preprocessing.patchSize).toEqual(CUBE);
    expect(pretrainingShapeOf(metadata)).toEqual(CUBE); // what fine-tuning compares its patches with

    // the saved (best) model, corruption by corruption: `all` repeats the validation pass exactly
    const bd = await restorationBreakdown(model, val, { seed: 1 + VALIDATION_SEED_OFFSET, batchSize: 3 });
    expect(val.count).toBe(3);
    expect(bd.all.model).toBeCloseTo(s.best_val_mse, 6);
    expect(bd.all.identity).toBeCloseTo(s.identity_mse, 10);
    expect(bd.none.identity).toBe(0);
    // (local shuffling moves blocks of 1…rows/10 voxels: a no-op on these 16³ cubes)
    for (const c of ["nonlinear", "inPaint", "outPaint"] as const) expect(bd[c].identity).toBeGreaterThan(0);
    expect(bd.localShuffle.identity).toBe(0);
    // flips and transforms leave each cube's mean and variance alone: one constant baseline for all
    for (const v of Object.values(bd)) {
      expect(v.constant).toBeCloseTo(s.constant_mse, 10);
      expect(Number.isFinite(v.model)).toBe(true);
    }
    model.dispose();

    // fine-tune a segmenter from it on real LIDC-like data: here, thresholded CT cubes as masks
    const per = CUBE[0] * CUBE[1] * CUBE[2];
    const part = (from: number, n: number) => {
      const x = cubes.data.slice(from * per, (from + n) * per);
      const y = x.map((v) => (v > 0.45 ? 1 : 0));
      return { x, xShape: [n, ...CUBE, 1], y, yShape: [n, ...CUBE, 1] };
    };
    const said: string[] = [];
    const ft = await runFinetuning({
      task: "segmentation",
      data: { train: part(0, 6), val: part(6, 3), test: part(9, 3) },
      init: { kind: "model", dir: join(out, "model") },
      batchSize: 3,
      epochs: 1,
      seed: 2,
      modelDir: join(dir, "ft", "model"),
      plainProgress: true,
      log: (l) => said.push(l),
    });
    expect(said).toContain(
      "fine-tuning (segmentation): 6 training / 3 validation / 3 test patches of 16×16×16",
    );
    expect(said.filter((l) => l.includes("pretrained at"))).toEqual([]); // same shape: no warning
    // the test scores, counted here from the saved model's test predictions (same batches of 3)
    const saved = await loadModel(join(dir, "ft", "model"));
    const test = part(9, 3);
    const pred = await predictArrays(saved.model, test.x, test.xShape, 3);
    saved.model.dispose();
    const hand = countedMetrics(pred, test.y);
    expect(ft.test.dice).toBeCloseTo(hand.dice, 6);
    expect(ft.test.iou).toBeCloseTo(hand.iou, 6);
    expect(ft.test.paperIoU).toBeCloseTo(hand.paperIoU, 6);
    expect(existsSync(join(dir, "ft", "model", "model.json"))).toBe(true);
    expect(existsSync(join(dir, "ft", "model.ckpt"))).toBe(false);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("Genesis 2D: pretrains a width-2 2-D U-Net on axial slices of the pairs, then fine-tunes it slice-wise on 3-D patches", async () => {
    const cubes = await collectCubes([CT64], {
      patchSize: CUBE,
      scale: 8,
      borderXY: 2,
      borderZ: 2,
      lungMax: 1,
      seed: 3,
    });
    expect(cubes.count).toBe(8);
    const { train, val } = splitCubesBySource(cubes, 0.25, 1);
    const out = join(dir, "pre2d");
    const before = tf.memory().numTensors;
    const s = await runPretraining({
      train,
      val,
      out,
      modelId: "genesis-unet2d",
      slicesPerCube: 4,
      width: 2,
      batchSize: 4,
      epochs: 2,
      stepsPerEpoch: 3,
      optimizer: "adam",
      lr: 0.01,
      seed: 1,
      plainProgress: true,
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(s.spatial_dims).toBe(2);
    expect(s.model_id).toBe("genesis-unet2d");
    expect(s.slices).toEqual({ train_per_epoch: train.count * 4, val: val.count * CUBE[2], per_cube: 4 });
    expect(s.val_mse).toHaveLength(2);
    // the baselines are the slices': identity as on the cubes, constant = per-slice mean
    const v2 = validationSlicePairs(val, 1 + 7919);
    const v3 = validationPairs(val, 1 + 7919);
    expect(s.identity_mse).toBeCloseTo(v2.identityMse, 10);
    expect(v2.identityMse).toBeCloseTo(v3.identityMse, 6);
    expect(s.constant_mse).toBeCloseTo(v2.constantMse, 10);
    expect(v2.constantMse).toBeLessThanOrEqual(v3.constantMse + 1e-9);
    expect(existsSync(join(out, "samples/epoch_0002.png"))).toBe(true);
    const { model, metadata } = await loadModel(join(out, "model"));
    expect(model.architecture.spatialDims).toBe(2);
    expect(metadata.preprocessing.patchSize).toEqual(CUBE);
    model.dispose();

    // genesis-2d: fine-tune it slice-wise as a 3-D patch classifier (label: patch mean above the median)
    const per = CUBE[0] * CUBE[1] * CUBE[2];
    const means = Array.from({ length: cubes.count }, (_, i) =>
      cubes.data.subarray(i * per, (i + 1) * per).reduce((a, b) => a + b, 0),
    );
    const median = [...means].sort((a, b) => a - b)[Math.floor(cubes.count / 2)];
    const part = (from: number, n: number) => ({
      x: cubes.data.slice(from * per, (from + n) * per),
      xShape: [n, ...CUBE, 1],
      y: Float32Array.from(means.slice(from, from + n), (m) => (m >= median ? 1 : 0)),
      yShape: [n, 1],
    });
    const test = part(5, 3);
    const ft = await runFinetuning({
      task: "classification",
      data: { train: part(0, 3), val: part(3, 2), test },
      init: { kind: "model", dir: join(out, "model") },
      batchSize: 8,
      epochs: 1,
      seed: 2,
      modelDir: join(dir, "ft2d", "model"),
      plainProgress: true,
    });
    expect(ft.slicewise).toBe(true);
    expect(ft.test.auc).toBeGreaterThanOrEqual(0);
    expect(tf.memory().numTensors).toBe(before);
    // the saved model is 2-D, records the 3-D patch, and reproduces the test AUC slice-wise
    const saved = await loadModel(join(dir, "ft2d", "model"));
    expect(saved.model.architecture.spatialDims).toBe(2);
    expect(saved.model.architecture.head.kind).toBe("classification");
    expect(saved.metadata.preprocessing.patchSize).toEqual(CUBE);
    expect(saved.metadata.extra?.finetuning).toMatchObject({ task: "classification", slicewise: true });
    const scores = await predictSlicewise(saved.model, test.x, test.xShape, 8);
    expect(scores).toHaveLength(3);
    expect(evaluatePredictions("classification", scores, test.y, test.yShape).auc).toBe(ft.test.auc);
    saved.model.dispose();
  });

  it("names an input folder without volumes", async () => {
    await expect(collectCubes([dir], { patchSize: CUBE })).rejects.toThrow(`${dir}: no volume found`);
  });
});
