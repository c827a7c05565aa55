/** Bit-exact NIfTI and .npy round trips; LUNA16-layout .mhd → NIfTI keeping world geometry. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  affineOf,
  encodeNifti,
  geometryFromAffine,
  type NpyData,
  parseNpy,
  readNpy,
  readVolume,
  type Volume,
  type VoxelArray,
  writeNifti,
  writeNpy,
} from "../src/index.js";
import { DATA, FIXTURES, HAVE_SHARED } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "vio-rt-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function synthetic(data: VoxelArray, shape: [number, number, number], channels = 1): Volume {
  // an oblique, anisotropic geometry (rotation about z by 30°, LPS-like flips)
  const c = Math.cos(Math.PI / 6);
  const s = Math.sin(Math.PI / 6);
  const g = geometryFromAffine([
    [-0.7 * c, 0.9 * s, 0, 12.5],
    [-0.7 * s, -0.9 * c, 0, -40.25],
    [0, 0, 2.5, 77],
    [0, 0, 0, 1],
  ]);
  return { data, shape, channels, ...g, kind: "intensity", meta: {} };
}

describe("NIfTI round trip is bit-exact", () => {
  const shape: [number, number, number] = [5, 4, 3];
  const n = 60;
  const arrays: [string, VoxelArray][] = [
    ["uint8", Uint8Array.from({ length: n }, (_, i) => (i * 37) % 256)],
    ["int8", Int8Array.from({ length: n }, (_, i) => ((i * 37) % 256) - 128)],
    ["int16", Int16Array.from({ length: n }, (_, i) => i * 1103 - 32000)],
    ["uint16", Uint16Array.from({ length: n }, (_, i) => i * 1091)],
    ["int32", Int32Array.from({ length: n }, (_, i) => i * 70001 - 2_000_000_000)],
    ["uint32", Uint32Array.from({ length: n }, (_, i) => i * 70001 + 4_000_000_000)],
    ["float32", Float32Array.from({ length: n }, (_, i) => (i % 7 === 0 ? Number.NaN : Math.sin(i) * 1e3))],
    [
      "float64",
      Float64Array.from({ length: n }, (_, i) => (i === 3 ? Number.POSITIVE_INFINITY : Math.cos(i) / 7)),
    ],
  ];
  for (const [name, data] of arrays)
    for (const ext of [".nii", ".nii.gz"])
      it(`${name}${ext}`, async () => {
        const vol = synthetic(data, shape);
        const path = join(dir, `rt_${name}${ext}`);
        await writeNifti(path, vol);
        const back = await readVolume(path);
        expect(back.data.constructor).toBe(data.constructor);
        expect(bytesOf(back.data)).toEqual(bytesOf(data));
        expect(back.shape).toEqual(shape);
        const a = affineOf(vol);
        const b = affineOf(back);
        for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(b[r][c]).toBeCloseTo(a[r][c], 5);
        expect(back.meta.affineSource).toBe("sform");
        // writing what was read gives the same file, byte for byte
        expect(encodeNifti(back)).toEqual(encodeNifti(await readVolume(path)));
        if (ext === ".nii") {
          const raw = readFileSync(path);
          expect(new DataView(raw.buffer, raw.byteOffset).getFloat32(108, true)).toBe(352);
          expect(raw.length).toBe(352 + data.byteLength);
        }
      });

  it("4-D (channels) volumes round-trip and the qform alone reproduces the rigid affine", async () => {
    const data = Float32Array.from({ length: 60 * 2 }, (_, i) => i * 0.5);
    const vol = synthetic(data, [5, 4, 3], 2);
    const path = join(dir, "rt_4d.nii");
    await writeNifti(path, vol);
    const back = await readVolume(path);
    expect(back.channels).toBe(2);
    expect(bytesOf(back.data)).toEqual(bytesOf(data));
    // drop the sform: the qform must give the same geometry (the synthetic affine is rigid × scaling)
    const raw = new Uint8Array(readFileSync(path));
    new DataView(raw.buffer).setInt16(254, 0, true);
    writeFileSync(join(dir, "rt_4d_qform.nii"), raw);
    const q = await readVolume(join(dir, "rt_4d_qform.nii"));
    expect(q.meta.affineSource).toBe("qform");
    const a = affineOf(vol);
    const b = affineOf(q);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) expect(b[r][c]).toBeCloseTo(a[r][c], 4);
  });

  it("a real CT (.nii.gz) → .nii.gz → read is bit-exact with the same affine", async () => {
    const src = await readVolume(
      resolve(FIXTURES, "formats/generated_from_real_ct/n1_permuted_flipped_axes.nii.gz"),
    );
    const path = join(dir, "ct.nii.gz");
    await writeNifti(path, src);
    const back = await readVolume(path);
    expect(bytesOf(back.data)).toEqual(bytesOf(src.data));
    const a = affineOf(src);
    const b = affineOf(back);
    for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(b[r][c]).toBeCloseTo(a[r][c], 5);
  });
});

describe(".npy round trip is bit-exact", () => {
  const shape = [3, 4, 5];
  const n = 60;
  const arrays: [string, NpyData][] = [
    ["uint8", Uint8Array.from({ length: n }, (_, i) => i * 4)],
    ["int8", Int8Array.from({ length: n }, (_, i) => i - 30)],
    ["int16", Int16Array.from({ length: n }, (_, i) => i * 500 - 15000)],
    ["uint16", Uint16Array.from({ length: n }, (_, i) => i * 1000)],
    ["int32", Int32Array.from({ length: n }, (_, i) => i * 30000000 - 900000000)],
    ["uint32", Uint32Array.from({ length: n }, (_, i) => i * 70000000)],
    ["int64", BigInt64Array.from({ length: n }, (_, i) => BigInt(i) * 10n ** 15n - 3n * 10n ** 16n)],
    ["uint64", BigUint64Array.from({ length: n }, (_, i) => BigInt(i) * 10n ** 17n)],
    ["float32", Float32Array.from({ length: n }, (_, i) => (i === 5 ? Number.NaN : i / 3))],
    ["float64", Float64Array.from({ length: n }, (_, i) => Math.exp(i / 10))],
  ];
  for (const [dtype, data] of arrays)
    it(dtype, async () => {
      const path = join(dir, `a_${dtype}.npy`);
      await writeNpy(path, { data, shape });
      const raw = readFileSync(path);
      // header: magic, version 1.0, total header a multiple of 64 bytes ending in \n
      expect(raw.subarray(0, 6)).toEqual(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]));
      const hlen = raw.readUInt16LE(8);
      expect((10 + hlen) % 64).toBe(0);
      expect(raw[10 + hlen - 1]).toBe(0x0a);
      const back = await readNpy(path);
      expect(back.dtype).toBe(dtype);
      expect(back.shape).toEqual(shape);
      expect(back.data.constructor).toBe(data.constructor);
      expect(bytesOf(back.data)).toEqual(bytesOf(data));
    });

  it("Fortran-order and big-endian files are returned in C order", () => {
    // shape (2, 3): C-order values 0..5; Fortran order stores column by column: 0 3 1 4 2 5
    const header = "{'descr': '>i2', 'fortran_order': True, 'shape': (2, 3), }";
    const pad = 64 - ((10 + header.length + 1) % 64);
    const h = `${header}${" ".repeat(pad)}\n`;
    const buf = Buffer.alloc(10 + h.length + 12);
    Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]).copy(buf);
    buf.writeUInt16LE(h.length, 8);
    buf.write(h, 10, "latin1");
    [0, 3, 1, 4, 2, 5].forEach((v, i) => {
      buf.writeInt16BE(v, 10 + h.length + i * 2);
    });
    const a = parseNpy(buf, "f.npy");
    expect(a.shape).toEqual([2, 3]);
    expect(Array.from(a.data as Int16Array)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("readVolume on a 4-D .npy gives (x, y, z, c) with channels last", async () => {
    const data = Float32Array.from({ length: 2 * 3 * 4 * 2 }, (_, i) => i);
    const path = join(dir, "vol4.npy");
    await writeNpy(path, { data, shape: [2, 3, 4, 2] });
    const v = await readVolume(path);
    expect(v.shape).toEqual([2, 3, 4]);
    expect(v.channels).toBe(2);
    expect(bytesOf(v.data)).toEqual(bytesOf(data));
  });
});

describe.skipIf(!HAVE_SHARED)(
  "LUNA16-layout MetaImage → NIfTI keeps world geometry (needs ../shared: the CIP CT's .mhd/.raw are not shipped)",
  () => {
    it("ct.mhd → .nii.gz matches the reference ct.nii.gz (voxels and RAS affine)", async () => {
      const mhd = await readVolume(resolve(DATA, "ct/chest_copdgene_cip_ct64/ct.mhd"));
      const out = join(dir, "luna.nii.gz");
      await writeNifti(out, mhd);
      const back = await readVolume(out);
      const ref = await readVolume(resolve(DATA, "ct/chest_copdgene_cip_ct64/ct.nii.gz"));
      expect(back.shape).toEqual(ref.shape);
      expect(bytesOf(back.data)).toEqual(bytesOf(ref.data));
      const a = affineOf(back);
      const b = affineOf(ref);
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(a[r][c]).toBeCloseTo(b[r][c], 4);
      // LPS Offset of the .mhd becomes the RAS origin with x, y negated
      const text = readFileSync(resolve(DATA, "ct/chest_copdgene_cip_ct64/ct.mhd"), "utf8");
      const off = (/Offset = (.*)/.exec(text) as RegExpExecArray)[1].trim().split(/\s+/).map(Number);
      expect(back.origin[0]).toBeCloseTo(-off[0], 4);
      expect(back.origin[1]).toBeCloseTo(-off[1], 4);
      expect(back.origin[2]).toBeCloseTo(off[2], 4);
    });
  },
);
