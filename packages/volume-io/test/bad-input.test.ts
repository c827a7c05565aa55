/** Bad input: every malformed file gives a VolumeReadError whose message names the file and the problem. */
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gzipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import {
  encodeNifti,
  geometryFromAffine,
  parseNpy,
  readVolume,
  type Volume,
  VolumeReadError,
} from "../src/index.js";
import { FIXTURES } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "vio-bad-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function tiny(): Uint8Array {
  const vol: Volume = {
    data: Int16Array.from({ length: 4 * 5 * 6 }, (_, i) => i - 50),
    shape: [4, 5, 6],
    channels: 1,
    ...geometryFromAffine([
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
      [0, 0, 0, 1],
    ]),
    kind: "intensity",
    meta: {},
  };
  return encodeNifti(vol);
}

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function expectError(path: string, pattern: RegExp): Promise<VolumeReadError> {
  const err = await readVolume(path).catch((x: unknown) => x);
  expect(err, `${path} should be rejected`).toBeInstanceOf(VolumeReadError);
  const e = err as VolumeReadError;
  expect(e.file).toBe(path);
  expect(e.message.startsWith(`${path}: `)).toBe(true);
  expect(e.message).toMatch(pattern);
  return e;
}

function patched(edit: (dv: DataView) => void): Uint8Array {
  const b = tiny();
  edit(new DataView(b.buffer));
  return b;
}

