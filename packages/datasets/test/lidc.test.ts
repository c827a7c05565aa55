import { mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readVolume, writeNpy } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { stackSamples } from "../src/arrays.js";
import { discoverLidcPairs, lidcPatientOf, ncsCubes, readNcsArrays, writeNcsArrays } from "../src/lidc.js";
import { groupSplit } from "../src/splits.js";
import { bundledData, withTmp } from "./shared.js";

/** The LIDC-IDRI VOIs shipped in apps/cli/sample (see {@link bundledData}). */
const VOIS = join(bundledData(), "ct/lidc_nodule_vois");

/** Link the first `n` VOIs (sorted names) of {@link VOIS} into `dir/image` and `dir/mask`; returns `n`. */
async function linkVois(dir: string, n: number): Promise<number> {
  const names = (await readdir(join(VOIS, "image"))).sort().slice(0, n);
  for (const sub of ["image", "mask"]) {
    await mkdir(join(dir, sub), { recursive: true });
    for (const f of names) await symlink(join(VOIS, sub, f), join(dir, sub, f));
  }
  return names.length;
}

describe("LIDC nodule segmentation (NCS) on the real VOIs", () => {
  it("pairs image/mask, splits by patient, cuts 64×64×32 cubes around the nodule and round-trips the reference arrays", async () => {
    await withTmp(async (dir) => {
      const layout = join(dir, "lidc");
      const built = { cases: await linkVois(layout, 12) };
      const pairs = await discoverLidcPairs(layout);
      expect(pairs.length).toBe(built.cases);
      expect(pairs.length).toBeGreaterThanOrEqual(12);
      expect(pairs[0]).toMatchObject({ id: "LIDC-IDRI-0001_R_1", patient: "LIDC-IDRI-0001" });

      const split = groupSplit(
        pairs.map((p) => p.id),
        lidcPatientOf,
        { fractions: { train: 0.7, val: 0.1 }, seed: 0 },
      );
      const pOf = (ids: string[]) => new Set(ids.map(lidcPatientOf));
      for (const p of pOf(split.test)) expect(pOf(split.train).has(p) || pOf(split.val).has(p)).toBe(false);

      const samples = [];
      for (const p of pairs.slice(0, 4)) {
        const image = await readVolume(p.image);
        const mask = await readVolume(p.mask);
        const { x, y, centre } = ncsCubes(image, mask);
        // centre voxel of the cube is the image voxel at the mask centroid, windowed to [0, 1]
        const [, ny, nz] = image.shape;
        const hu = image.data[(centre[0] * ny + centre[1]) * nz + centre[2]];
        expect(x[(32 * 64 + 32) * 32 + 16]).toBeCloseTo(Math.min(1, Math.max(0, (hu + 1000) / 2000)), 6);
        let inMask = 0;
        for (let i = 0; i < mask.data.length; i++) inMask += mask.data[i] > 0 ? 1 : 0;
        const inCube = y.reduce((a, v) => a + v, 0);
        // the whole nodule fits into 64×64×32 unless the VOI is deeper than 32 slices
        if (image.shape[2] <= 32 && image.shape[0] <= 64 && image.shape[1] <= 64) expect(inCube).toBe(inMask);
        else expect(inCube).toBeLessThanOrEqual(inMask);
        expect(inCube).toBeGreaterThan(0);
        expect(x.reduce((a, v) => Math.min(a, v), 1)).toBeGreaterThanOrEqual(0);
        expect(x.reduce((a, v) => Math.max(a, v), 0)).toBeLessThanOrEqual(1);
        samples.push({ id: p.id, x, y });
      }
      const arrays = stackSamples(samples, [64, 64, 32]);
      expect(arrays.xShape).toEqual([4, 64, 64, 32, 1]);
      await writeNcsArrays(dir, "valid", arrays);
      const back = await readNcsArrays(dir, "valid");
      expect(back.xShape).toEqual([4, 64, 64, 32, 1]);
      const firstDiff = (a: Float32Array, b: Float32Array) =>
        a.length !== b.length ? -2 : a.findIndex((v, i) => v !== b[i]);
      expect(firstDiff(back.x, arrays.x)).toBe(-1);
      expect(firstDiff(back.y, arrays.y)).toBe(-1);
      // the reference's (N, 1, 64, 64, 32) layout is accepted too; a wrong size is refused
      await writeNpy(join(dir, "x_test_64x64x32.npy"), { data: arrays.x, shape: [4, 1, 64, 64, 32] });
      await writeNpy(join(dir, "m_test_64x64x32.npy"), { data: arrays.y, shape: [4, 64, 64, 32, 1] });
      expect((await readNcsArrays(dir, "test")).xShape).toEqual([4, 64, 64, 32, 1]);
      await writeNpy(join(dir, "x_train_64x64x32.npy"), { data: arrays.x, shape: [4, 64, 32, 64] });
      await writeNpy(join(dir, "m_train_64x64x32.npy"), { data: arrays.y, shape: [4, 64, 64, 32] });
      await expect(readNcsArrays(dir, "train")).rejects.toThrow(/is not \(N, 64, 64, 32\)/);
    });
  });

  it("names a missing mask", async () => {
    await withTmp(async (dir) => {
      await linkVois(dir, 2);
      const { rm } = await import("node:fs/promises");
      await rm(join(dir, "mask", "LIDC-IDRI-0001_R_1.nii.gz"));
      await expect(discoverLidcPairs(dir)).rejects.toThrow(
        /LIDC-IDRI-0001_R_1: missing mask for image LIDC-IDRI-0001_R_1.nii.gz/,
      );
      await writeFile(join(dir, "image", "nopatient.nii.gz"), "");
      expect(() => lidcPatientOf("nopatient")).toThrow(/no LIDC-IDRI-NNNN/);
    });
  });
});
