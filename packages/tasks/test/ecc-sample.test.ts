import { join } from "node:path";
import {
  eccFolds,
  extractCandidateCube,
  readEccCandidates,
  roundVoxel,
  worldLpsToVoxel,
} from "@models-genesis/datasets";
import { readVolume, type Vec3 } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { prepareEcc } from "../src/ecc/prepare.js";
import { DATA, HAS_SHARED, withTmp } from "./shared.js";

describe.skipIf(!HAS_SHARED)(
  "ECC candidate list over the real CTA volumes (needs ../shared: the TotalSegmentator CTAs are not shipped)",
  () => {
    it("labels follow the stated rule against the original vessel masks; 3-fold CV by volume", async () => {
      await withTmp(async (dir) => {
        const prepared = await prepareEcc({ sampleData: DATA, out: dir, quick: true, seed: 0 });
        const r = {
          positives: prepared.notes.samplePositives as number,
          negatives: prepared.notes.sampleNegatives as number,
        };
        expect(prepared.notes.sampleVolumes).toBe(4);
        const cands = await readEccCandidates(join(dir, "sample-layout", "candidates.csv"));
        expect(cands.length).toBe(r.positives + r.negatives);
        expect(r.negatives).toBe(24); // 6 per half volume (quick)
        expect(r.positives).toBe(24); // every half volume reaches into its vessel mask
        // arrays per fold: 64×64×64 cubes; each candidate is tested exactly once across the 3 folds
        expect(prepared.folds.length).toBe(3);
        expect(prepared.folds[0].train.xShape.slice(1)).toEqual([64, 64, 64, 1]);
        expect(prepared.folds.reduce((s, f) => s + f.test.xShape[0], 0)).toBe(cands.length);
        const originals = {
          pulmonary: [
            join(DATA, "ct/chest_cta_totalseg_pulmonary/ct.nii.gz"),
            join(DATA, "ct/chest_cta_totalseg_pulmonary/pulmonary_artery.nii.gz"),
          ],
          aorta: [
            join(DATA, "ct/chest_cta_totalseg_aorta/ct.nii.gz"),
            join(DATA, "ct/chest_cta_totalseg_aorta/aorta.nii.gz"),
          ],
        };
        const halves = new Map<string, Awaited<ReturnType<typeof readVolume>>>();
        for (const [name, [ctPath, maskPath]] of Object.entries(originals)) {
          const ct = await readVolume(ctPath);
          const mask = await readVolume(maskPath);
          for (const c of cands.filter((x) => x.volume.includes(name))) {
            const v = roundVoxel(worldLpsToVoxel(mask, c.world));
            const i = (v[0] * mask.shape[1] + v[1]) * mask.shape[2] + v[2];
            expect(mask.data[i] > 0 ? 1 : 0).toBe(c.label);
            if (c.label === 0) expect(ct.data[i]).toBeGreaterThan(-500);
            // the written half volume holds the same HU at the candidate
            if (!halves.has(c.path)) halves.set(c.path, await readVolume(c.path));
            const half = halves.get(c.path)!;
            const cube = extractCandidateCube(half, c.world, [64, 64, 64]);
            expect(cube[(32 * 64 + 32) * 64 + 32]).toBe(ct.data[i]);
          }
        }
        const folds = eccFolds(cands, 0);
        expect(folds.length).toBe(3);
        const vols = [...new Set(cands.map((c) => c.volume))].sort();
        expect(folds.flatMap((f) => f.test).sort()).toEqual(vols);
        for (const f of folds) {
          const all: string[] = [...f.train, ...f.val, ...f.test];
          expect(new Set(all).size).toBe(all.length);
          expect(f.train.length).toBeGreaterThan(0);
        }
        const first: Vec3 = cands[0].world;
        expect(first.every(Number.isFinite)).toBe(true);
      });
    });
  },
);
