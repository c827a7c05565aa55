/**
 * The sample layouts (demo fixtures built from the shared or bundled real data) of each task folder,
 * read back with the datasets readers; and where the runner finds the shared data.
 */
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import {
  bratsReferenceSplit,
  discoverBrats,
  discoverLits,
  discoverLuna16,
  extractCandidateCube,
  gridWindows,
  lidcPatientOf,
  litsPart,
  PyRandom,
  prepareLitsCase,
  readFoldFile,
  readLuna16Candidates,
  roundVoxel,
  sampleWindows,
  worldLpsToVoxel,
} from "@models-genesis/datasets";
import { readVolume, type Vec3 } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { locateSampleData } from "../src/app.js";
import { buildBmsSampleLayout } from "../src/bms/sample.js";
import { buildLcsSampleLayout } from "../src/lcs/sample.js";
import { prepareNcc } from "../src/ncc/prepare.js";
import { bundledData, DATA, HAS_SHARED, REPO_ROOT, withTmp } from "./shared.js";

/** The LIDC-IDRI VOIs shipped in apps/cli/sample, in the shared layout (see {@link bundledData}). */
const BUNDLED = bundledData();
const VOIS = join(BUNDLED, "ct/lidc_nodule_vois");

describe("NCC sample layout from the LIDC nodule VOIs", () => {
  it("writes LUNA16-style scans whose positives sit on nodule masks and negatives in aerated lung off the masks", async () => {
    await withTmp(async (dir) => {
      const prepared = await prepareNcc({
        sampleData: BUNDLED,
        out: dir,
        quick: true,
        seed: 0,
        sampleLimit: 14,
      });
      const r = {
        positives: prepared.notes.samplePositives as number,
        negatives: prepared.notes.sampleNegatives as number,
      };
      expect(prepared.notes.sampleScans).toBe(14);
      const layout = join(dir, "sample-layout");
      const scans = await discoverLuna16(layout);
      expect(scans.length).toBe(14);
      // patient-level subsets: a patient lives in one subset only
      const subsetOf = new Map<string, number>();
      for (const s of scans) {
        const p = lidcPatientOf(s.seriesuid);
        if (subsetOf.has(p)) expect(subsetOf.get(p)).toBe(s.subset);
        subsetOf.set(p, s.subset);
      }
      const cands = await readLuna16Candidates(join(layout, "candidates_V2.csv"));
      expect(cands.filter((c) => c.label === 1).length).toBe(r.positives);
      // arrays: 64×64×32 cubes, every positive kept, negatives at most 2 per positive (quick)
      const a = prepared.folds[0];
      const parts = [a.train, a.val, a.test];
      expect(parts.reduce((s, p) => s + p.y.filter((v) => v === 1).length, 0)).toBe(r.positives);
      for (const p of parts) {
        expect(p.xShape.slice(1)).toEqual([64, 64, 32, 1]);
        const pos = p.y.filter((v) => v === 1).length;
        expect(p.y.length - pos).toBeLessThanOrEqual(2 * pos);
      }
      const splits = JSON.parse(await readFile(join(dir, "splits.json"), "utf8"));
      const trainScans = new Set(splits.folds[0].train);
      expect(a.train.ids.every((id) => trainScans.has(id.split("@")[0]))).toBe(true);
      expect([...trainScans].every((uid) => scans.find((s) => s.seriesuid === uid)!.subset <= 4)).toBe(true);
      expect(cands.filter((c) => c.label === 0).length).toBe(r.negatives);
      expect(r.positives).toBeGreaterThanOrEqual(14);
      expect(r.negatives).toBeGreaterThan(5);
      let checked = 0;
      for (const s of scans.slice(0, 6)) {
        const mhd = await readVolume(s.path);
        const img = await readVolume(join(VOIS, "image", `${s.seriesuid}.nii.gz`));
        const mask = await readVolume(join(VOIS, "mask", `${s.seriesuid}.nii.gz`));
        for (const c of cands.filter((x) => x.seriesuid === s.seriesuid)) {
          // the written .mhd and the original NIfTI agree at the candidate's world position
          const vm = roundVoxel(worldLpsToVoxel(mhd, c.world));
          const vn = roundVoxel(worldLpsToVoxel(img, c.world));
          const idx = (v: Vec3, sh: Vec3) => (v[0] * sh[1] + v[1]) * sh[2] + v[2];
          expect(mhd.data[idx(vm, mhd.shape)]).toBe(img.data[idx(vn, img.shape)]);
          const cube = extractCandidateCube(mhd, c.world);
          expect(cube[(32 * 64 + 32) * 32 + 16]).toBe(img.data[idx(vn, img.shape)]);
          if (c.label === 0) {
            expect(mask.data[idx(vn, mask.shape)]).toBe(0);
            expect(img.data[idx(vn, img.shape)]).toBeLessThan(-300);
          }
          checked++;
        }
        // the VOI's own nodule: its centre lies in (or right next to) the radiologist mask
        const own = cands.find((x) => x.seriesuid === s.seriesuid && x.label === 1)!;
        const v = roundVoxel(worldLpsToVoxel(mask, own.world));
        let near = 0;
        for (let dx = -2; dx <= 2; dx++)
          for (let dy = -2; dy <= 2; dy++)
            for (let dz = -1; dz <= 1; dz++) {
              const w: Vec3 = [v[0] + dx, v[1] + dy, v[2] + dz];
              if (w.every((c, i) => c >= 0 && c < mask.shape[i]))
                near += mask.data[(w[0] * mask.shape[1] + w[1]) * mask.shape[2] + w[2]] > 0 ? 1 : 0;
            }
        expect(near).toBeGreaterThan(0);
      }
      expect(checked).toBeGreaterThan(6);
    });
  });
});

