import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { affineOf, readVolume, type Vec3 } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { voxelToWorldLps, worldLpsToVoxel } from "../src/geometry.js";
import {
  discoverLuna16,
  extractCandidateCube,
  luna16PartOfSubset,
  readLuna16Annotations,
  readLuna16Candidates,
} from "../src/luna16.js";
import { DATA, HAS_SHARED, withTmp } from "./shared.js";

const CIP = join(DATA, "ct/chest_copdgene_cip_ct64");

describe("LUNA16 layout on the real CIP chest CT (.mhd/.raw)", () => {
  it.skipIf(!HAS_SHARED)(
    "discovers subsets, reads candidates and maps LPS world to voxels through the affine (needs ../shared: the CIP CT's .mhd/.raw are not shipped)",
    async () => {
      await withTmp(async (dir) => {
        const uid = "1.2.840.113654.2.55.cip64";
        await mkdir(join(dir, "subset3"));
        await mkdir(join(dir, "subset8"));
        // the .mhd names ct.raw: keep that name beside the renamed header
        await writeFile(
          join(dir, "subset3", `${uid}.mhd`),
          (await import("node:fs")).readFileSync(join(CIP, "ct.mhd")),
        );
        await symlink(join(CIP, "ct.raw"), join(dir, "subset3", "ct.raw"));
        // Offset = -128.4138031 -264.4138184 -360.2563171 (LPS), spacing 4.171872139 4.171872139 3.987341881
        const voxel: Vec3 = [30, 40, 50];
        const lps: Vec3 = [
          -128.4138031 + 30 * 4.171872139,
          -264.4138184 + 40 * 4.171872139,
          -360.2563171 + 50 * 3.987341881,
        ];
        await writeFile(
          join(dir, "candidates_V2.csv"),
          `seriesuid,coordX,coordY,coordZ,class\n${uid},${lps.join(",")},1\n${uid},0,0,0,0\n`,
        );
        await writeFile(
          join(dir, "annotations.csv"),
          `seriesuid,coordX,coordY,coordZ,diameter_mm\n${uid},${lps.join(",")},6.5\n`,
        );

        const scans = await discoverLuna16(dir);
        expect(scans).toEqual([{ seriesuid: uid, subset: 3, path: join(dir, "subset3", `${uid}.mhd`) }]);
        expect(luna16PartOfSubset(scans[0].subset)).toBe("train");
        const cands = await readLuna16Candidates(join(dir, "candidates_V2.csv"));
        expect(cands.map((c) => c.label)).toEqual([1, 0]);
        expect((await readLuna16Annotations(join(dir, "annotations.csv")))[0].diameterMm).toBe(6.5);

        const vol = await readVolume(scans[0].path);
        const v = worldLpsToVoxel(vol, cands[0].world);
        for (const i of [0, 1, 2]) expect(v[i]).toBeCloseTo(voxel[i], 4);
        // independent check through volume-io's RAS affine: affine · [v,1] = RAS = (−L, −P, S)
        const a = affineOf(vol);
        const ras = [0, 1, 2].map((r) => a[r][0] * v[0] + a[r][1] * v[1] + a[r][2] * v[2] + a[r][3]);
        expect(ras[0]).toBeCloseTo(-lps[0], 3);
        expect(ras[1]).toBeCloseTo(-lps[1], 3);
        expect(ras[2]).toBeCloseTo(lps[2], 3);
        const w = voxelToWorldLps(vol, voxel);
        for (const i of [0, 1, 2]) expect(w[i]).toBeCloseTo(lps[i], 3);

        const cube = extractCandidateCube(vol, cands[0].world);
        expect(cube.length).toBe(64 * 64 * 32);
        const at = (x: number, y: number, z: number) => vol.data[(x * 64 + y) * 79 + z];
        // cube voxel (i,j,k) = scan voxel (30−32+i, 40−32+j, 50−16+k)
        expect(cube[(32 * 64 + 32) * 32 + 16]).toBe(at(30, 40, 50));
        expect(cube[(2 * 64 + 8) * 32 + 0]).toBe(at(0, 16, 34));
        // x < 0 and y ≥ 64 are outside the 64×64×79 scan: padded with −1000 HU
        expect(cube[(0 * 64 + 0) * 32 + 0]).toBe(-1000);
        expect(cube[(40 * 64 + 63) * 32 + 0]).toBe(-1000);
      });
    },
  );

  it("rejects a folder without subsets", async () => {
    await withTmp(async (dir) => {
      await expect(discoverLuna16(dir)).rejects.toThrow(/no subset0…subset9 folders/);
    });
  });
});
