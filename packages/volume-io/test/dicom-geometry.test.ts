/**
 * DICOM geometry and failure paths on tiny synthetic files written here (no shared data): irregular
 * slice positions are refused or resampled at their true positions, NumberOfFrames is checked
 * against PixelData, RT Dose frames are placed by GridFrameOffsetVector, JPEG 2000 signedness
 * follows PixelRepresentation, and refusals carry the parser's own reason.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { affineOf, errorReason, readDicom, readVolume, VolumeReadError } from "../src/index.js";
import { ctSlice, dicomFile, type Element, int16Bytes, J2K_LOSSLESS } from "./dicom-writer.js";
import { voxel } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "vio-dicom-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A series folder with one axial slice per z position (every pixel of a slice = its z, rounded). */
function series(name: string, zs: number[], opts: { values?: (z: number) => number } = {}): string {
  const dir = join(root, name);
  mkdirSync(dir);
  zs.forEach((z, i) => {
    const v = opts.values ? opts.values(z) : Math.round(z);
    // file names in reverse order of position: sorting must not rely on them
    writeFileSync(
      join(dir, `s${String(zs.length - i).padStart(3, "0")}.dcm`),
      ctSlice({ ipp: [-10, -20, z], instance: i + 1, values: new Array(12).fill(v) }),
    );
  });
  return dir;
}

async function refusal(p: Promise<unknown>): Promise<VolumeReadError> {
  const err = await p.catch((x: unknown) => x);
  expect(err).toBeInstanceOf(VolumeReadError);
  const e = err as VolumeReadError;
  expect(e.message).not.toContain("[object Object]");
  expect(e.message.split("\n")).toHaveLength(1);
  return e;
}

const quiet = { onWarning: () => {} };

