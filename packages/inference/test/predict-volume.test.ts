/**
 * `predictVolume` on synthetic volumes (no data files: runs on a fresh clone) with tiny models on
 * the cpu backend: a volume of exactly one patch gives the network's own output on the windowed
 * input; the window grid and count are the sliding-window rule's; geometry is kept; bad input is
 * refused by name. (Real-CT tests through `genesis predict` live in apps/cli.)
 */
import { initBackend } from "@models-genesis/kernels";
import { createModel, defaultMetadata, loadModel } from "@models-genesis/models";
import {
  orientationCode,
  type PreprocessingRecord,
  recordFor,
  reorientToCanonical,
  type Volume,
  windowIntensity,
} from "@models-genesis/volume-io";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { parsePatchSize, predictVolume } from "../src/index.js";

function ctVolume(shape: [number, number, number], seed: number): Volume<Float32Array> {
  const n = shape[0] * shape[1] * shape[2];
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    data[i] = -1200 + (s / 2 ** 31) * 2400; // HU, partly outside [-1000, 1000]
  }
  return {
    data,
    shape,
    channels: 1,
    spacing: [0.7, 0.8, 2.5],
    origin: [-10, 20, 30],
    direction: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    kind: "intensity",
    meta: { file: "synthetic.nii" },
  };
}

