import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readVolume } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { bratsReferenceSplit, discoverBrats, readFoldFile } from "../src/brats.js";
import { PyRandom } from "../src/random.js";
import { buildBmsSampleLayout } from "../src/samples.js";
import { sampleWindows } from "../src/sampling.js";
import { DATA, HAS_SHARED, withTmp } from "./shared.js";

describe.skipIf(!HAS_SHARED)(
  "BraTS-2018 layout on the real BraTS 2015 cases (needs ../shared: CC BY-NC-SA, never shipped)",
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

    it("fold files: header skipped, unknown cases refused", async () => {
      await withTmp(async (dir) => {
        await writeFile(join(dir, "f.csv"), "FileName\nA\nB\n");
        expect(await readFoldFile(join(dir, "f.csv"))).toEqual(["A", "B"]);
        await expect(readFoldFile(join(dir, "f.csv"), ["A"])).rejects.toThrow(
          /1 case\(s\) not found in the data \(first: B\)/,
        );
      });
    });
  },
);
