import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { affineOf, readVolume, volumeStats } from "../src/index.js";
import { DATA, HAVE_SHARED, voxel } from "./helpers.js";

const DIR = resolve(DATA, "formats/generated_from_real_ct");

interface Expected {
  disk_dtype: string;
  shape: number[];
  min: number;
  max: number;
  mean: number;
  sum: number;
  samples: Record<string, number>;
  affine_ras: number[][];
}

describe.skipIf(!HAVE_SHARED)(
  "formats/generated_from_real_ct: every file matches expected.json (needs ../shared: 4 of its 31 files ship in fixtures/volume-io)",
  () => {
    const expected = HAVE_SHARED
      ? (JSON.parse(readFileSync(resolve(DIR, "expected.json"), "utf8")) as Record<string, unknown>)
      : {};
    const files = Object.entries(expected).filter(
      ([, v]) => typeof v === "object" && v !== null && "shape" in v,
    ) as [string, Expected][];

    it("lists all re-encodings (NIfTI-1/2, pairs, Analyze, MetaImage)", () => {
      expect(files.length).toBeGreaterThanOrEqual(25);
    });

    for (const [name, e] of files) {
      it(`${name}: shape, values, samples, RAS affine, disk dtype`, async () => {
        const v = await readVolume(resolve(DIR, name));
        expect([...v.shape]).toEqual(e.shape.slice(0, 3));
        expect(v.channels).toBe(e.shape.slice(3).reduce((a, b) => a * b, 1));
        const st = volumeStats(v);
        expect(st.nonFinite).toBe(0);
        expect(st.min).toBeCloseTo(e.min, 3);
        expect(st.max).toBeCloseTo(e.max, 3);
        // float32 storage of scaled values: sums agree to ~1e-7 relative
        expect(Math.abs(st.mean * st.count - e.sum)).toBeLessThanOrEqual(1e-6 * Math.abs(e.sum) + 1e-6);
        expect(st.mean).toBeCloseTo(e.mean, 3);
        for (const [key, val] of Object.entries(e.samples)) {
          const [i, j, k] = key.split(",").map(Number);
          expect(voxel(v, i, j, k, 0)).toBeCloseTo(val, 3);
        }
        const a = affineOf(v);
        for (let r = 0; r < 4; r++)
          for (let c = 0; c < 4; c++) expect(a[r][c]).toBeCloseTo(e.affine_ras[r][c], 4);
        const big = e.disk_dtype.startsWith(">");
        const base = { ">i2": "int16", ">f4": "float32" }[e.disk_dtype] ?? e.disk_dtype;
        expect(v.meta.datatype).toBe(base);
        if (big) expect(v.meta.byteOrder).toBe("big");
      });
    }

    it("float32 option converts straight from disk with the same values", async () => {
      const native = await readVolume(resolve(DIR, "n1_int16_be.nii.gz"));
      const f32 = await readVolume(resolve(DIR, "n1_int16_be.nii.gz"), { dtype: "float32" });
      expect(native.data).toBeInstanceOf(Int16Array);
      expect(f32.data).toBeInstanceOf(Float32Array);
      expect(Array.from(f32.data)).toEqual(Array.from(native.data));
    });

    it("NIfTI, MetaImage and Analyze encodings of the same crop hold identical voxels in world order", async () => {
      const ref = await readVolume(resolve(DIR, "n1_int16_le.nii"));
      for (const name of [
        "mhd_int16_le.mhd",
        "mhd_int16_be.mhd",
        "mha_int16_zlib.mha",
        "n2_int16.nii.gz",
        "n1pair_int16.hdr",
        "analyze75_int16.hdr",
      ]) {
        const v = await readVolume(resolve(DIR, name));
        expect(Array.from(v.data), name).toEqual(Array.from(ref.data));
      }
    });
  },
);