describe("predictVolume", () => {
  beforeAll(async () => {
    await initBackend({ backend: "cpu", log: () => {} });
  });

  it("one patch: the network's output on the HU-windowed input, in the input's geometry", async () => {
    const model = createModel("genesis-unet3d", {
      width: 2,
      seed: 5,
      head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
    });
    const meta = defaultMetadata(model);
    const vol = ctVolume([16, 16, 8], 1);
    const { volume, info } = await predictVolume(model, meta, vol, {
      patchSize: [16, 16, 8],
      output: "probabilities",
    });
    expect(info).toEqual({
      modelGridShape: [16, 16, 8],
      resampled: false,
      reoriented: false,
      preprocessing: meta.preprocessing,
      patchSize: [16, 16, 8],
      patches: 1,
      classes: 1,
      // a model made here: the documented default, running statistics (the architecture's own is batch)
      bnMode: "running-statistics",
      bnModeSource: "metadata",
    });
    expect(volume.shape).toEqual(vol.shape);
    expect(volume.spacing).toEqual(vol.spacing);
    expect(volume.origin).toEqual(vol.origin);
    // direct forward of the window [-1000, 1000] → [0, 1] of the same voxels
    const x = windowIntensity(vol.data, meta.preprocessing.window, { range: meta.preprocessing.range });
    expect(Math.min(...x)).toBe(0);
    expect(Math.max(...x)).toBe(1);
    expect(model.architecture.bnMode).toBe("batch-statistics");
    const y = tf.tidy(() =>
      model.forward(tf.tensor(x, [1, 16, 16, 8, 1]), { training: false, bnMode: "running-statistics" }),
    );
    const direct = (await y.data()) as Float32Array;
    y.dispose();
    const got = volume.data as Float32Array;
    let d = 0;
    for (let i = 0; i < direct.length; i++) d = Math.max(d, Math.abs(direct[i] - got[i]));
    expect(d).toBeLessThan(1e-6);
    model.dispose();
  });

  it("BN mode: metadata inferenceBnMode, else (old models) bnMode; the bnMode option overrides both", async () => {
    const model = createModel("genesis-unet3d", {
      width: 2,
      seed: 8,
      head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
    });
    const vol = ctVolume([16, 16, 8], 3);
    const x = windowIntensity(vol.data, [-1000, 1000]);
    const direct = async (bnMode: "batch-statistics" | "running-statistics") => {
      const y = tf.tidy(() => model.forward(tf.tensor(x, [1, 16, 16, 8, 1]), { training: false, bnMode }));
      const d = (await y.data()) as Float32Array;
      y.dispose();
      return d;
    };
    const batch = await direct("batch-statistics");
    const running = await direct("running-statistics");
    const diff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      let d = 0;
      for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
      return d;
    };
    expect(diff(batch, running)).toBeGreaterThan(1e-3); // the two modes really differ here
    const run = (
      meta: ReturnType<typeof defaultMetadata>,
      bnMode?: "batch-statistics" | "running-statistics",
    ) => predictVolume(model, meta, vol, { patchSize: [16, 16, 8], output: "probabilities", bnMode });
    const current = defaultMetadata(model);
    expect(current.inferenceBnMode).toBe("running-statistics");
    const a = await run(current);
    expect([a.info.bnMode, a.info.bnModeSource]).toEqual(["running-statistics", "metadata"]);
    expect(diff(a.volume.data as Float32Array, running)).toBeLessThan(1e-6);
    const { inferenceBnMode: _, ...old } = current; // saved before the field existed
    const b = await run(old as ReturnType<typeof defaultMetadata>);
    expect([b.info.bnMode, b.info.bnModeSource]).toEqual(["batch-statistics", "fallback"]);
    expect(diff(b.volume.data as Float32Array, batch)).toBeLessThan(1e-6);
    const c = await run(current, "batch-statistics");
    expect([c.info.bnMode, c.info.bnModeSource]).toEqual(["batch-statistics", "option"]);
    expect(diff(c.volume.data as Float32Array, batch)).toBeLessThan(1e-6);
    await expect(run(current, "x" as "batch-statistics")).rejects.toThrow(/--bn-mode must be/);
    model.dispose();
  });

  it("slides windows at 50 % overlap: 24×16×12 with 16×16×8 patches is 2 × 1 × 2 windows", async () => {
    const model = createModel("genesis-unet3d", {
      width: 2,
      seed: 6,
      head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
    });
    const meta = defaultMetadata(model);
    const vol = ctVolume([24, 16, 12], 2);
    const done: number[] = [];
    const { volume, info } = await predictVolume(model, meta, vol, {
      patchSize: [16, 16, 8],
      onProgress: (k) => done.push(k),
    });
    expect(info.patches).toBe(4);
    expect(done).toEqual([1, 2, 3, 4]);
    expect(volume.kind).toBe("label");
    expect(volume.shape).toEqual([24, 16, 12]);
    expect([...volume.data].every((v) => v === 0 || v === 1)).toBe(true);
    model.dispose();
  });

  it("refuses a classification model, a label map and non-finite voxels by name", async () => {
    const cls = createModel("genesis-unet3d", {
      width: 2,
      seed: 7,
      head: { kind: "classification", nClasses: 1, activation: "sigmoid" },
    });
    const seg = createModel("genesis-unet3d", {
      width: 2,
      seed: 8,
      head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
    });
    const vol = ctVolume([16, 16, 8], 3);
    await expect(predictVolume(cls, defaultMetadata(cls), vol)).rejects.toThrow(
      /^synthetic\.nii: whole-volume inference needs a segmentation model; this model has a classification head/,
    );
    await expect(predictVolume(seg, defaultMetadata(seg), { ...vol, kind: "label" })).rejects.toThrow(
      /^synthetic\.nii: is a label map/,
    );
    const bad = ctVolume([16, 16, 8], 4);
    bad.data[5] = Number.NaN;
    bad.data[9] = Number.POSITIVE_INFINITY;
    await expect(predictVolume(seg, defaultMetadata(seg), bad)).rejects.toThrow(
      /^synthetic\.nii: has 2 non-finite voxels/,
    );
    cls.dispose();
    seg.dispose();
  });

  const seg = (seed: number) =>
    createModel("genesis-unet3d", {
      width: 2,
      seed,
      head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
    });
  const forward = async (model: ReturnType<typeof seg>, x: Float32Array, shape: number[]) => {
    const y = tf.tidy(() =>
      model.forward(tf.tensor(x, [1, ...shape, 1]), { training: false, bnMode: "running-statistics" }),
    );
    const d = (await y.data()) as Float32Array;
    y.dispose();
    return d;
  };
  const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
    let d = 0;
    for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
    return d;
  };

  it("LCS-like resize record [0.5, 0.5, 1]: the model sees the half-size grid, the mask comes back at the input geometry", async () => {
    const model = seg(11);
    const record = recordFor({
      modality: "CT",
      resize: [0.5, 0.5, 1],
      patchSize: [16, 16, 8],
      source: "lcs-like test",
    });
    const meta = { ...defaultMetadata(model), preprocessing: record };
    // 32×32×8 of 2×2 in-plane blocks: the half-pixel halving reads each block's value exactly
    const block = ctVolume([16, 16, 8], 21).data;
    const vol: Volume<Float32Array> = {
      ...ctVolume([32, 32, 8], 0),
      direction: [
        [0, -1, 0],
        [1, 0, 0],
        [0, 0, 1],
      ],
    };
    for (let x = 0; x < 32; x++)
      for (let y = 0; y < 32; y++)
        for (let z = 0; z < 8; z++)
          vol.data[(x * 32 + y) * 8 + z] = block[((x >> 1) * 16 + (y >> 1)) * 8 + z];
    const { volume, info } = await predictVolume(model, meta, vol, { output: "probabilities" });
    expect(info.modelGridShape).toEqual([16, 16, 8]);
    expect(info.patchSize).toEqual([16, 16, 8]);
    expect(info.patches).toBe(1);
    expect(info.resampled).toBe(true);
    expect(volume.shape).toEqual([32, 32, 8]);
    expect(volume.spacing).toEqual(vol.spacing);
    expect(volume.origin).toEqual(vol.origin);
    expect(volume.direction).toEqual(vol.direction);
    // known answer: P = net(window(block)); output x = 2j + 1 sits at grid position j + 0.25
    // (half-pixel: (i + 0.5)/2 − 0.5), i.e. 0.75·P[j] + 0.25·P[j + 1]; x = 0 clamps to P[0]
    const P = await forward(model, windowIntensity(block, [-1000, 1000]), [16, 16, 8]);
    const p = (x: number, y: number, z: number) => P[(x * 16 + y) * 8 + z];
    const got = volume.data as Float32Array;
    const at = (x: number, y: number, z: number) => got[(x * 32 + y) * 8 + z];
    expect(at(0, 0, 3)).toBeCloseTo(p(0, 0, 3), 5);
    for (const [j, k, z] of [
      [3, 5, 2],
      [10, 0, 7],
    ]) {
      // x = 2j + 1 (0.75, 0.25 of j, j+1) and y = 2k: position k − 0.25 (0.25, 0.75 of k−1, k), k = 0 clamps
      const wy = k === 0 ? [0, 1] : [0.25, 0.75];
      const row = (jj: number) => wy[0] * p(jj, Math.max(0, k - 1), z) + wy[1] * p(jj, k, z);
      expect(at(2 * j + 1, 2 * k, z)).toBeCloseTo(0.75 * row(j) + 0.25 * row(j + 1), 5);
    }
    // the label map at the input geometry is the thresholded probability map
    const mask = await predictVolume(model, meta, vol);
    expect(mask.volume.shape).toEqual([32, 32, 8]);
    expect(Array.from(mask.volume.data)).toEqual(Array.from(got, (v) => (v >= 0.5 ? 1 : 0)));
    model.dispose();
  });

  it("BMS-like MRI record [-5, 5]: the record's window is applied, not [0, 4000]", async () => {
    const model = seg(12);
    const record: PreprocessingRecord = recordFor({
      modality: "MRI",
      window: [-5, 5],
      patchSize: [16, 16, 8],
      source: "bms-like test", // window only: the crop → patch scale has its own test in @models-genesis/tasks
    });
    const meta = { ...defaultMetadata(model), preprocessing: record };
    const vol = ctVolume([16, 16, 8], 5);
    for (let i = 0; i < vol.data.length; i++) vol.data[i] = vol.data[i] / 200; // z-scored-like, [-6, 6]
    const { volume, info } = await predictVolume(model, meta, vol, { output: "probabilities" });
    expect(info.preprocessing.window).toEqual([-5, 5]);
    expect(info.resampled).toBe(false);
    // the window by hand: clip to [-5, 5], (v + 5) / 10
    const byHand = Float32Array.from(vol.data, (v) => (Math.min(5, Math.max(-5, v)) + 5) / 10);
    const want = await forward(model, byHand, [16, 16, 8]);
    expect(maxDiff(volume.data as Float32Array, want)).toBeLessThan(1e-6);
    // what the old metadata made of it (MRI [0, 4000]) is another input and another answer
    const old = windowIntensity(vol.data, [0, 4000]);
    expect(maxDiff(byHand, old)).toBeGreaterThan(0.99);
    const wrong = await forward(model, old, [16, 16, 8]);
    expect(maxDiff(volume.data as Float32Array, wrong)).toBeGreaterThan(1e-4);
    expect(volume.shape).toEqual(vol.shape);
    expect(volume.spacing).toEqual(vol.spacing);
    expect(volume.origin).toEqual(vol.origin);
    model.dispose();
  });

  it("spacing record: the model sees the record's spacing; the output is on the input grid", async () => {
    const model = seg(13);
    const meta = {
      ...defaultMetadata(model),
      preprocessing: recordFor({
        modality: "CT",
        spacing: [1.4, 1.6, 2.5],
        patchSize: [16, 16, 8],
        source: "t",
      }),
    };
    const vol = ctVolume([32, 32, 8], 6); // spacing 0.7, 0.8, 2.5 → 16×16×8 at 1.4, 1.6, 2.5
    const { volume, info } = await predictVolume(model, meta, vol, { output: "probabilities" });
    expect(info.modelGridShape).toEqual([16, 16, 8]);
    expect(volume.shape).toEqual([32, 32, 8]);
    // origin mapping: even input voxels sit exactly on model voxels (z untouched)
    const grid = new Float32Array(16 * 16 * 8);
    for (let x = 0; x < 16; x++)
      for (let y = 0; y < 16; y++)
        for (let z = 0; z < 8; z++) {
          // trilinear at input (2x, 2y, z) is the input voxel itself
          grid[(x * 16 + y) * 8 + z] = vol.data[(2 * x * 32 + 2 * y) * 8 + z];
        }
    const P = await forward(model, windowIntensity(grid, [-1000, 1000]), [16, 16, 8]);
    const got = volume.data as Float32Array;
    expect(got[(2 * 5 * 32 + 2 * 7) * 8 + 3]).toBeCloseTo(P[(5 * 16 + 7) * 8 + 3], 5);
    expect(got[((2 * 5 + 1) * 32 + 2 * 7) * 8 + 3]).toBeCloseTo(
      0.5 * (P[(5 * 16 + 7) * 8 + 3] + P[(6 * 16 + 7) * 8 + 3]),
      5,
    );
    model.dispose();
  });

  it("orientation record: an LPS-stored volume is predicted in RAS and mapped back voxel for voxel", async () => {
    const model = seg(14);
    const ras = {
      ...defaultMetadata(model),
      preprocessing: recordFor({ modality: "CT", orientation: "RAS", patchSize: [16, 16, 8], source: "t" }),
    };
    const vol: Volume<Float32Array> = {
      ...ctVolume([16, 16, 8], 7),
      direction: [
        [-1, 0, 0],
        [0, -1, 0],
        [0, 0, 1],
      ],
    };
    expect(orientationCode(vol)).toBe("LPS");
    const { volume, info } = await predictVolume(model, ras, vol, { output: "probabilities" });
    expect(info.reoriented).toBe(true);
    expect(volume.direction).toEqual(vol.direction);
    expect(volume.origin).toEqual(vol.origin);
    // by hand: reorient, predict without orientation, reorient back
    const turned = reorientToCanonical(vol, "RAS");
    const plain = { ...defaultMetadata(model), preprocessing: { ...ras.preprocessing, orientation: null } };
    const inRas = await predictVolume(model, plain, turned, { output: "probabilities" });
    const back = reorientToCanonical(inRas.volume, "LPS");
    expect(maxDiff(volume.data as Float32Array, back.data as Float32Array)).toBe(0);
    model.dispose();
  });

  it("a model saved before the record (format 1 fixture) predicts with its upgraded record: MRI [0, 4000], 32×32×16 patches", async () => {
    const dir = new URL("../../models/test/fixtures/old-format-v1", import.meta.url).pathname;
    const { model, metadata } = await loadModel(dir);
    const vol = ctVolume([32, 32, 16], 8);
    for (let i = 0; i < vol.data.length; i++) vol.data[i] = 2000 + vol.data[i];
    const { volume, info } = await predictVolume(model, metadata, vol, { output: "probabilities" });
    expect(info.patchSize).toEqual([32, 32, 16]);
    expect(info.patches).toBe(1);
    const y = tf.tidy(() =>
      model.forward(tf.tensor(windowIntensity(vol.data, [0, 4000]), [1, 32, 32, 16, 1]), {
        training: false,
        bnMode: "running-statistics",
      }),
    );
    const want = (await y.data()) as Float32Array;
    y.dispose();
    expect(maxDiff(volume.data as Float32Array, want)).toBeLessThan(1e-6);
    model.dispose();
  });

  it("parsePatchSize reads XxYxZ (and the old r,c,d) and names the flag", () => {
    expect(parsePatchSize("64x64x32")).toEqual([64, 64, 32]);
    expect(parsePatchSize("32,32,16")).toEqual([32, 32, 16]);
    expect(() => parsePatchSize("64x64")).toThrow(
      '--patch-size must be three positive integers XxYxZ (e.g. 64x64x32), got "64x64"',
    );
  });
});
