/**
 * `predictVolume` on synthetic volumes (no data files: runs on a fresh clone) with tiny models on
 * the cpu backend: a volume of exactly one patch gives the network's own output on the windowed
 * input; the window grid and count are the sliding-window rule's; geometry is kept; bad input is
 * refused by name. (Real-CT tests through `genesis predict` live in apps/cli.)
 */
import { initBackend } from "@models-genesis/kernels";
import { createModel, defaultMetadata } from "@models-genesis/models";
import type { Volume } from "@models-genesis/volume-io";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { applyIntensityWindow, predictVolume } from "../src/index.js";

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
    const x = applyIntensityWindow(vol.data, meta.intensity);
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
    const x = applyIntensityWindow(vol.data, defaultMetadata(model).intensity);
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
});
