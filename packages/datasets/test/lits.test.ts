import { join } from "node:path";
import { readVolume } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { discoverLits, litsPart, prepareLitsCase } from "../src/lits.js";
import { PyRandom } from "../src/random.js";
import { buildLcsSampleLayout } from "../src/samples.js";
import { gridWindows, sampleWindows } from "../src/sampling.js";
import { DATA, HAS_SHARED, withTmp } from "./shared.js";

describe("LiTS split by case number", () => {
  it("0–99 train, 100–114 validation, 115–129 test", () => {
    expect([0, 99, 100, 114, 115, 129, 130].map(litsPart)).toEqual([
      "train",
      "train",
      "val",
      "val",
      "test",
      "test",
      null,
    ]);
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