describe.skipIf(!HAS_SHARED)(
  "LiTS layout on the real abdominal CT (TotalSegmentator liver = label 5; needs ../shared: not shipped)",
  () => {
    it("writes volume-N/segmentation-N, maps liver to label 1, and samples 64×64×32 patches with a foreground ratio", async () => {
      await withTmp(async (dir) => {
        const built = await buildLcsSampleLayout(join(DATA, "ct"), dir);
        expect(built.cases.slice(0, 3)).toEqual([0, 100, 115]);
        const { cases } = await discoverLits(dir);
        expect(cases.map((c) => c.n)).toEqual(built.cases);
        expect(cases.map((c) => litsPart(c.n))).toEqual(
          ["train", "val", "test", "test"].slice(0, cases.length),
        );

        // liver voxel count: the three z-thirds together hold exactly the label-5 voxels of the source
        const src = await readVolume(join(DATA, "ct/abdomen_totalseg_example/seg_total_30slices.nii.gz"));
        let liver5 = 0;
        for (let i = 0; i < src.data.length; i++) liver5 += src.data[i] === 5 ? 1 : 0;
        expect(liver5).toBeGreaterThan(1000);
        let liver = 0;
        const prepared = [];
        for (const c of cases.filter((x) => x.n <= 115)) {
          const ct = await readVolume(c.volume);
          const seg = await readVolume(c.segmentation);
          const values = new Set(seg.data);
          expect([...values].every((v) => v === 0 || v === 1)).toBe(true);
          const p = prepareLitsCase(ct, seg, { inPlane: null });
          liver += p.mask.data.reduce((a, v) => a + v, 0);
          prepared.push(prepareLitsCase(ct, seg, { inPlane: 256 }));
        }
        expect(liver).toBe(liver5);
        const { image, mask } = prepared[0];
        expect(image.shape).toEqual([256, 256, 10]);

        const rng = new PyRandom(0);
        const fg = sampleWindows(image, mask, {
          crop: [64, 64, 32],
          n: 6,
          foregroundRatio: 1,
          rng,
          idPrefix: "volume-0",
        });
        for (const s of fg) {
          const y = s.y as Float32Array;
          expect(y[(32 * 64 + 32) * 32 + 16]).toBe(1); // centred on a liver voxel
          expect(s.x.length).toBe(64 * 64 * 32);
        }
        // foreground ratio 0: centres drawn uniformly; about the liver's share of the volume lands on liver
        const bg = sampleWindows(image, mask, {
          crop: [64, 64, 32],
          n: 200,
          foregroundRatio: 0,
          rng: new PyRandom(1),
          idPrefix: "v",
        });
        const onLiver = bg.filter((s) => (s.y as Float32Array)[(32 * 64 + 32) * 32 + 16] === 1).length / 200;
        const share = mask.data.reduce((a, v) => a + v, 0) / mask.data.length;
        expect(Math.abs(onLiver - share)).toBeLessThan(0.08);

        const grid = gridWindows(image, mask, { crop: [64, 64, 32], idPrefix: "volume-0" });
        expect(grid.length).toBe(4 * 4 * 1);
        const gridLiver = grid.reduce((a, s) => a + (s.y as Float32Array).reduce((b, v) => b + v, 0), 0);
        expect(gridLiver).toBe(mask.data.reduce((a, v) => a + v, 0));
      });
    });
  },
);

