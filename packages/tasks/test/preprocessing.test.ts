/**
 * Each task's preparation returns the record of what it did (window, modality, resize, crop, patch
 * size), on data shipped with the repository (apps/cli/sample: LIDC VOIs, fixtures/lidc/nodules.csv).
 */
import { copyFile, mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadVolume } from "@models-genesis/datasets";
import { describe, expect, it } from "vitest";
import { prepareBms } from "../src/bms/prepare.js";
import { BMS_SAMPLE_WINDOW } from "../src/bms/sample.js";
import { prepareNcc } from "../src/ncc/prepare.js";
import { prepareNcs } from "../src/ncs/prepare.js";
import { TASK_CONFIGS } from "../src/registry.js";
import { bundledData, withTmp } from "./shared.js";

/** The LIDC VOI sample bundled with the repository (image/ + mask/). */
const VOIS = resolve(__dirname, "../../../apps/cli/sample/lidc-voi");

describe("preparation → PreprocessingRecord", () => {
  it("NCS on the bundled VOIs: CT [−1000, 1000] → [0, 1], 64×64×32, nothing resampled or cropped", async () => {
    await withTmp(async (dir) => {
      const p = await prepareNcs({ data: VOIS, out: dir, quick: true, seed: 0, sampleLimit: 6 });
      expect(p.preprocessing).toEqual({
        modality: "CT",
        window: [-1000, 1000],
        range: [0, 1],
        spacing: null,
        resize: null,
        crop: null,
        patchSize: [64, 64, 32],
        orientation: null,
        source: `@models-genesis/tasks ncs preparation (${TASK_CONFIGS.ncs.source})`,
      });
      // the arrays are what the record says: the cube's centre voxel is its HU through the window
      const a = p.folds[0].test;
      const id = a.ids[0];
      const image = await loadVolume(join(VOIS, "image", `${id}.nii.gz`));
      const mask = await loadVolume(join(VOIS, "mask", `${id}.nii.gz`));
      expect(a.xShape.slice(1)).toEqual([64, 64, 32, 1]);
      // the cube centre (32, 32, 16) sits on the mask centroid, rounded
      let n = 0;
      const c = [0, 0, 0];
      const [nx, ny, nz] = mask.shape;
      for (let x = 0; x < nx; x++)
        for (let y = 0; y < ny; y++)
          for (let z = 0; z < nz; z++)
            if (mask.data[(x * ny + y) * nz + z] > 0) {
              c[0] += x;
              c[1] += y;
              c[2] += z;
              n++;
            }
      const v = c.map((s) => Math.round(s / n));
      const hu = image.data[(v[0] * ny + v[1]) * nz + v[2]];
      expect(a.x[(32 * 64 + 32) * 32 + 16]).toBeCloseTo(Math.min(1, Math.max(0, (hu + 1000) / 2000)), 6);
    });
  });

  it("NCC on its sample layout (built from the bundled VOIs): CT, 64×64×32 candidate cubes", async () => {
    await withTmp(async (dir) => {
      const p = await prepareNcc({
        sampleData: bundledData(),
        out: dir,
        quick: true,
        seed: 0,
        sampleLimit: 6,
      });
      expect(p.sample).toBe(true);
      expect(p.preprocessing).toMatchObject({
        modality: "CT",
        window: [-1000, 1000],
        resize: null,
        crop: null,
        patchSize: [64, 64, 32],
      });
      expect(p.folds[0].train.xShape.slice(1)).toEqual([64, 64, 32, 1]);
    });
  });

  it("BMS on its sample layout: MRI with the sample's z-score window [−5, 5], crop 100×100×50 → 64×64×32", async () => {
    await withTmp(async (dir) => {
      // a shared-data-like folder in the DeepMedic BraTS layout, made of bundled VOIs (values in HU,
      // windowed like z-scores: a pipeline check of the record, not of BraTS)
      const shared = join(dir, "shared");
      const names = (await readdir(join(VOIS, "image"))).sort().slice(0, 6);
      for (const [k, name] of names.entries()) {
        const part = k < 3 ? "train" : k < 4 ? "validation" : "test";
        const caseDir = join(shared, "mri/brats2015_deepmedic", part, `case${k}`);
        await mkdir(caseDir, { recursive: true });
        await copyFile(join(VOIS, "image", name), join(caseDir, "Flair_subtrMeanDivStd.nii.gz"));
        await copyFile(join(VOIS, "image", name), join(caseDir, "T1c_subtrMeanDivStd.nii.gz"));
        await copyFile(join(VOIS, "mask", name), join(caseDir, "OTMultiClass.nii.gz"));
      }
      const p = await prepareBms({
        sampleData: shared,
        out: join(dir, "out"),
        quick: true,
        seed: 0,
        windowsPerCase: 1,
      });
      expect(p.sample).toBe(true);
      expect(BMS_SAMPLE_WINDOW).toEqual([-5, 5]);
      expect(p.preprocessing).toMatchObject({
        modality: "MRI",
        window: [-5, 5],
        range: [0, 1],
        resize: [0.64, 0.64, 0.64],
        crop: [100, 100, 50],
        patchSize: [64, 64, 32],
      });
      expect(p.preprocessing.source).toMatch(/^BMS sample layout: z-scored FLAIR windowed \[-5, 5\]/);
      expect(p.notes.intensityWindow).toEqual({ min: -5, max: 5 });
      // HU through [−5, 5]: air (−1000) → 0, soft tissue and nodule (> 5) → 1
      const x = p.folds[0].test.x;
      expect(x.length).toBeGreaterThan(0);
      expect(x.reduce((a, v) => Math.min(a, v), 1)).toBe(0);
      expect(x.reduce((a, v) => Math.max(a, v), 0)).toBe(1);
    });
  });
});
