/**
 * A generated matrix of tiny NIfTI files: datatype × byte order × gzip × NIfTI-1/NIfTI-2, written by
 * an encoder local to this test (independent of `encodeNifti`), read back through `readVolume`.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { affineOf, readVolume } from "../src/index.js";
import { voxel } from "./helpers.js";

const TYPES: {
  name: string;
  code: number;
  bytes: number;
  set: (dv: DataView, o: number, v: number, le: boolean) => void;
}[] = [
  { name: "uint8", code: 2, bytes: 1, set: (dv, o, v) => dv.setUint8(o, v) },
  { name: "int8", code: 256, bytes: 1, set: (dv, o, v) => dv.setInt8(o, v) },
  { name: "int16", code: 4, bytes: 2, set: (dv, o, v, le) => dv.setInt16(o, v, le) },
  { name: "uint16", code: 512, bytes: 2, set: (dv, o, v, le) => dv.setUint16(o, v, le) },
  { name: "int32", code: 8, bytes: 4, set: (dv, o, v, le) => dv.setInt32(o, v, le) },
  { name: "uint32", code: 768, bytes: 4, set: (dv, o, v, le) => dv.setUint32(o, v, le) },
  { name: "int64", code: 1024, bytes: 8, set: (dv, o, v, le) => dv.setBigInt64(o, BigInt(v), le) },
  { name: "uint64", code: 1280, bytes: 8, set: (dv, o, v, le) => dv.setBigUint64(o, BigInt(v), le) },
  { name: "float32", code: 16, bytes: 4, set: (dv, o, v, le) => dv.setFloat32(o, v, le) },
  { name: "float64", code: 64, bytes: 8, set: (dv, o, v, le) => dv.setFloat64(o, v, le) },
];

const SHAPE = [3, 4, 5] as const;
const NT = 2;
const SROW = [
  [0, -1.5, 0, 10],
  [2, 0, 0, -20],
  [0, 0, 2.5, 30],
];

/** Value of voxel (x, y, z, t): small, exactly representable in every type (signed types get negatives). */
function value(type: string, x: number, y: number, z: number, t: number): number {
  const v = x + 3 * y + 12 * z + 60 * t; // 0..119
  if (type.startsWith("u")) return v;
  if (type.startsWith("float")) return (v - 60) * 0.25;
  return v - 60;
}

function encode(version: 1 | 2, type: (typeof TYPES)[number], le: boolean, slope = 0, inter = 0): Uint8Array {
  const hdr = version === 1 ? 348 : 540;
  const off = version === 1 ? 352 : 544;
  const [nx, ny, nz] = SHAPE;
  const n = nx * ny * nz * NT;
  const buf = new Uint8Array(off + n * type.bytes);
  const dv = new DataView(buf.buffer);
  dv.setInt32(0, hdr, le);
  const dims = [4, nx, ny, nz, NT, 1, 1, 1];
  const pix = [1, 1.5, 2, 2.5, 1, 1, 1, 1];
  if (version === 1) {
    dims.forEach((d, i) => {
      dv.setInt16(40 + i * 2, d, le);
    });
    dv.setInt16(70, type.code, le);
    dv.setInt16(72, type.bytes * 8, le);
    pix.forEach((p, i) => {
      dv.setFloat32(76 + i * 4, p, le);
    });
    dv.setFloat32(108, off, le);
    dv.setFloat32(112, slope, le);
    dv.setFloat32(116, inter, le);
    dv.setInt16(254, 2, le); // sform_code aligned
    SROW.forEach((row, r) => {
      row.forEach((v, c) => {
        dv.setFloat32(280 + (r * 4 + c) * 4, v, le);
      });
    });
    buf.set([0x6e, 0x2b, 0x31, 0], 344);
  } else {
    buf.set([0x6e, 0x2b, 0x32, 0, 0x0d, 0x0a, 0x1a, 0x0a], 4);
    dv.setInt16(12, type.code, le);
    dv.setInt16(14, type.bytes * 8, le);
    dims.forEach((d, i) => {
      dv.setBigInt64(16 + i * 8, BigInt(d), le);
    });
    pix.forEach((p, i) => {
      dv.setFloat64(104 + i * 8, p, le);
    });
    dv.setBigInt64(168, BigInt(off), le);
    dv.setFloat64(176, slope, le);
    dv.setFloat64(184, inter, le);
    dv.setInt32(348, 2, le);
    SROW.forEach((row, r) => {
      row.forEach((v, c) => {
        dv.setFloat64(400 + (r * 4 + c) * 8, v, le);
      });
    });
  }
  let o = off;
  for (let t = 0; t < NT; t++)
    for (let z = 0; z < nz; z++)
      for (let y = 0; y < ny; y++)
        for (let x = 0; x < nx; x++, o += type.bytes) type.set(dv, o, value(type.name, x, y, z, t), le);
  return buf;
}

describe("NIfTI matrix: datatype × byte order × gzip × NIfTI-1/2", () => {
  const dir = mkdtempSync(join(tmpdir(), "vio-matrix-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const version of [1, 2] as const)
    for (const type of TYPES)
      for (const le of [true, false])
        for (const gz of [false, true]) {
          const name = `n${version}_${type.name}_${le ? "le" : "be"}${gz ? ".nii.gz" : ".nii"}`;
          it(name, async () => {
            const bytes = encode(version, type, le);
            const path = join(dir, name);
            writeFileSync(path, gz ? gzipSync(bytes) : bytes);
            const v = await readVolume(path);
            expect([...v.shape]).toEqual([...SHAPE]);
            expect(v.channels).toBe(NT);
            expect(v.meta.datatype).toBe(type.name);
            expect(v.meta.format).toBe(`NIfTI-${version}${gz ? " gz" : ""}`);
            for (let t = 0; t < NT; t++)
              for (let z = 0; z < SHAPE[2]; z++)
                for (let y = 0; y < SHAPE[1]; y++)
                  for (let x = 0; x < SHAPE[0]; x++)
                    expect(voxel(v, x, y, z, t)).toBe(value(type.name, x, y, z, t));
            const a = affineOf(v);
            for (let r = 0; r < 3; r++)
              for (let c = 0; c < 4; c++) expect(a[r][c]).toBeCloseTo(SROW[r][c], 6);
          });
        }

  for (const version of [1, 2] as const)
    it(`NIfTI-${version} scl_slope/scl_inter apply (value = raw·slope + inter), slope 0 means none`, async () => {
      const int16 = TYPES[2];
      const scaled = join(dir, `scaled${version}.nii`);
      writeFileSync(scaled, encode(version, int16, true, 0.5, -10));
      const v = await readVolume(scaled);
      expect(v.data).toBeInstanceOf(Float32Array);
      expect(voxel(v, 2, 3, 4, 1)).toBe(value("int16", 2, 3, 4, 1) * 0.5 - 10);
      const none = join(dir, `slope0_${version}.nii`);
      writeFileSync(none, encode(version, int16, true, 0, 123));
      const w = await readVolume(none);
      expect(w.data).toBeInstanceOf(Int16Array);
      expect(voxel(w, 2, 3, 4, 1)).toBe(value("int16", 2, 3, 4, 1));
    });
});
