import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { affineOf, readVolume, type Vec3 } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { roundVoxel, voxelToWorldLps, worldLpsToVoxel } from "../src/geometry.js";
import { lidcPatientOf } from "../src/lidc.js";
import {
  discoverLuna16,
  extractCandidateCube,
  luna16PartOfSubset,
  readLuna16Annotations,
  readLuna16Candidates,
} from "../src/luna16.js";
import { prepareNcc } from "../src/prepare.js";
import { bundledData, DATA, HAS_SHARED, withTmp } from "./shared.js";

const CIP = join(DATA, "ct/chest_copdgene_cip_ct64");
/** The LIDC-IDRI VOIs shipped in apps/cli/sample, in the shared layout (see {@link bundledData}). */
const BUNDLED = bundledData();
const VOIS = join(BUNDLED, "ct/lidc_nodule_vois");

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
