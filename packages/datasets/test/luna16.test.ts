import { mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { affineOf, collectVolumeInputs, readVolume, type Vec3 } from "@models-genesis/volume-io";
import { describe, expect, it } from "vitest";
import { voxelToWorldLps, worldLpsToVoxel } from "../src/geometry.js";
import { writeMetaImage } from "../src/image-writers.js";
import { loadVolume } from "../src/io.js";
import {
  discoverLuna16,
  extractCandidateCube,
  luna16PartOfSubset,
  readLuna16Annotations,
  readLuna16Candidates,
} from "../src/luna16.js";
import { DATA, HAS_SHARED, REPO_ROOT, withTmp } from "./shared.js";

const CIP = join(DATA, "ct/chest_copdgene_cip_ct64");
/** The same CIP chest CT shipped as NIfTI (`apps/cli/sample`, same bytes as `CIP/ct.nii.gz`). */
const BUNDLED_CT = join(REPO_ROOT, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");

/** Ways to put the CIP CT into `subset3/<uid>.mhd`: the original .mhd/.raw, or the bundled NIfTI written as one. */
const SOURCES = [
  {
    name: "the bundled NIfTI written as .mhd/.raw (runs anywhere)",
    skip: false,
    place: async (dir: string, uid: string) => {
      await writeMetaImage(join(dir, "subset3", `${uid}.mhd`), await loadVolume(BUNDLED_CT));
    },
  },
  {
    name: "the original .mhd/.raw (needs ../shared: not shipped)",
    skip: !HAS_SHARED,
    place: async (dir: string, uid: string) => {
      // the .mhd names ct.raw: keep that name beside the renamed header
      await writeFile(join(dir, "subset3", `${uid}.mhd`), await readFile(join(CIP, "ct.mhd")));
      await symlink(join(CIP, "ct.raw"), join(dir, "subset3", "ct.raw"));
    },
  },
];

describe("LUNA16 layout on the real CIP chest CT (.mhd/.raw)", () => {
  for (const source of SOURCES)
    it.skipIf(source.skip)(
      `discovers subsets, reads candidates and maps LPS world to voxels through the affine: ${source.name}`,
      async () => {
        await withTmp(async (dir) => {
          const uid = "1.2.840.113654.2.55.cip64";
          await mkdir(join(dir, "subset3"));
          await mkdir(join(dir, "subset8"));
          await source.place(dir, uid);
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

describe("discoverLuna16 walks the layout with volume-io's collectVolumeInputs", () => {
  /** `files` (relative paths) created empty under `dir` (headers need not be readable to be listed). */
  async function layout(dir: string, files: string[]): Promise<void> {
    for (const f of files) {
      await mkdir(join(dir, f, ".."), { recursive: true });
      await writeFile(join(dir, f), "");
    }
  }

  it("lists the same headers as collectVolumeInputs, with seriesuid and subset; .raw/.zraw and notes are no scans", async () => {
    await withTmp(async (dir) => {
      await layout(dir, [
        "subset0/1.2.3.mhd",
        "subset0/1.2.3.raw",
        "subset0/1.2.1.MHD", // any case of the extension
        "subset0/1.2.1.zraw",
        "subset7/9.9.mhd", // header without its data file: still listed
        "subset7/readme.txt",
        "subset10/7.7.mhd", // not a LUNA16 subset name
        "candidates_V2.csv",
      ]);
      await writeFile(join(dir, "subset9"), "a file named like a subset"); // passed over
      const scans = await discoverLuna16(dir);
      expect(scans).toEqual([
        { seriesuid: "1.2.1", subset: 0, path: join(dir, "subset0/1.2.1.MHD") },
        { seriesuid: "1.2.3", subset: 0, path: join(dir, "subset0/1.2.3.mhd") },
        { seriesuid: "9.9", subset: 7, path: join(dir, "subset7/9.9.mhd") },
      ]);
      const inputs = await collectVolumeInputs([dir], { folds: [0, 7] });
      expect(inputs.map((i) => i.path)).toEqual(scans.map((s) => s.path));
    });
  });

  it("refuses a seriesuid in two subsets and a layout without scans, naming the file or folder", async () => {
    await withTmp(async (dir) => {
      await layout(dir, ["subset1/4.5.mhd", "subset6/4.5.mhd"]);
      await expect(discoverLuna16(dir)).rejects.toThrow(
        `${join(dir, "subset6/4.5.mhd")}: seriesuid 4.5 also in ${join(dir, "subset1/4.5.mhd")}`,
      );
    });
    await withTmp(async (dir) => {
      await layout(dir, ["subset2/notes.txt"]);
      await mkdir(join(dir, "subset4"));
      await expect(discoverLuna16(dir)).rejects.toThrow(`${dir}: no .mhd scans in the subset folders`);
    });
    await withTmp(async (dir) => {
      await writeFile(join(dir, "subset0"), "");
      await expect(discoverLuna16(dir)).rejects.toThrow(`${dir}: no .mhd scans in the subset folders`);
    });
    await expect(discoverLuna16("/nonexistent/luna16")).rejects.toThrow(
      /^\/nonexistent\/luna16: cannot list the LUNA16 folder/,
    );
  });
});