describe("DICOM series geometry: true positions or a refusal", () => {
  it("a regular series reads at its spacing, sorted by position, z from the first slice", async () => {
    const dir = series("regular", [5, 0, 2.5, 7.5]);
    const v = await readVolume(dir);
    expect(v.shape).toEqual([4, 3, 4]);
    expect(v.spacing[2]).toBeCloseTo(2.5, 10);
    expect(v.origin[2]).toBe(0);
    expect([0, 1, 2, 3].map((z) => voxel(v, 0, 0, z))).toEqual([0, 3, 5, 8]);
    expect(v.meta.irregularSliceSpacing).toBe(false);
    expect(v.meta.warnings).toEqual([]);
  });

  it("slices at z = −99.48, 103.02, 104.27, 105.52 are refused (were read at a uniform 68.33 mm)", async () => {
    const dir = series("issue16", [-99.48, 103.02, 104.27, 105.52]);
    const e = await refusal(readVolume(dir));
    expect(e.file).toBe(dir);
    expect(e.message).toContain(`${dir}: irregular slice positions: 4 slices, median gap 1.25 mm`);
    expect(e.message).toContain("202.5 mm between -99.48 and 103.02");
    expect(e.message).toContain(
      "positions along the slice normal (mm) -99.48, 103.02, 104.27, 105.52. Missing slices",
    );
    expect(e.message).toContain('irregularSlices: "resample" (CLI: --irregular-slices resample)');
  });

  it("one missing slice (2.5 mm series with a 5 mm gap) is refused, naming the gap", async () => {
    const zs = [0, 2.5, 5, 7.5, 12.5, 15, 17.5];
    const e = await refusal(readVolume(series("gap", zs)));
    expect(e.message).toMatch(
      /7 slices, median gap 2\.5 mm, 1 gap off by more than 0\.025 mm \(5 mm between 7\.5 and 12\.5\)/,
    );
  });

  it("long position lists are abbreviated", async () => {
    const zs = Array.from({ length: 40 }, (_, i) => i * 2 + (i >= 20 ? 2 : 0));
    const e = await refusal(readVolume(series("long", zs)));
    expect(e.message).toContain(
      "positions along the slice normal (mm) 0, 2, 4, 6, …, 74, 76, 78, 80 (40 values).",
    );
  });

  it("irregularSlices: 'resample' interpolates linearly at the true positions and warns", async () => {
    const zs = [0, 2.5, 5, 7.5, 12.5, 15, 17.5];
    const warnings: string[] = [];
    const dir = series("gap-resample", zs, { values: (z) => 4 * z });
    const v = await readVolume(dir, { irregularSlices: "resample", onWarning: (m) => warnings.push(m) });
    expect(v.shape).toEqual([4, 3, 8]);
    expect(v.spacing[2]).toBeCloseTo(2.5, 10);
    expect(v.origin[2]).toBe(0);
    // value = 4·z at every true position; the missing slice z = 10 is interpolated to 40
    expect(Array.from({ length: 8 }, (_, z) => voxel(v, 1, 2, z))).toEqual([0, 10, 20, 30, 40, 50, 60, 70]);
    expect(v.data).toBeInstanceOf(Float32Array);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${dir}: irregular slice positions resampled: 7 slices`);
    expect(warnings[0]).toContain("→ 8 slices 2.5 mm apart, linear interpolation along the normal");
    expect(v.meta.warnings).toEqual(warnings);
    expect(v.meta.resampledFrom).toEqual(zs);
    expect(v.meta.irregularSliceSpacing).toBe(true);
  });

  it("resampling the issue's series puts every slice at its true position", async () => {
    const zs = [-99.48, 103.02, 104.27, 105.52];
    const v = await readVolume(series("issue16-resample", zs, { values: (z) => Math.round(z * 100) }), {
      irregularSlices: "resample",
      ...quiet,
    });
    expect(v.shape[2]).toBe(165);
    expect(v.spacing[2]).toBeCloseTo(205 / 164, 10);
    const a = affineOf(v);
    for (const [k, z] of [
      [0, -99.48],
      [162, 103.02],
      [164, 105.52],
    ])
      expect(a[2][3] + a[2][2] * k).toBeCloseTo(z, 6);
    expect(voxel(v, 0, 0, 0)).toBe(-9948);
    expect(voxel(v, 0, 0, 164)).toBe(10552);
    expect(voxel(v, 0, 0, 163)).toBeCloseTo(10427, 2);
  });

  it("label volumes are resampled by nearest slice, keeping their type", async () => {
    const v = await readVolume(series("gap-label", [0, 1, 2, 4], { values: (z) => z + 1 }), {
      irregularSlices: "resample",
      kind: "label",
      ...quiet,
    });
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(Array.from({ length: 5 }, (_, z) => voxel(v, 0, 0, z))).toEqual([1, 2, 3, 5, 5]);
  });

  it("two slices at one position are refused in both modes", async () => {
    const dir = series("dup", [0, 2.5, 2.5, 5]);
    for (const irregularSlices of ["error", "resample"] as const) {
      const e = await refusal(readVolume(dir, { irregularSlices }));
      expect(e.message).toMatch(
        /two slices at the same position \(.*s00[23]\.dcm and .*s00[23]\.dcm at 2\.5 mm/,
      );
    }
  });

  it("an oblique series is measured along its normal", async () => {
    const dir = join(root, "oblique");
    mkdirSync(dir);
    const c = Math.SQRT1_2;
    // row cosine (1,0,0), column cosine (0,c,-c): normal (0,c,c); slices every 3 mm along it, one missing
    for (const [i, t] of [0, 3, 9].entries())
      writeFileSync(
        join(dir, `${i}.dcm`),
        ctSlice({ ipp: [0, t * c, t * c], iop: [1, 0, 0, 0, c, -c], instance: i + 1 }),
      );
    const e = await refusal(readVolume(dir));
    expect(e.message).toContain("positions along the slice normal (mm) 0, 3, 9.");
  });
});

describe("NumberOfFrames is checked against PixelData", () => {
  const frameElements = (frames: string): Element[] => [
    [0x00080060, "CS", "OT"],
    [0x00280002, "US", 1],
    [0x00280008, "IS", frames],
    [0x00280010, "US", 10],
    [0x00280011, "US", 10],
    [0x00280100, "US", 8],
    [0x00280101, "US", 8],
    [0x00280103, "US", 0],
  ];
  const pixels15 = new Uint8Array(15 * 100).map((_, i) => i % 251);
  const file = (name: string, frames: string) => {
    const p = join(root, name);
    writeFileSync(p, dicomFile({ elements: frameElements(frames), pixels: pixels15 }));
    return p;
  };

  it('NumberOfFrames "1A" is refused (was read as 10×10×1)', async () => {
    const p = file("nf-1a.dcm", "1A");
    const e = await refusal(readVolume(p));
    expect(e.message).toBe(
      `${p}: NumberOfFrames "1A" is not an integer (PixelData holds 1500 bytes = 15 frames of 10×10×1×8 bits)`,
    );
  });
  it("NumberOfFrames 1 with 15 frames of PixelData is refused", async () => {
    const p = file("nf-1.dcm", "1");
    const e = await refusal(readVolume(p));
    expect(e.message).toBe(
      `${p}: PixelData holds 1500 bytes (15 frames), but Rows × Columns × SamplesPerPixel × NumberOfFrames × BitsAllocated = 10×10×1×1×8 bits = 100 bytes: wrong NumberOfFrames or image size`,
    );
  });
  it("NumberOfFrames 20 with 15 frames of PixelData is refused as short", async () => {
    const p = file("nf-20.dcm", "20");
    const e = await refusal(readVolume(p));
    expect(e.message).toContain(`${p}: PixelData is short: 1500 bytes, but`);
    expect(e.message).toContain("10×10×1×20×8 bits = 2000 bytes");
  });
  it("NumberOfFrames 15 reads all 15 frames (control)", async () => {
    const v = await readVolume(file("nf-15.dcm", "15"));
    expect(v.shape).toEqual([10, 10, 15]);
    expect(voxel(v, 3, 2, 14)).toBe((14 * 100 + 2 * 10 + 3) % 251);
  });
});

describe("multi-frame RT Dose: frames placed by GridFrameOffsetVector", () => {
  const dose = (name: string, gfov: number[], ipp = [-5, -6, 40]) => {
    const n = gfov.length;
    const vals = Array.from({ length: n * 6 }, (_, i) => Math.floor(i / 6) * 100 + (i % 6));
    const p = join(root, name);
    writeFileSync(
      p,
      dicomFile({
        elements: [
          [0x00080060, "CS", "RTDOSE"],
          [0x00200032, "DS", ipp.join("\\")],
          [0x00200037, "DS", "1\\0\\0\\0\\1\\0"],
          [0x00280002, "US", 1],
          [0x00280008, "IS", String(n)],
          [0x00280010, "US", 2],
          [0x00280011, "US", 3],
          [0x00280030, "DS", "2.5\\2"],
          [0x00280100, "US", 16],
          [0x00280101, "US", 16],
          [0x00280103, "US", 0],
          [0x30040002, "CS", "GY"],
          [0x3004000c, "DS", gfov.join("\\")],
          [0x3004000e, "DS", "0.001"],
        ],
        pixels: int16Bytes(vals),
      }),
    );
    return p;
  };

  it("relative offsets (first 0) place frames along the normal from ImagePositionPatient", async () => {
    const v = await readVolume(dose("dose-rel.dcm", [0, 3, 6, 9]));
    expect(v.shape).toEqual([3, 2, 4]);
    expect(v.spacing).toEqual([2, 2.5, 3]);
    // LPS (−5, −6, 40) → RAS (5, 6, 40)
    expect(v.origin).toEqual([5, 6, 40]);
    // DoseGridScaling: stored · 0.001 = Gy
    expect(voxel(v, 2, 1, 3)).toBeCloseTo(0.305, 6);
    expect(v.meta.gridFrameOffsetVector).toEqual([0, 3, 6, 9]);
    expect(v.meta.doseGridScaling).toBe(0.001);
  });
  it("absolute offsets (first = the position's z) are z coordinates", async () => {
    const v = await readVolume(dose("dose-abs.dcm", [40, 42.5, 45]));
    expect(v.shape[2]).toBe(3);
    expect(v.spacing[2]).toBeCloseTo(2.5, 10);
    expect(v.origin[2]).toBe(40);
  });
  it("decreasing offsets are sorted by position", async () => {
    const v = await readVolume(dose("dose-dec.dcm", [0, -3, -6]));
    expect(v.origin[2]).toBe(34);
    expect([0, 1, 2].map((z) => Math.round(voxel(v, 0, 0, z) * 1000))).toEqual([200, 100, 0]);
  });
  it("irregular offsets are refused like a series", async () => {
    const p = dose("dose-irr.dcm", [0, 3, 9]);
    const e = await refusal(readVolume(p));
    expect(e.message).toContain(`${p}: irregular slice positions: 3 slices`);
  });
  it("an offset count that disagrees with NumberOfFrames is refused", async () => {
    const p = join(root, "dose-count.dcm");
    writeFileSync(
      p,
      dicomFile({
        elements: [
          [0x00200032, "DS", "0\\0\\0"],
          [0x00280008, "IS", "2"],
          [0x00280010, "US", 1],
          [0x00280011, "US", 2],
          [0x00280100, "US", 16],
          [0x3004000c, "DS", "0\\1\\2"],
        ],
        pixels: int16Bytes([1, 2, 3, 4]),
      }),
    );
    const e = await refusal(readVolume(p));
    expect(e.message).toBe(`${p}: GridFrameOffsetVector lists 3 offsets but NumberOfFrames is 2`);
  });
  it("frames without any per-frame position are refused naming what is missing", async () => {
    const p = join(root, "mf-nopos.dcm");
    writeFileSync(
      p,
      dicomFile({
        elements: [
          [0x00200032, "DS", "0\\0\\0"],
          [0x00280008, "IS", "2"],
          [0x00280010, "US", 1],
          [0x00280011, "US", 2],
          [0x00280100, "US", 16],
        ],
        pixels: int16Bytes([1, 2, 3, 4]),
      }),
    );
    const e = await refusal(readVolume(p));
    expect(e.message).toContain("all 2 frames are at the same position 0\\0\\0");
    expect(e.message).toContain("nor a GridFrameOffsetVector");
  });
});

describe("refusals carry the parser's reason", () => {
  it("errorReason reads dicom-parser's { exception, dataSet } objects, strings and Errors", () => {
    expect(
      errorReason({ exception: "dicomParser:parseDicomDataSetExplicit: buffer overrun", dataSet: {} }),
    ).toBe("dicomParser:parseDicomDataSetExplicit: buffer overrun");
    expect(errorReason({ exception: new Error("bad VR"), dataSet: {} })).toBe("bad VR");
    expect(errorReason("plain string")).toBe("plain string");
    expect(errorReason(new RangeError("offset out of range"))).toBe("offset out of range");
    expect(errorReason({ code: 7 })).toBe('{"code":7}');
  });
  const good = () => ctSlice({ ipp: [0, 0, 0] });

  it("an element running past the end: the dicom-parser message, not [object Object]", async () => {
    const b = good();
    // cut inside the pixel data element: its declared length now runs past the end of the file
    const p = join(root, "overrun.dcm");
    writeFileSync(p, b.subarray(0, b.length - 7));
    const e = await refusal(readVolume(p));
    expect(e.message).toMatch(/^.*overrun\.dcm: unreadable DICOM \(dicomParser.*(overrun|past end|overread)/);
  });
  it("a corrupt meta header names the parser's reason (control: a thrown string was kept before)", async () => {
    const b = good();
    const p = join(root, "meta.dcm");
    // the transfer syntax element's length is made huge
    const c = b.slice();
    const at = Buffer.from(c).indexOf(Buffer.from([0x02, 0x00, 0x10, 0x00, 0x55, 0x49]));
    new DataView(c.buffer).setUint16(at + 6, 0xfff0, true);
    writeFileSync(p, c);
    const e = await refusal(readVolume(p));
    expect(e.message).toMatch(/unreadable DICOM \(.+\)/);
    expect(e.message).not.toMatch(/\(\)/);
  });
  it("in a folder, unreadable files are named with their reason (warning, and in 'no images')", async () => {
    const dir = join(root, "with-corrupt");
    mkdirSync(dir);
    for (const [i, z] of [0, 2.5, 5].entries())
      writeFileSync(join(dir, `${i}.dcm`), ctSlice({ ipp: [0, 0, z] }));
    const b = ctSlice({ ipp: [0, 0, 7.5] });
    writeFileSync(join(dir, "3.dcm"), b.subarray(0, b.length - 7));
    const warnings: string[] = [];
    const v = await readDicom(dir, { onWarning: (m) => warnings.push(m) });
    expect(v.shape[2]).toBe(3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/: 1 unreadable DICOM file skipped: .*3\.dcm \(dicomParser.*\)$/);

    const only = join(root, "only-corrupt");
    mkdirSync(only);
    writeFileSync(join(only, "x.dcm"), b.subarray(0, b.length - 7));
    const e = await refusal(readVolume(only));
    expect(e.message).toMatch(
      /contains no DICOM images \(1 unreadable DICOM file skipped: .*x\.dcm \(dicomParser/,
    );
  });
});

describe("JPEG 2000: PixelRepresentation decides signedness", () => {
  interface Encoder {
    getDecodedBuffer(info: object): Uint8Array;
    setQuality(lossless: boolean, q: number): void;
    encode(): void;
    getEncodedBuffer(): Uint8Array;
    delete(): void;
  }
  const require = createRequire(import.meta.url);
  async function j2k(values: number[], bits: number, signed: boolean): Promise<Uint8Array> {
    const factory = require("@cornerstonejs/codec-openjpeg/wasmjs") as (o: object) => Promise<{
      J2KEncoder: new () => Encoder;
    }>;
    const m = await factory({ print: () => {}, printErr: () => {} });
    const enc = new m.J2KEncoder();
    const buf = enc.getDecodedBuffer({
      width: 64,
      height: 64,
      bitsPerSample: bits,
      componentCount: 1,
      isSigned: signed,
      isUsingColorTransform: false,
    });
    const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let i = 0; i < 64 * 64; i++) dv.setInt16(i * 2, values[i % values.length], true);
    enc.setQuality(true, 0);
    enc.encode();
    const out = enc.getEncodedBuffer().slice();
    enc.delete();
    return out;
  }
  const file = (
    name: string,
    codestream: Uint8Array | Uint8Array[],
    pr: number,
    bitsStored: number,
    frames?: number,
  ) => {
    const p = join(root, name);
    writeFileSync(
      p,
      dicomFile({
        ts: J2K_LOSSLESS,
        elements: [
          [0x00080060, "CS", "CT"],
          [0x00280002, "US", 1],
          [0x00280004, "CS", "MONOCHROME2"],
          [0x00280010, "US", 64],
          [0x00280011, "US", 64],
          [0x00280100, "US", 16],
          [0x00280101, "US", bitsStored],
          [0x00280103, "US", pr],
          ...(frames ? ([[0x00280008, "IS", String(frames)]] as Element[]) : []),
        ],
        pixels: { fragments: Array.isArray(codestream) ? codestream : [codestream] },
      }),
    );
    return p;
  };

  it("an unsigned 13-bit codestream in a PixelRepresentation = 1 file gives int16 −2000 (pydicom), with a warning", async () => {
    // −2000 as a 13-bit two's complement number is 6192 unsigned
    const p = file("j2k-u13-pr1.dcm", await j2k([6192, 100, 8191], 13, false), 1, 16);
    const warnings: string[] = [];
    const v = await readVolume(p, { onWarning: (m) => warnings.push(m) });
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(v.meta.datatype).toBe("int16");
    expect([voxel(v, 0, 0, 0), voxel(v, 1, 0, 0), voxel(v, 2, 0, 0)]).toEqual([-2000, 100, -1]);
    expect(warnings).toEqual([
      `${p}: JPEG 2000 codestream is unsigned 13-bit but PixelRepresentation = 1: samples read as int16 (sign-extended at 13 bits), as the PixelRepresentation says`,
    ]);
  });
  it("a signed 12-bit codestream in a PixelRepresentation = 0 file gives uint16 in 12 bits", async () => {
    const p = file("j2k-s12-pr0.dcm", await j2k([-5, 2047, -2048], 12, true), 0, 16);
    const v = await readVolume(p, quiet);
    expect(v.data).toBeInstanceOf(Uint16Array);
    expect([voxel(v, 0, 0, 0), voxel(v, 1, 0, 0), voxel(v, 2, 0, 0)]).toEqual([4091, 2047, 2048]);
  });
  it("matching signedness is read as is, without a warning (control)", async () => {
    const p = file("j2k-s16-pr1.dcm", await j2k([-2000, 5, -1], 16, true), 1, 16);
    const warnings: string[] = [];
    const v = await readVolume(p, { onWarning: (m) => warnings.push(m) });
    expect([voxel(v, 0, 0, 0), voxel(v, 1, 0, 0), voxel(v, 2, 0, 0)]).toEqual([-2000, 5, -1]);
    expect(warnings).toEqual([]);
  });

  it("two frames in three fragments without an offset table are split at the codestream starts", async () => {
    const a = await j2k([1, 2, 3], 16, false);
    const b = await j2k([7, 8, 9], 16, false);
    const p = file("j2k-3frag.dcm", [a.subarray(0, 100), a.subarray(100), b], 0, 16, 2);
    const v = await readVolume(p, quiet);
    expect(v.shape).toEqual([64, 64, 2]);
    expect([voxel(v, 0, 0, 0), voxel(v, 2, 0, 0), voxel(v, 0, 0, 1), voxel(v, 2, 0, 1)]).toEqual([
      1, 3, 7, 9,
    ]);
  });
  it("NumberOfFrames 3 with two fragments and no offset table is refused with the counts", async () => {
    const a = await j2k([1], 16, false);
    const p = file("j2k-count.dcm", [a, a], 0, 16, 3);
    const e = await refusal(readVolume(p));
    expect(e.message).toBe(
      `${p}: JPEG 2000 Lossless PixelData has 2 fragments and no offset table, but NumberOfFrames is 3`,
    );
  });
});
