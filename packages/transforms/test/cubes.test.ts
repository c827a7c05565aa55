// @vitest-environment node
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { readVolume, writeNpy } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CubeExtractionOptions,
  extractCubes,
  type HuVolume,
  listVolumeFiles,
  Rng,
  readCubes,
} from "../src/index.js";
import { HAS_SHARED, REPO_ROOT, SHARED } from "./shared.js";

/** LIDC-IDRI nodule VOIs shipped in apps/cli/sample (patients 0001 … 0149). */
const VOIS = path.join(REPO_ROOT, "apps/cli/sample/lidc-voi/image");

/**
 * Literal transcription of `infinite_generator_3D.py` (`infinite_generator_from_one_volume`):
 * window the whole volume, draw corners, per-voxel lookahead loop with `break`, float32 d_img sum.
 */
function referenceGenerator(
  vol: HuVolume,
  rng: Rng,
  o: Required<Pick<CubeExtractionOptions, "scale" | "borderXY" | "borderZ" | "lungMax">>,
) {
  const [sx, sy, sz] = vol.shape;
  const [rows, cols, deps, lenDepth] = [64, 64, 32, 3];
  if (sz - deps - lenDepth - 1 - o.borderZ < o.borderZ) return [];
  const img = Float64Array.from(
    vol.data as ArrayLike<number>,
    (v) => (Math.min(Math.max(v, -1000), 1000) - -1000) / 2000,
  );
  const thr = (-150 - -1000) / 2000;
  const out: Float32Array[] = [];
  let cnt = 0;
  for (;;) {
    cnt++;
    if (cnt > 50 * o.scale) return out;
    const x0 = rng.randint(o.borderXY, sx - rows - 1 - o.borderXY);
    const y0 = rng.randint(o.borderXY, sy - cols - 1 - o.borderXY);
    const z0 = rng.randint(o.borderZ, sz - deps - lenDepth - 1 - o.borderZ);
    const crop = (i: number, j: number, d: number) => img[((x0 + i) * sy + (y0 + j)) * sz + z0 + d];
    let sum = 0;
    for (let d = 0; d < deps; d++)
      for (let i = 0; i < rows; i++)
        for (let j = 0; j < cols; j++) {
          let dimg = 0;
          for (let k = 0; k < lenDepth; k++) {
            if (crop(i, j, d + k) >= thr) {
              dimg = k;
              break;
            }
            if (k === lenDepth - 1) dimg = k;
          }
          sum = Math.fround(sum + Math.fround(1 - Math.fround(dimg / (lenDepth - 1))));
        }
    if (sum > o.lungMax * rows * cols * deps) continue;
    const cube = new Float32Array(rows * cols * deps);
    for (let i = 0; i < rows; i++)
      for (let j = 0; j < cols; j++)
        for (let d = 0; d < deps; d++) cube[(i * cols + j) * deps + d] = crop(i, j, d);
    out.push(cube);
    if (out.length === o.scale) return out;
  }
}

