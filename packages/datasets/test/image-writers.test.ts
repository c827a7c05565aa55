import { join } from "node:path";
import { readVolume, type Vec3, type Volume } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { roundVoxel, voxelToWorldLps, worldLpsToVoxel } from "../src/geometry.js";
import { subVolume, writeMetaImage, writeNiftiAs } from "../src/image-writers.js";
import { bundledData, withTmp } from "./shared.js";

/** The same real CT stored with axis x reversed and x/y swapped: other voxel order, identical world content. */
function permuted(vol: Volume): Volume {
  const [nx, ny, nz] = vol.shape;
  const data = new Float32Array(vol.data.length);
  // new (a, b, c) = old (x = nx − 1 − b, y = a, z = c)
  for (let a = 0; a < ny; a++)
    for (let b = 0; b < nx; b++)
      for (let c = 0; c < nz; c++) data[(a * nx + b) * nz + c] = vol.data[((nx - 1 - b) * ny + a) * nz + c];
  const d = vol.direction;
  const direction = [0, 1, 2].map((r) => [d[r][1], -d[r][0], d[r][2]]) as Volume["direction"];
  const origin = [0, 1, 2].map((r) => vol.origin[r] + d[r][0] * vol.spacing[0] * (nx - 1)) as Vec3;
  return {
    ...vol,
    data,
    shape: [ny, nx, nz],
    spacing: [vol.spacing[1], vol.spacing[0], vol.spacing[2]],
    direction,
    origin,
  };
}

/** The COPDGene chest CT shipped in apps/cli/sample (see {@link bundledData}). */
const CT64 = join(bundledData(), "ct/chest_copdgene_cip_ct64/ct.nii.gz");

describe("sample-layout writers on the real CIP chest CT", () => {
  it("writeMetaImage keeps every voxel at its world position, whatever the input axis order", async () => {
    await withTmp(async (dir) => {
      const ct = await readVolume(CT64);
      for (const [name, vol] of [
        ["native", ct],
        ["permuted", permuted(ct)],
      ] as const) {
        const path = join(dir, `${name}.mhd`);
        await writeMetaImage(path, vol);
        const back = await readVolume(path);
        expect(back.shape).toEqual([64, 64, 79]);
        for (const v of [
          [0, 0, 0],
          [10, 50, 70],
          [63, 1, 40],
          [31, 32, 78],
        ] as Vec3[]) {
          const w = voxelToWorldLps(vol, v);
          const u = roundVoxel(worldLpsToVoxel(back, w));
          const [, ny, nz] = vol.shape;
          expect(back.data[(u[0] * 64 + u[1]) * 79 + u[2]]).toBe(vol.data[(v[0] * ny + v[1]) * nz + v[2]]);
        }
      }
    });
  });

  it("subVolume + writeNiftiAs round-trip geometry and values", async () => {
    await withTmp(async (dir) => {
      const ct = await readVolume(CT64);
      const part = subVolume(ct, [5, 6, 7], [20, 30, 40]);
      await writeNiftiAs(join(dir, "p.nii.gz"), part, "int16");
      const back = await readVolume(join(dir, "p.nii.gz"));
      expect(back.shape).toEqual([20, 30, 40]);
      // voxel (0,0,0) of the part is voxel (5,6,7) of the CT, at the same world position
      expect(back.data[0]).toBe(ct.data[(5 * 64 + 6) * 79 + 7]);
      const w = voxelToWorldLps(back, [0, 0, 0]);
      const src = worldLpsToVoxel(ct, w);
      for (const [i, c] of [5, 6, 7].entries()) expect(src[i]).toBeCloseTo(c, 3);
    });
  });
});