describe("bad input → VolumeReadError naming the file", () => {
  it("the valid tiny file reads (control)", async () => {
    const v = await readVolume(file("ok.nii", tiny()));
    expect(v.shape).toEqual([4, 5, 6]);
  });
  it("truncated .nii.gz", async () => {
    const gz = gzipSync(tiny());
    await expectError(
      file("trunc.nii.gz", gz.subarray(0, Math.floor(gz.length / 2))),
      /corrupt or truncated gzip|truncated/,
    );
  });
  it(".nii.gz that is not gzip", () => expectError(file("plain.nii.gz", tiny()), /not gzip-compressed/));
  it("gzip of garbage", () =>
    expectError(
      file("garbage.nii.gz", gzipSync(new Uint8Array(1000).fill(7))),
      /not a NIfTI or Analyze file/,
    ));
  it("wrong magic", () =>
    expectError(
      file(
        "magic.nii",
        patched((dv) => dv.setUint8(345, 0x78)),
      ),
      /wrong magic/,
    ));
  it("empty file", () => expectError(file("empty.nii", new Uint8Array(0)), /is empty/));
  it("empty file of unknown extension", () => expectError(file("empty.bin", new Uint8Array(0)), /is empty/));
  it("too short for a header", () => expectError(file("short.nii", tiny().subarray(0, 200)), /too short/));
  it("zero dimension", () =>
    expectError(
      file(
        "zero.nii",
        patched((dv) => dv.setInt16(44, 0, true)),
      ),
      /dim\[2\] = 0/,
    ));
  it("negative dimension", () =>
    expectError(
      file(
        "neg.nii",
        patched((dv) => dv.setInt16(42, -4, true)),
      ),
      /dim\[1\] = -4/,
    ));
  it("dim[0] out of range", () =>
    expectError(
      file(
        "dim0.nii",
        patched((dv) => dv.setInt16(40, 9, true)),
      ),
      /dim\[0\] = 9/,
    ));
  it("absurd dimensions are refused before allocating (uncompressed)", () =>
    expectError(
      file(
        "huge.nii",
        patched((dv) => {
          dv.setInt16(42, 30000, true);
          dv.setInt16(44, 30000, true);
          dv.setInt16(46, 30000, true);
        }),
      ),
      /absurd dimensions/,
    ));
  it("large declared size vs small file (uncompressed)", () =>
    expectError(
      file(
        "big.nii",
        patched((dv) => dv.setInt16(46, 3000, true)),
      ),
      /truncated: header declares .* but the file has only/,
    ));
  it("large declared size vs small gzip file", () =>
    expectError(
      file("big.nii.gz", gzipSync(patched((dv) => dv.setInt16(46, 30000, true)))),
      /more than a \d+-byte gzip file can hold/,
    ));
  it("vox_offset past the end", () =>
    expectError(
      file(
        "vox.nii",
        patched((dv) => dv.setFloat32(108, 1e6, true)),
      ),
      /vox_offset 1000000 is past the end/,
    ));
  it("vox_offset inside the header", () =>
    expectError(
      file(
        "vox2.nii",
        patched((dv) => dv.setFloat32(108, 100, true)),
      ),
      /inside the 348-byte header/,
    ));
  it("unknown datatype", () =>
    expectError(
      file(
        "dt.nii",
        patched((dv) => dv.setInt16(70, 9999, true)),
      ),
      /unknown datatype code 9999/,
    ));
  it("RGB datatype", () =>
    expectError(
      file(
        "rgb.nii",
        patched((dv) => dv.setInt16(70, 128, true)),
      ),
      /RGB24\) is not supported/,
    ));
  it("truncated voxel data in a gzip stream", async () => {
    const b = tiny();
    const p = file("short-data.nii.gz", gzipSync(b.subarray(0, b.length - 10)));
    await expectError(p, /truncated: voxel data ends after 115 of 120/);
  });
  it(".hdr without .img", () =>
    expectError(file("lonely.hdr", tiny().subarray(0, 348)), /header has no image file/));
  it("missing file", () => expectError(join(dir, "nope.nii"), /does not exist/));
  it("unrecognised format", () =>
    expectError(file("x.bin", "hello world, not an image"), /unrecognised format/));

  it("MetaImage: missing data file", () =>
    expectError(
      file(
        "nodata.mhd",
        "ObjectType = Image\nNDims = 3\nDimSize = 4 5 6\nElementType = MET_SHORT\nElementDataFile = missing.raw\n",
      ),
      /data file .*missing\.raw is missing/,
    ));
  it("MetaImage: short data file", async () => {
    file("short.raw", new Uint8Array(100));
    await expectError(
      file(
        "short.mhd",
        "ObjectType = Image\nNDims = 3\nDimSize = 4 5 6\nElementType = MET_SHORT\nElementDataFile = short.raw\n",
      ),
      /data file .*short\.raw is short: 4×5×6 MET_SHORT needs 240 bytes/,
    );
  });
  it("MetaImage: unknown element type", () =>
    expectError(
      file("et.mha", "NDims = 3\nDimSize = 2 2 2\nElementType = MET_STRANGE\nElementDataFile = LOCAL\n"),
      /unknown or unsupported ElementType MET_STRANGE/,
    ));
  it("MetaImage: corrupt zlib data", () =>
    expectError(
      file(
        "z.mha",
        "NDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\nCompressedData = True\nElementDataFile = LOCAL\nthis is not zlib",
      ),
      /corrupt or truncated zlib data/,
    ));

  it(".npy: corrupt header", () => {
    const b = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 20, 0]),
      Buffer.from("not a python dict!!\n"),
    ]);
    expect(() => parseNpy(b, "c.npy")).toThrow(/c\.npy: corrupt \.npy header/);
    return expectError(file("corrupt.npy", b), /corrupt \.npy header/);
  });
  it(".npy: object dtype", () => {
    const h = "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }";
    const b = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length + 1, 0]),
      Buffer.from(`${h}\n`),
      Buffer.alloc(16),
    ]);
    return expectError(file("obj.npy", b), /object dtype \|O is not supported/);
  });
  it(".npy: header length past the end", () =>
    expectError(
      file("hl.npy", Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, 0xff, 0x7f, 0x7b])),
      /header length 32767 runs past the end/,
    ));
  it(".npy: truncated data", () => {
    const h = "{'descr': '<f8', 'fortran_order': False, 'shape': (100, 100), }";
    const b = Buffer.concat([
      Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, h.length + 1, 0]),
      Buffer.from(`${h}\n`),
      Buffer.alloc(64),
    ]);
    return expectError(file("t.npy", b), /truncated: shape \(100, 100\) float64 needs 80000 data bytes/);
  });
  it(".npy: wrong magic", () => expectError(file("m.npy", "\x93NUMPX\x01\x00"), /wrong magic/));

  it("DICOM folder without images", async () => {
    const d = join(dir, "dcmdir");
    const { mkdirSync } = await import("node:fs");
    mkdirSync(d);
    writeFileSync(join(d, "readme.txt"), "no images here");
    copyFileSync(resolve(FIXTURES, "formats/dicom/pydicom/rtstruct.dcm"), join(d, "rt.dcm"));
    await expectError(d, /contains no DICOM images/);
  });
  it("DICOM file with truncated pixel data", async () => {
    const b = readFileSync(resolve(FIXTURES, "formats/dicom/pydicom/MR_small.dcm"));
    await expectError(file("cut.dcm", b.subarray(0, b.length - 3000)), /unreadable DICOM|PixelData is short/);
  });
});