describe("cube extraction on real CTs = the reference generator", () => {
  it.skipIf(!HAS_SHARED)(
    "chest CTA (120×126×164, borders 0/10, lung_max 0.5): same cubes, values in [0, 1], some crops rejected (needs ../shared: the TotalSegmentator CTA is not shipped)",
    async () => {
      const vol = await readVolume(path.join(SHARED, "data/ct/chest_cta_totalseg_aorta/ct.nii.gz"));
      const o = { scale: 4, borderXY: 0, borderZ: 10, lungMax: 0.5 };
      const got = extractCubes(vol, new Rng(1), o);
      const ref = referenceGenerator(vol, new Rng(1), o);
      expect(got.count).toBe(ref.length);
      expect(got.count).toBeGreaterThan(0);
      expect(got.attempts).toBeGreaterThan(got.count);
      for (let c = 0; c < got.count; c++) {
        const cube = got.cubes.subarray(c * 131072, (c + 1) * 131072);
        expect(
          Buffer.from(cube.buffer, cube.byteOffset, cube.byteLength).equals(Buffer.from(ref[c].buffer)),
        ).toBe(true);
        let lo = 1;
        let hi = 0;
        for (const v of cube) {
          lo = Math.min(lo, v);
          hi = Math.max(hi, v);
        }
        expect(lo).toBeGreaterThanOrEqual(0);
        expect(hi).toBeLessThanOrEqual(1);
        // a voxel checked by hand: cube value = (clip(HU) + 1000) / 2000 at the recorded corner
        const [x, y, z] = got.corners[c];
        const hu = vol.data[((x + 5) * 126 + (y + 7)) * 164 + z + 3] as number;
        expect(cube[(5 * 64 + 7) * 32 + 3]).toBe(
          Math.fround((Math.min(Math.max(hu, -1000), 1000) + 1000) / 2000),
        );
      }
    },
  );

  it("LIDC nodule VOI (80×80×55, borders 0): reference filter at −150 HU / 0.15", async () => {
    const vol = await readVolume(path.join(VOIS, "LIDC-IDRI-0141_R_1.nii.gz"));
    const o = { scale: 4, borderXY: 0, borderZ: 0, lungMax: 0.15 };
    for (const seed of [1, 2]) {
      const got = extractCubes(vol, new Rng(seed), o);
      const ref = referenceGenerator(vol, new Rng(seed), o);
      expect(got.count).toBe(ref.length);
      expect(got.count).toBeGreaterThan(0);
      expect(got.attempts).toBeGreaterThan(got.count);
      for (let c = 0; c < got.count; c++) {
        expect(Buffer.from(got.cubes.buffer, c * 524288, 524288).equals(Buffer.from(ref[c].buffer))).toBe(
          true,
        );
      }
    }
  });

  it("integer and float voxel types give the same cubes (the integer HU cutoff is exact)", async () => {
    const vol = await readVolume(path.join(VOIS, "LIDC-IDRI-0141_R_1.nii.gz"));
    const asInt = { ...vol, data: Int16Array.from(vol.data as ArrayLike<number>) };
    const asFloat = { ...vol, data: Float64Array.from(vol.data as ArrayLike<number>) };
    const o = { scale: 4, borderXY: 0, borderZ: 0 };
    const a = extractCubes(asInt, new Rng(3), o);
    const b = extractCubes(asFloat, new Rng(3), o);
    expect(a.count).toBeGreaterThan(0);
    expect(a.corners).toEqual(b.corners);
    expect(Buffer.from(a.cubes.buffer).equals(Buffer.from(b.cubes.buffer))).toBe(true);
    // −150 HU itself counts as content (≥ threshold), −151 does not
    const probe = (hu: number) => {
      const d = new Int16Array(66 * 66 * 36).fill(-1000);
      for (let i = 0; i < d.length; i += 36) for (let z = 0; z < 36; z++) if (z % 4 === 0) d[i + z] = hu;
      return extractCubes({ data: d, shape: [66, 66, 36] }, new Rng(1), { ...o, scale: 1, lungMax: 0.2 })
        .count;
    };
    expect(probe(-151)).toBe(1);
    expect(probe(-150)).toBe(0);
  });

  it.skipIf(!HAS_SHARED)(
    "skips volumes too small for the borders, with the reason (needs ../shared: the TotalSegmentator CTA is not shipped)",
    async () => {
      const vol = await readVolume(path.join(SHARED, "data/ct/chest_cta_totalseg_aorta/ct.nii.gz"));
      const r = extractCubes(vol, new Rng(1));
      expect(r.count).toBe(0);
      expect(r.skipped).toMatch(/too small for 64×64 crops with a border of 100 \(needs ≥ 265 per axis\)/);
      expect(extractCubes(vol, new Rng(1), { borderXY: 0, borderZ: 70 }).skipped).toMatch(
        /164 slices is too thin/,
      );
    },
  );
});

describe("readCubes and listVolumeFiles", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "genesis-cubes-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("accepts official float64 bat_*.npy cubes and returns float32 (N, 64, 64, 32)", async () => {
    const data = Float64Array.from({ length: 2 * 131072 }, (_, i) => (i % 1000) / 1000);
    const f = path.join(dir, "bat_32_s_64x64x32_0.npy");
    await writeNpy(f, { data, shape: [2, 64, 64, 32] });
    const c = await readCubes(f);
    expect(c.shape).toEqual([2, 64, 64, 32]);
    expect(c.data).toBeInstanceOf(Float32Array);
    expect(c.data[1234]).toBe(Math.fround(0.234));
    const g = path.join(dir, "chan.npy");
    await writeNpy(g, { data: new Float32Array(131072), shape: [1, 1, 64, 64, 32] });
    expect((await readCubes(g)).shape).toEqual([1, 64, 64, 32]);
    const bad = path.join(dir, "bad.npy");
    await writeNpy(bad, { data: new Float32Array(64 * 64 * 16), shape: [1, 64, 64, 16] });
    await expect(readCubes(bad)).rejects.toThrow(
      /bad\.npy: cube file must have shape \(N, 64, 64, 32\), got \(1, 64, 64, 16\)/,
    );
  });

  it("understands a LUNA16 root (subset folders, folds) and plain folders", async () => {
    const luna = path.join(dir, "luna");
    for (const s of [0, 1, 5]) {
      await mkdir(path.join(luna, `subset${s}`), { recursive: true });
      for (const n of ["b.mhd", "a.mhd", "a.raw"]) await writeFile(path.join(luna, `subset${s}`, n), "");
    }
    expect((await listVolumeFiles([luna], [5, 1])).map((f) => path.relative(luna, f))).toEqual([
      "subset1/a.mhd",
      "subset1/b.mhd",
      "subset5/a.mhd",
      "subset5/b.mhd",
    ]);
    expect(await listVolumeFiles([luna])).toHaveLength(6);
    await expect(listVolumeFiles([luna], [2])).rejects.toThrow(/subset2 is missing/);
    const plain = path.join(dir, "plain", "deep");
    await mkdir(plain, { recursive: true });
    await writeFile(path.join(plain, "x.nii.gz"), "");
    await writeFile(path.join(plain, "notes.txt"), "");
    expect(await listVolumeFiles([path.join(dir, "plain")])).toEqual([path.join(plain, "x.nii.gz")]);
    await expect(listVolumeFiles([path.join(dir, "nothing")])).rejects.toThrow(/no such file or folder/);
  });
});