describe.skipIf(!HAS_SHARED)(
  "BMS sample layout on the real BraTS 2015 cases (needs ../shared: CC BY-NC-SA, never shipped)",
  () => {
    it("discovers case folders, reads fold files, splits as the reference and crops 100×100×50 → 64×64×32", async () => {
      await withTmp(async (dir) => {
        const built = await buildBmsSampleLayout(join(DATA, "mri"), dir);
        expect(built.cases.length).toBe(6);
        const cases = await discoverBrats(dir);
        expect(cases.map((c) => c.id)).toEqual([...built.cases].sort());
        expect(cases[0].t1ce).toMatch(/_t1ce\.nii\.gz$/);
        expect(cases[0].t2).toBeUndefined();
        const ids = cases.map((c) => c.id);
        const f = await Promise.all(
          [1, 2, 3].map((k) => readFoldFile(join(dir, "folds", `fold_${k}.csv`), ids)),
        );
        expect(f[0]).toEqual(["brats_2013_pat0005_1", "brats_2013_pat0006_1"]);
        const split = bratsReferenceSplit(f[0], f[1], f[2], 1);
        // CPython: a = [p5, p6, p3, p4]; random.Random(4).shuffle(a) -> order [2, 0, 3, 1]
        expect(split.val).toEqual(["brats_2013_pat0003_1"]);
        expect(split.train).toEqual(["brats_2013_pat0005_1", "brats_2013_pat0004_1", "brats_2013_pat0006_1"]);
        expect(split.test).toEqual(["brats_2013_pat0001_1", "brats_2013_pat0002_1"]);

        const c = cases.find((x) => x.id === "brats_2013_pat0005_1")!;
        const flair = await readVolume(c.flair);
        const seg = await readVolume(c.seg);
        expect(flair.shape).toEqual([240, 240, 155]);
        const wt = Float32Array.from(seg.data, (v) => (v > 0 ? 1 : 0));
        const windows = sampleWindows(
          { data: flair.data, shape: flair.shape },
          { data: wt, shape: seg.shape },
          {
            crop: [100, 100, 50],
            out: [64, 64, 32],
            n: 3,
            foregroundRatio: 1,
            rng: new PyRandom(0),
            idPrefix: c.id,
          },
        );
        for (const w of windows) {
          expect(w.x.length).toBe(64 * 64 * 32);
          const centre = w.id.split("@")[1].split(",").map(Number);
          // output voxel (32, 32, 16) samples crop voxel (50, 50, 25) = the window centre (nearest resize)
          expect((w.y as Float32Array)[(32 * 64 + 32) * 32 + 16]).toBe(1);
          expect(wt[(centre[0] * 240 + centre[1]) * 155 + centre[2]]).toBe(1);
        }
      });
    });
  },
);

describe("locateSampleData", () => {
  it("uses GENESIS_SHARED_DIR, else names what it tried", async () => {
    await withTmp(async (dir) => {
      const saved = process.env.GENESIS_SHARED_DIR;
      try {
        process.env.GENESIS_SHARED_DIR = join(dir, "nowhere");
        const fromTmp = () => locateSampleData(dir);
        // then <repo>/../shared/data from the working directory, whatever GENESIS_SHARED_DIR said
        const beside = resolve(REPO_ROOT, "../shared/data");
        if (existsSync(beside)) expect(fromTmp()).toBe(beside);
        else expect(fromTmp).toThrow(/no sample data found/);
        const data = bundledData();
        process.env.GENESIS_SHARED_DIR = resolve(data, "..");
        expect(locateSampleData(dir)).toBe(data);
      } finally {
        if (saved === undefined) delete process.env.GENESIS_SHARED_DIR;
        else process.env.GENESIS_SHARED_DIR = saved;
      }
    });
  });
});
