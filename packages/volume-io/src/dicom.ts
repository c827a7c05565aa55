/**
 * DICOM reading (parser: `dicom-parser`): a CT/MR series folder, or a single (possibly multi-frame)
 * file, becomes one `Volume`.
 *
 * - Slices are grouped by SeriesInstanceUID (the largest series of a folder is read) and sorted by
 *   ImagePositionPatient projected on the slice normal (ImageOrientationPatient row × column),
 *   never by file name or InstanceNumber.
 * - x = column index (along the IOP row cosine), y = row index (along the IOP column cosine),
 *   z = sorted slice index. Spacing: x = PixelSpacing[1], y = PixelSpacing[0] (DICOM lists the
 *   row spacing first), z = distance between the first and last slice positions / (N − 1). The
 *   third direction column is that slice-to-slice vector, so gantry tilt is kept exactly.
 * - The slice positions along the normal must be evenly spaced (within 1 % of the median gap, at
 *   least 0.01 mm): a missing slice, a gap or two slices at one position is refused, never put on a
 *   regular grid by assumption. `irregularSlices: "resample"` interpolates irregular slices
 *   linearly at their true positions onto a regular grid (median gap), with a warning.
 * - Multi-frame files: frames are placed by per-frame PlanePositionSequence, or for RT Dose by
 *   GridFrameOffsetVector (relative to ImagePositionPatient along the normal; the older absolute
 *   z form is recognised). NumberOfFrames must be an integer that agrees with the PixelData length
 *   (native) or with the fragments / offset table (encapsulated).
 * - Values: stored pixel (masked to BitsStored, sign-extended when PixelRepresentation = 1) ·
 *   RescaleSlope + RescaleIntercept — HU for CT; RT Dose: · DoseGridScaling (Gy). Per-slice rescale
 *   values are honoured. PixelRepresentation decides signedness, also for decoded JPEG 2000 frames
 *   whose codestream says otherwise (corrected as pydicom does, with a warning).
 * - World coordinates: DICOM patient coordinates are LPS+; they are converted to RAS+.
 * - Transfer syntaxes: implicit/explicit VR little endian, explicit big endian, deflated explicit
 *   little endian and RLE Lossless are decoded here; JPEG 2000, JPEG-LS and JPEG Lossless (process
 *   14) through maintained codec libraries (`codecs.ts`); lossy baseline/extended JPEG and
 *   High-Throughput JPEG 2000 are refused with a message naming the transfer syntax.
 */
import { open, readdir, readFile, stat } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { inflateSync } from "fflate";
import { decodeFrame, hasCodec, J2K_SYNTAXES, loadCodecs } from "./codecs.js";
import { allocVoxels, cOrderStrides, type DiskTypeName, destinationType, VoxelWriter } from "./decode.js";
import { errorReason, VolumeReadError } from "./errors.js";
import { lpsToRas } from "./geometry.js";
import { MAX_VOXELS, type ReadOptions, warningSink } from "./nifti.js";
import type { Matrix3, Vec3, Volume } from "./volume.js";

// dicom-parser ships a UMD bundle: load it through require so Node's ESM loader sees its exports
const dicomParser = createRequire(import.meta.url)("dicom-parser") as typeof import("dicom-parser");
type DataSet = import("dicom-parser").DataSet;

/** Transfer syntax UIDs and their names (DICOM PS3.6 Annex A). */
export const TRANSFER_SYNTAXES: Record<string, string> = {
  "1.2.840.10008.1.2": "Implicit VR Little Endian",
  "1.2.840.10008.1.2.1": "Explicit VR Little Endian",
  "1.2.840.10008.1.2.1.99": "Deflated Explicit VR Little Endian",
  "1.2.840.10008.1.2.2": "Explicit VR Big Endian",
  "1.2.840.10008.1.2.5": "RLE Lossless",
  "1.2.840.10008.1.2.4.50": "JPEG Baseline (Process 1)",
  "1.2.840.10008.1.2.4.51": "JPEG Extended (Process 2 & 4)",
  "1.2.840.10008.1.2.4.57": "JPEG Lossless (Process 14)",
  "1.2.840.10008.1.2.4.70": "JPEG Lossless (Process 14, SV1)",
  "1.2.840.10008.1.2.4.80": "JPEG-LS Lossless",
  "1.2.840.10008.1.2.4.81": "JPEG-LS Near-Lossless",
  "1.2.840.10008.1.2.4.90": "JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.91": "JPEG 2000",
  "1.2.840.10008.1.2.4.201": "High-Throughput JPEG 2000 Lossless",
  "1.2.840.10008.1.2.4.202": "High-Throughput JPEG 2000 (RPCL) Lossless",
  "1.2.840.10008.1.2.4.203": "High-Throughput JPEG 2000",
};

const NATIVE = new Set([
  "1.2.840.10008.1.2",
  "1.2.840.10008.1.2.1",
  "1.2.840.10008.1.2.1.99",
  "1.2.840.10008.1.2.2",
]);
const RLE = "1.2.840.10008.1.2.5";

const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: number[], b: number[]): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/** One frame of one file, with what is needed to place and decode it. */
interface Frame {
  file: string;
  ds: DataSet;
  index: number;
  ts: string;
  rows: number;
  cols: number;
  ipp: Vec3 | null;
  iop: number[] | null;
  pixelSpacing: [number, number] | null;
  slope: number;
  inter: number;
  instance: number;
  series: string;
  /** NumberOfFrames of the file. */
  nFrames: number;
  /** RT Dose: this frame's GridFrameOffsetVector entry when it placed the frame. */
  gridOffset: number | null;
}

function dsNumbers(ds: DataSet | undefined, tag: string): number[] | null {
  if (!ds?.elements[tag]) return null;
  const s = ds.string(tag);
  if (!s) return null;
  const v = s.split("\\").map((x) => Number(x.trim()));
  return v.every(Number.isFinite) ? v : null;
}

function item(ds: DataSet | undefined, tag: string, i = 0): DataSet | undefined {
  return ds?.elements[tag]?.items?.[i]?.dataSet;
}

/**
 * Parse one file. Not `strict` (folder scans): null when it is not DICOM, the parser's reason (a
 * string) when it looks like DICOM but cannot be parsed. `strict`: both throw.
 */
function parseFile(file: string, bytes: Uint8Array, strict: boolean): DataSet | string | null {
  const hasPreamble =
    bytes.length >= 132 &&
    bytes[128] === 0x44 &&
    bytes[129] === 0x49 &&
    bytes[130] === 0x43 &&
    bytes[131] === 0x4d;
  const inflater = (arr: Uint8Array, position: number) => {
    const inflated = inflateSync(arr.subarray(position));
    const full = new Uint8Array(position + inflated.length);
    full.set(arr.subarray(0, position), 0);
    full.set(inflated, position);
    return full;
  };
  try {
    if (hasPreamble)
      return dicomParser.parseDicom(bytes, { inflater } as import("dicom-parser").ParseDicomOptions);
    // a raw data set without preamble/meta header (allowed by some writers): guess explicit vs implicit VR
    const looksExplicit = bytes.length > 6 && /^[A-Z]{2}$/.test(String.fromCharCode(bytes[4], bytes[5]));
    const groupOk = bytes.length > 2 && (bytes[0] === 0x08 || bytes[0] === 0x02) && bytes[1] === 0x00;
    if (!groupOk) {
      if (strict)
        throw new VolumeReadError(
          file,
          "not a DICOM file (no DICM marker at byte 128 and no data set at byte 0)",
        );
      return null;
    }
    return dicomParser.parseDicom(bytes, {
      TransferSyntaxUID: looksExplicit ? "1.2.840.10008.1.2.1" : "1.2.840.10008.1.2",
    });
  } catch (err) {
    if (err instanceof VolumeReadError) throw err;
    if (!strict) return errorReason(err);
    throw new VolumeReadError(file, `unreadable DICOM (${errorReason(err)})`, { cause: err });
  }
}

/**
 * NumberOfFrames (default 1), checked: it must be a positive integer, and for native (uncompressed)
 * pixel data Rows × Columns × SamplesPerPixel × frames × BitsAllocated/8 must be the PixelData
 * length (one byte of even-length padding allowed).
 * @throws VolumeReadError naming the file, the value and the byte counts.
 */
function numberOfFrames(file: string, ds: DataSet, ts: string, rows: number, cols: number): number {
  const el = ds.elements.x7fe00010;
  const spp = ds.uint16("x00280002") ?? 1;
  const bits = ds.uint16("x00280100") ?? 16;
  const frameBits = rows * cols * spp * bits;
  const native = NATIVE.has(ts) && !el.encapsulatedPixelData;
  const holds = () => {
    if (!native || !(frameBits > 0)) return "";
    const whole = Math.floor((el.length * 8) / frameBits);
    return ` (PixelData holds ${el.length} bytes = ${whole} frame${whole === 1 ? "" : "s"} of ${cols}×${rows}×${spp}×${bits} bits)`;
  };
  const raw = ds.elements.x00280008 ? (ds.string("x00280008") ?? "") : "";
  let n = 1;
  if (raw.trim() !== "") {
    const t = raw.replace(/\0/g, "").trim();
    if (!/^\+?\d+$/.test(t))
      throw new VolumeReadError(file, `NumberOfFrames ${JSON.stringify(t)} is not an integer${holds()}`);
    n = Number(t);
    if (n < 1) throw new VolumeReadError(file, `NumberOfFrames ${n} is not positive${holds()}`);
  }
  if (native && frameBits > 0) {
    const need = Math.ceil((frameBits * n) / 8);
    const counts = `Rows × Columns × SamplesPerPixel × NumberOfFrames × BitsAllocated = ${rows}×${cols}×${spp}×${n}×${bits} bits = ${need} bytes`;
    if (el.length < need)
      throw new VolumeReadError(file, `PixelData is short: ${el.length} bytes, but ${counts}`);
    if (el.length > need + (need % 2))
      throw new VolumeReadError(
        file,
        `PixelData holds ${el.length} bytes (${Math.floor((el.length * 8) / frameBits)} frames), but ${counts}: wrong NumberOfFrames or image size`,
      );
  }
  return n;
}

/**
 * The ImagePositionPatient of frame `f` of a multi-frame RT Dose: GridFrameOffsetVector offsets
 * are distances along the slice normal relative to the file's ImagePositionPatient (first offset
 * 0); the older absolute form (first offset = the position's z, axial orientation only) gives z
 * directly.
 */
function gridFramePosition(
  ipp: number[] | null,
  iop: number[] | null,
  gfov: number[],
  f: number,
): Vec3 | null {
  if (!ipp || ipp.length < 3) return null;
  const o = iop && iop.length >= 6 ? iop : [1, 0, 0, 0, 1, 0];
  const normal = cross(o.slice(0, 3), o.slice(3, 6));
  const axial = Math.abs(normal[2]) > 1 - 1e-6;
  if (gfov[0] !== 0 && axial && Math.abs(gfov[0] - ipp[2]) < 1e-3) return [ipp[0], ipp[1], gfov[f]];
  const d = gfov[f];
  return [ipp[0] + d * normal[0], ipp[1] + d * normal[1], ipp[2] + d * normal[2]];
}

function framesOf(file: string, ds: DataSet, strict: boolean): Frame[] {
  if (!ds.elements.x7fe00010) {
    if (!strict) return [];
    const sop = ds.string("x00080016") ?? "?";
    const mod = ds.string("x00080060") ?? "?";
    throw new VolumeReadError(file, `has no PixelData (modality ${mod}, SOP class ${sop}): not an image`);
  }
  const ts = (ds.string("x00020010") ?? "1.2.840.10008.1.2").replace(/\0/g, "").trim();
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  if (!(rows > 0 && cols > 0))
    throw new VolumeReadError(file, `invalid image size Rows ${rows} × Columns ${cols}`);
  const nFrames = numberOfFrames(file, ds, ts, rows, cols);
  const shared = item(ds, "x52009229");
  const perFrame = ds.elements.x52009230?.items;
  const series = ds.string("x0020000e") ?? "";
  const instance = ds.intString("x00200013") ?? 0;
  // RT Dose: frames placed by GridFrameOffsetVector (3004,000C) along the slice normal
  const gfov = dsNumbers(ds, "x3004000c");
  if (gfov && nFrames > 1 && gfov.length !== nFrames)
    throw new VolumeReadError(
      file,
      `GridFrameOffsetVector lists ${gfov.length} offsets but NumberOfFrames is ${nFrames}`,
    );
  const frames: Frame[] = [];
  for (let f = 0; f < nFrames; f++) {
    const pf = perFrame?.[f]?.dataSet;
    const ippV =
      dsNumbers(item(pf, "x00209113"), "x00200032") ??
      dsNumbers(item(shared, "x00209113"), "x00200032") ??
      dsNumbers(ds, "x00200032");
    const iopV =
      dsNumbers(item(pf, "x00209116"), "x00200037") ??
      dsNumbers(item(shared, "x00209116"), "x00200037") ??
      dsNumbers(ds, "x00200037");
    const psV =
      dsNumbers(item(pf, "x00289110"), "x00280030") ??
      dsNumbers(item(shared, "x00289110"), "x00280030") ??
      dsNumbers(ds, "x00280030") ??
      dsNumbers(ds, "x00181164");
    const ownIpp = dsNumbers(item(pf, "x00209113"), "x00200032");
    const placed = !ownIpp && gfov && nFrames > 1 ? gridFramePosition(ippV, iopV, gfov, f) : null;
    const pvt = item(pf, "x00289145") ?? item(shared, "x00289145");
    const slope =
      dsNumbers(pvt, "x00281053")?.[0] ??
      dsNumbers(ds, "x00281053")?.[0] ??
      dsNumbers(ds, "x3004000e")?.[0] ??
      1;
    const inter = dsNumbers(pvt, "x00281052")?.[0] ?? dsNumbers(ds, "x00281052")?.[0] ?? 0;
    frames.push({
      file,
      ds,
      index: f,
      ts,
      rows,
      cols,
      ipp: placed ?? (ippV && ippV.length >= 3 ? [ippV[0], ippV[1], ippV[2]] : null),
      iop: iopV && iopV.length >= 6 ? iopV.slice(0, 6) : null,
      pixelSpacing:
        psV && psV.length >= 2 ? [psV[0], psV[1]] : psV && psV.length === 1 ? [psV[0], psV[0]] : null,
      slope: slope === 0 ? 1 : slope,
      inter,
      instance: instance * 100000 + f,
      series,
      nFrames,
      gridOffset: placed ? (gfov as number[])[f] : null,
    });
  }
  return frames;
}

/** Decode PackBits-style RLE segments (DICOM PS3.5 Annex G) of one frame into host-order samples. */
function decodeRle(
  file: string,
  bytes: Uint8Array,
  rows: number,
  cols: number,
  bitsAllocated: number,
): Uint8Array {
  const npx = rows * cols;
  const bpp = bitsAllocated / 8;
  if (bytes.length < 64) throw new VolumeReadError(file, "RLE frame is shorter than its 64-byte header");
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nseg = dv.getUint32(0, true);
  if (nseg !== bpp)
    throw new VolumeReadError(
      file,
      `RLE frame has ${nseg} segments, expected ${bpp} for ${bitsAllocated}-bit samples`,
    );
  const offsets = Array.from({ length: nseg }, (_, i) => dv.getUint32(4 + i * 4, true));
  const out = new Uint8Array(npx * bpp);
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  for (let s = 0; s < nseg; s++) {
    const start = offsets[s];
    const end = s + 1 < nseg ? offsets[s + 1] : bytes.length;
    // segment 0 holds the most significant bytes
    const byteInSample = hostLE ? bpp - 1 - s : s;
    let p = start;
    let o = 0;
    while (p < end && o < npx) {
      const n = (bytes[p++] << 24) >> 24;
      if (n >= 0) {
        for (let k = 0; k <= n && o < npx; k++) out[o++ * bpp + byteInSample] = bytes[p++];
      } else if (n > -128) {
        const v = bytes[p++];
        for (let k = 0; k < 1 - n && o < npx; k++) out[o++ * bpp + byteInSample] = v;
      }
    }
    if (o < npx)
      throw new VolumeReadError(file, `RLE segment ${s} decodes to ${o} of ${npx} samples (corrupt data)`);
  }
  return out;
}

interface PixelFormat {
  bitsAllocated: number;
  bitsStored: number;
  signed: boolean;
  type: DiskTypeName;
}

function pixelFormat(f: Frame): PixelFormat {
  const ds = f.ds;
  const spp = ds.uint16("x00280002") ?? 1;
  if (spp !== 1)
    throw new VolumeReadError(
      f.file,
      `SamplesPerPixel = ${spp} (colour) is not supported: only greyscale CT/MR`,
    );
  if (ds.elements.x7fe00008 || ds.elements.x7fe00009)
    throw new VolumeReadError(f.file, "float pixel data is not supported");
  const bitsAllocated = ds.uint16("x00280100") ?? 16;
  const bitsStored = ds.uint16("x00280101") ?? bitsAllocated;
  const signed = (ds.uint16("x00280103") ?? 0) === 1;
  const types: Record<number, [DiskTypeName, DiskTypeName]> = {
    1: ["uint8", "uint8"],
    8: ["uint8", "int8"],
    16: ["uint16", "int16"],
    32: ["uint32", "int32"],
  };
  const t = types[bitsAllocated];
  if (!t) throw new VolumeReadError(f.file, `BitsAllocated = ${bitsAllocated} is not supported`);
  return { bitsAllocated, bitsStored, signed, type: bitsAllocated === 1 ? "uint8" : t[signed ? 1 : 0] };
}

/** The raw sample bytes (host order for RLE, transfer-syntax order for native) of one frame. */
function frameBytes(
  f: Frame,
  fmt: PixelFormat,
  warn: (m: string) => void,
): { bytes: Uint8Array; littleEndian: boolean } {
  const ds = f.ds;
  const el = ds.elements.x7fe00010;
  const npx = f.rows * f.cols;
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  if (NATIVE.has(f.ts)) {
    if (el.encapsulatedPixelData)
      throw new VolumeReadError(f.file, "encapsulated pixel data in an uncompressed transfer syntax");
    if (fmt.bitsAllocated === 1) {
      const bitStart = f.index * npx;
      const need = Math.ceil((bitStart + npx) / 8);
      if (el.length < need)
        throw new VolumeReadError(f.file, `PixelData is short: ${el.length} bytes, needs ${need}`);
      const out = new Uint8Array(npx);
      const base = ds.byteArray;
      for (let i = 0; i < npx; i++) {
        const b = bitStart + i;
        out[i] = (base[el.dataOffset + (b >> 3)] >> (b & 7)) & 1;
      }
      return { bytes: out, littleEndian: hostLE };
    }
    const bpp = fmt.bitsAllocated / 8;
    const start = el.dataOffset + f.index * npx * bpp;
    const end = start + npx * bpp;
    if (end > el.dataOffset + el.length || end > ds.byteArray.length)
      throw new VolumeReadError(
        f.file,
        `PixelData is short: frame ${f.index} needs bytes ${start}..${end}, element ends at ${el.dataOffset + el.length}`,
      );
    return { bytes: ds.byteArray.subarray(start, end), littleEndian: f.ts !== "1.2.840.10008.1.2.2" };
  }
  const name = TRANSFER_SYNTAXES[f.ts] ?? "unknown";
  if (f.ts !== RLE && !hasCodec(f.ts))
    throw new VolumeReadError(
      f.file,
      `compressed transfer syntax ${f.ts} (${name}) is not supported; convert the series to uncompressed DICOM first (e.g. gdcmconv --raw or dcmdjpeg)`,
    );
  if (!el.encapsulatedPixelData) throw new VolumeReadError(f.file, `${name} pixel data is not encapsulated`);
  const enc = encapsulatedFrame(f, name);
  if (f.ts === RLE)
    return { bytes: decodeRle(f.file, enc, f.rows, f.cols, fmt.bitsAllocated), littleEndian: hostLE };
  let out: ReturnType<typeof decodeFrame>;
  try {
    out = decodeFrame(f.ts, enc, fmt.bitsAllocated);
  } catch (err) {
    throw new VolumeReadError(f.file, `${name} frame ${f.index} could not be decoded (${errorReason(err)})`, {
      cause: err,
    });
  }
  const need = npx * (fmt.bitsAllocated / 8);
  if (out.comps > 1)
    throw new VolumeReadError(
      f.file,
      `${name} frame has ${out.comps} components: only greyscale is supported`,
    );
  if (out.samples.length !== need)
    throw new VolumeReadError(
      f.file,
      `${name} frame ${f.index} decoded to ${out.samples.length} bytes, expected ${need} (${f.cols}×${f.rows}×${fmt.bitsAllocated} bits)`,
    );
  if (J2K_SYNTAXES.has(f.ts)) correctJ2kSign(f, fmt, enc, out.samples, warn);
  return { bytes: out.samples, littleEndian: hostLE };
}

/** Precision and signedness of the first component, from the SIZ marker segment of a JPEG 2000 codestream. */
function j2kComponentFormat(bytes: Uint8Array): { precision: number; signed: boolean } | null {
  for (let i = 0; i + 44 <= bytes.length; i++) {
    if (bytes[i] === 0xff && bytes[i + 1] === 0x4f && bytes[i + 2] === 0xff && bytes[i + 3] === 0x51) {
      const ssiz = bytes[i + 2 + 40];
      return { precision: (ssiz & 0x7f) + 1, signed: (ssiz & 0x80) !== 0 };
    }
  }
  return null;
}

/**
 * PixelRepresentation is the authority on signedness. When a JPEG 2000 codestream says otherwise
 * (an unsigned 13-bit stream in a PixelRepresentation = 1 file, or the reverse), the decoder's
 * samples are sign-extended (or masked) at the codestream's precision in the PixelRepresentation's
 * type — pydicom's `apply_j2k_sign_correction` — and a warning says so.
 */
function correctJ2kSign(
  f: Frame,
  fmt: PixelFormat,
  enc: Uint8Array,
  samples: Uint8Array,
  warn: (m: string) => void,
): void {
  const siz = j2kComponentFormat(enc);
  if (!siz || siz.signed === fmt.signed) return;
  const bits = fmt.bitsAllocated;
  const shift = bits - siz.precision;
  if (f.index === 0)
    warn(
      `${f.file}: JPEG 2000 codestream is ${siz.signed ? "signed" : "unsigned"} ${siz.precision}-bit but PixelRepresentation = ${fmt.signed ? 1 : 0}: samples read as ${fmt.type}${shift > 0 ? ` (${fmt.signed ? "sign-extended" : "masked"} at ${siz.precision} bits)` : ""}, as the PixelRepresentation says`,
    );
  if (shift <= 0 || (bits !== 8 && bits !== 16 && bits !== 32)) return;
  const n = samples.length / (bits / 8);
  const view =
    bits === 8
      ? new Uint8Array(samples.buffer, samples.byteOffset, n)
      : bits === 16
        ? new Uint16Array(samples.buffer, samples.byteOffset, n)
        : new Uint32Array(samples.buffer, samples.byteOffset, n);
  const mask = bits === 32 ? 0xffffffff : (1 << bits) - 1;
  for (let i = 0; i < n; i++) {
    let v = (view[i] << shift) & mask;
    if (fmt.signed && bits < 32) v = (v << (32 - bits)) >> (32 - bits); // to a signed number
    view[i] = (fmt.signed ? v >> shift : v >>> shift) & mask;
  }
}

/**
 * The encapsulated bytes of one frame. Counts are checked: a basic offset table must list
 * NumberOfFrames frames; without one, one fragment per frame, or fragments grouped at the
 * codestream start markers (JPEG 2000 SOC FF4F, JPEG SOI FFD8) into exactly NumberOfFrames frames.
 * @throws VolumeReadError naming the counts, or the parser's reason.
 */
function encapsulatedFrame(f: Frame, name: string): Uint8Array {
  const ds = f.ds;
  const el = ds.elements.x7fe00010;
  const nFrames = f.nFrames;
  const frags = el.fragments ?? [];
  const bot = el.basicOffsetTable ?? [];
  try {
    if (bot.length) {
      if (bot.length !== nFrames)
        throw new VolumeReadError(
          f.file,
          `the ${name} basic offset table lists ${bot.length} frames but NumberOfFrames is ${nFrames}`,
        );
      return dicomParser.readEncapsulatedImageFrame(ds, el, f.index);
    }
    if (frags.length === 0) throw new VolumeReadError(f.file, `${name} PixelData holds no fragments`);
    if (nFrames === 1) return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, frags.length);
    if (frags.length === nFrames)
      return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, f.index, 1);
    const starts: number[] = [];
    if (frags.length > nFrames && f.ts !== RLE) {
      frags.forEach((fr, i) => {
        const b = ds.byteArray;
        const p = fr.position;
        if (b[p] === 0xff && (b[p + 1] === 0x4f || b[p + 1] === 0xd8)) starts.push(i);
      });
    }
    if (starts.length !== nFrames || starts[0] !== 0)
      throw new VolumeReadError(
        f.file,
        `${name} PixelData has ${frags.length} fragments${starts.length ? ` (${starts.length} codestream starts)` : ""} and no offset table, but NumberOfFrames is ${nFrames}`,
      );
    const end = f.index + 1 < nFrames ? starts[f.index + 1] : frags.length;
    return dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, starts[f.index], end - starts[f.index]);
  } catch (err) {
    if (err instanceof VolumeReadError) throw err;
    throw new VolumeReadError(f.file, `cannot locate ${name} frame ${f.index} (${errorReason(err)})`, {
      cause: err,
    });
  }
}

/** Mask to BitsStored and sign-extend, in place on a host-order typed copy. */
function fixBits(
  samples: Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array,
  fmt: PixelFormat,
): void {
  if (fmt.bitsStored >= fmt.bitsAllocated || fmt.bitsAllocated === 1) return;
  const bits = fmt.bitsStored;
  const mask = bits >= 32 ? 0xffffffff : (1 << bits) - 1;
  const sign = 1 << (bits - 1);
  for (let i = 0; i < samples.length; i++) {
    let v = samples[i] & mask;
    if (fmt.signed && v & sign) v -= 1 << bits;
    samples[i] = v;
  }
}

/** DICM at byte 128, or a raw data set starting with a group 0x0002/0x0008 tag. */
export async function looksLikeDicom(file: string): Promise<boolean> {
  const fh = await open(file, "r");
  try {
    const b = new Uint8Array(132);
    const { bytesRead } = await fh.read(b, 0, 132, 0);
    if (bytesRead >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d)
      return true;
    return bytesRead >= 8 && (b[0] === 0x08 || b[0] === 0x02) && b[1] === 0x00 && b[3] === 0x00;
  } finally {
    await fh.close();
  }
}

/**
 * Is `file` a DICOM image (a data set with PixelData and Rows × Columns > 0)? A cheap check for
 * input collection: the file is parsed (no pixel decoding).
 * @returns null for an image, else why not (e.g. `not a DICOM image: no PixelData (modality
 *   RTSTRUCT, SOP class …)`, `unreadable DICOM (…)`, `is empty`)
 */
export async function dicomImageProblem(file: string): Promise<string | null> {
  const bytes = await readFile(file).catch((err) => {
    throw new VolumeReadError(file, `cannot be read (${errorReason(err)})`, { cause: err });
  });
  if (bytes.length === 0) return "is empty";
  const ds = parseFile(file, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), false);
  if (ds === null) return "not a DICOM file (no DICM marker at byte 128 and no data set at byte 0)";
  if (typeof ds === "string") return `unreadable DICOM (${ds})`;
  if (!ds.elements.x7fe00010) {
    const sop = ds.string("x00080016") ?? "?";
    const mod = ds.string("x00080060") ?? "?";
    return `not a DICOM image: no PixelData (modality ${mod}, SOP class ${sop})`;
  }
  const rows = ds.uint16("x00280010") ?? 0;
  const cols = ds.uint16("x00280011") ?? 0;
  if (!(rows > 0 && cols > 0)) return `not a DICOM image: Rows ${rows} × Columns ${cols}`;
  return null;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string, depth: number) => {
    const entries = await readdir(d, { withFileTypes: true });
    entries.sort((a, b) => a.name.localeCompare(b.name));
    for (const e of entries) {
      if (e.name.startsWith(".")) continue;
      const p = join(d, e.name);
      if (e.isDirectory() && depth < 2) await walk(p, depth + 1);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk(dir, 0);
  return out;
}

/** Relative tolerance on slice gaps (of the median gap), with an absolute floor in mm for rounded positions. */
export const SLICE_GAP_TOLERANCE = { relative: 0.01, mm: 0.01 };

const mm = (v: number) => String(Number(v.toFixed(3)));

/** `a, b, c, …, y, z (N)` for long lists. */
function abbreviate(values: string[], keep = 4): string {
  if (values.length <= 2 * keep + 1) return values.join(", ");
  return `${values.slice(0, keep).join(", ")}, …, ${values.slice(-keep).join(", ")} (${values.length} values)`;
}

/** How the sorted slices map onto the output grid. */
interface SliceGrid {
  /** Number of output slices. */
  nz: number;
  /** Slice spacing along the third axis (mm). */
  sz: number;
  /** Unit vector of the third axis (LPS); differs from the normal under gantry tilt. */
  third: Vec3;
  /** For resampling: positions of the input slices along the normal, and of the output grid. */
  resample: { from: number[]; to: number[] } | null;
}

/**
 * The slice grid of sorted frames: positions d_i = ImagePositionPatient · normal must be evenly
 * spaced within {@link SLICE_GAP_TOLERANCE} of the median gap, else refused or (option
 * `irregularSlices: "resample"`) resampled onto a regular grid of the median gap.
 */
function sliceGrid(
  path: string,
  frames: Frame[],
  normal: Vec3,
  opts: ReadOptions,
  warn: (m: string) => void,
): SliceGrid {
  const n = frames.length;
  const p0 = frames[0].ipp as Vec3;
  const pn = frames[n - 1].ipp as Vec3;
  const d = frames.map((f) => dot(f.ipp as Vec3, normal));
  const span = d[n - 1] - d[0];
  const multi = frames.every((f) => f.file === frames[0].file);
  if (!(span > 0)) {
    if (multi)
      throw new VolumeReadError(
        path,
        `all ${n} frames are at the same position ${p0.map(mm).join("\\")}: the file has neither per-frame positions (PerFrameFunctionalGroupsSequence PlanePositionSequence) nor a GridFrameOffsetVector`,
      );
    throw new VolumeReadError(path, `all ${n} slices are at the same position ${p0.map(mm).join("\\")}`);
  }
  const gaps = d.slice(1).map((v, i) => v - d[i]);
  const sorted = [...gaps].sort((a, b) => a - b);
  const median = sorted[Math.floor((sorted.length - 1) / 2)];
  const tol = Math.max(SLICE_GAP_TOLERANCE.relative * median, SLICE_GAP_TOLERANCE.mm);
  const where = (i: number) =>
    multi
      ? `frames ${frames[i].index} and ${frames[i + 1].index}`
      : `${frames[i].file} and ${frames[i + 1].file}`;
  const dup = gaps.findIndex((g) => g < tol);
  if (dup >= 0 && !(median < tol)) {
    const dups = gaps.filter((g) => g < tol).length;
    throw new VolumeReadError(
      path,
      `${dups === 1 ? "two slices" : `${dups} pairs of slices`} at the same position (${where(dup)} at ${mm(d[dup])} mm along the slice normal): several acquisitions in one series? Split the series; resampling cannot choose between them`,
    );
  }
  if (median < tol)
    throw new VolumeReadError(
      path,
      `most slices are at the same position (median gap ${mm(median)} mm; positions ${abbreviate(d.map(mm))} mm along the slice normal): several acquisitions in one series?`,
    );
  const odd = gaps.map((g, i) => [g, i] as const).filter(([g]) => Math.abs(g - median) > tol);
  const stepOf = (m: number): { sz: number; third: Vec3 } => {
    const step: Vec3 = [(pn[0] - p0[0]) / (m - 1), (pn[1] - p0[1]) / (m - 1), (pn[2] - p0[2]) / (m - 1)];
    const sz = Math.hypot(...step);
    return { sz, third: [step[0] / sz, step[1] / sz, step[2] / sz] };
  };
  if (odd.length === 0) return { nz: n, ...stepOf(n), resample: null };
  const oddText = odd
    .slice(0, 3)
    .map(([g, i]) => `${mm(g)} mm between ${mm(d[i])} and ${mm(d[i + 1])}`)
    .join("; ");
  const more = odd.length > 3 ? `; and ${odd.length - 3} more` : "";
  const facts = `${n} slices, median gap ${mm(median)} mm, ${odd.length} gap${odd.length === 1 ? "" : "s"} off by more than ${mm(tol)} mm (${oddText}${more}); positions along the slice normal (mm) ${abbreviate(d.map(mm))}`;
  const m = Math.round(span / median) + 1;
  if ((opts.irregularSlices ?? "error") !== "resample")
    throw new VolumeReadError(
      path,
      `irregular slice positions: ${facts}. Missing slices or mixed acquisitions? Read with irregularSlices: "resample" (CLI: --irregular-slices resample) to interpolate them linearly at their true positions onto a regular ${mm(span / (m - 1))} mm grid`,
    );
  const spacing = span / (m - 1);
  warn(
    `${path}: irregular slice positions resampled: ${facts} → ${m} slices ${mm(spacing)} mm apart, ${opts.kind === "label" ? "nearest slice" : "linear interpolation"} along the normal`,
  );
  return {
    nz: m,
    ...stepOf(m),
    resample: { from: d, to: Array.from({ length: m }, (_, k) => d[0] + k * spacing) },
  };
}

/**
 * Interpolate slices (C order over x, y, z) from positions `from` to positions `to` along z:
 * linearly for intensities (Float32Array out), nearest slice for labels (type kept).
 */
function resampleSlices(
  src: Volume["data"],
  nxy: number,
  from: number[],
  to: number[],
  label: boolean,
): Volume["data"] {
  const nIn = from.length;
  const nOut = to.length;
  const lo = new Int32Array(nOut);
  const w = new Float64Array(nOut);
  let i = 0;
  for (let k = 0; k < nOut; k++) {
    const t = to[k];
    while (i < nIn - 2 && from[i + 1] < t) i++;
    lo[k] = i;
    w[k] = Math.min(1, Math.max(0, (t - from[i]) / (from[i + 1] - from[i])));
  }
  const Ctor = label ? (src.constructor as new (n: number) => Volume["data"]) : Float32Array;
  const out = new Ctor(nxy * nOut);
  const s = src as ArrayLike<number>;
  for (let p = 0; p < nxy; p++) {
    const a = p * nIn;
    const b = p * nOut;
    for (let k = 0; k < nOut; k++) {
      const v0 = s[a + lo[k]];
      const v1 = s[a + lo[k] + 1];
      out[b + k] = label ? (w[k] < 0.5 ? v0 : v1) : v0 + (v1 - v0) * w[k];
    }
  }
  return out;
}

/**
 * Read a DICOM series folder (every file of the largest series; non-DICOM files are skipped) or a
 * single DICOM file (all its frames) into a volume (axes x = columns, y = rows, z = slices sorted
 * along the slice normal; C order over x, y, z; world RAS+ mm). See the module documentation for
 * sorting, spacing, rescaling and the LPS → RAS conversion.
 *
 * Slice positions (ImagePositionPatient projected on the normal; for RT Dose the file's position
 * plus GridFrameOffsetVector) must be evenly spaced: gaps that differ from the median gap by more
 * than 1 % (at least 0.01 mm) are refused, or resampled with `opts.irregularSlices = "resample"`.
 * Warnings (resampling, JPEG 2000 signedness corrections, unreadable files skipped in a folder) go
 * to `opts.onWarning` and `meta.warnings`.
 * @throws VolumeReadError naming the file or folder: no DICOM images, slices of different size or
 *   orientation, two slices at one position, irregular slice positions (with the positions and the
 *   option that resamples them), a NumberOfFrames that is not an integer or disagrees with the
 *   PixelData length, short pixel data, unparseable files (with the parser's reason), unsupported
 *   (compressed) transfer syntaxes, colour images.
 */
export async function readDicom(path: string, opts: ReadOptions = {}): Promise<Volume> {
  const st = await stat(path).catch((err) => {
    throw new VolumeReadError(path, "does not exist", { cause: err });
  });
  const warnings = warningSink(opts);
  const isDir = st.isDirectory();
  const files = isDir ? await listFiles(path) : [path];
  let frames: Frame[] = [];
  const unreadable: string[] = [];
  for (const file of files) {
    // in a folder, look at the first 132 bytes before reading a whole file
    if (isDir && !(await looksLikeDicom(file))) continue;
    const bytes = await readFile(file);
    if (bytes.length === 0) {
      if (!isDir) throw new VolumeReadError(file, "is empty");
      continue;
    }
    const ds = parseFile(file, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), !isDir);
    if (typeof ds === "string") unreadable.push(`${file} (${ds})`);
    else if (ds) frames.push(...framesOf(file, ds, !isDir));
  }
  const skipped = unreadable.length
    ? `${unreadable.length} unreadable DICOM file${unreadable.length === 1 ? "" : "s"} skipped: ${abbreviate(unreadable, 2)}`
    : "";
  if (frames.length === 0)
    throw new VolumeReadError(path, `contains no DICOM images${skipped ? ` (${skipped})` : ""}`);
  if (skipped) warnings.warn(`${path}: ${skipped}`);
  // the largest series
  const bySeries = new Map<string, Frame[]>();
  for (const f of frames) bySeries.set(f.series, [...(bySeries.get(f.series) ?? []), f]);
  const seriesList = [...bySeries.entries()].sort((a, b) => b[1].length - a[1].length);
  frames = seriesList[0][1];

  const f0 = frames[0];
  for (const f of frames) {
    if (f.rows !== f0.rows || f.cols !== f0.cols)
      throw new VolumeReadError(
        f.file,
        `slice size ${f.cols}×${f.rows} differs from ${f0.cols}×${f0.rows} of ${f0.file}`,
      );
    if (f.iop && f0.iop && f.iop.some((v, i) => Math.abs(v - (f0.iop as number[])[i]) > 1e-3))
      throw new VolumeReadError(f.file, `ImageOrientationPatient differs from ${f0.file}: not one volume`);
  }
  const iop = f0.iop ?? [1, 0, 0, 0, 1, 0];
  const rowCos = iop.slice(0, 3);
  const colCos = iop.slice(3, 6);
  const normal = cross(rowCos, colCos);
  const hasPos = frames.every((f) => f.ipp);
  if (hasPos)
    frames.sort((a, b) => dot(a.ipp as Vec3, normal) - dot(b.ipp as Vec3, normal) || a.instance - b.instance);
  else frames.sort((a, b) => a.instance - b.instance);
  const n = frames.length;
  const ps = f0.pixelSpacing;
  const sx = ps && ps[1] > 0 ? ps[1] : 1;
  const sy = ps && ps[0] > 0 ? ps[0] : 1;
  const thick = dsNumbers(f0.ds, "x00180088")?.[0] ?? dsNumbers(f0.ds, "x00180050")?.[0] ?? 1;
  const grid: SliceGrid =
    hasPos && n > 1
      ? sliceGrid(path, frames, normal, opts, warnings.warn)
      : { nz: n, sz: thick > 0 ? thick : 1, third: normal, resample: null };
  const { sz, third } = grid;
  const shape: Vec3 = [f0.cols, f0.rows, n];
  const nvals = shape[0] * shape[1] * grid.nz;
  if (nvals > MAX_VOXELS) throw new VolumeReadError(path, `absurd size ${shape[0]}×${shape[1]}×${grid.nz}`);
  const fmt = pixelFormat(f0);
  await loadCodecs(new Set(frames.map((f) => f.ts)));
  const scaled = frames.some((f) => f.slope !== 1 || f.inter !== 0);
  let data = allocVoxels(
    destinationType(fmt.type, scaled, opts.dtype === "float32"),
    shape[0] * shape[1] * n,
  );
  const [stx, sty, stz] = cOrderStrides(shape, 1);
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  frames.forEach((f, z) => {
    const ffmt = pixelFormat(f);
    if (ffmt.type !== fmt.type)
      throw new VolumeReadError(f.file, `pixel type ${ffmt.type} differs from ${fmt.type} of ${f0.file}`);
    const { bytes, littleEndian } = frameBytes(f, ffmt, warnings.warn);
    // aligned host-order copy of one slice, so BitsStored masking can be applied before rescaling
    const copy = bytes.slice();
    const bpp = Math.max(1, ffmt.bitsAllocated / 8);
    if (bpp > 1 && littleEndian !== hostLE)
      for (let o = 0; o < copy.length; o += bpp) copy.subarray(o, o + bpp).reverse();
    const Ctor = {
      int8: Int8Array,
      uint8: Uint8Array,
      int16: Int16Array,
      uint16: Uint16Array,
      int32: Int32Array,
      uint32: Uint32Array,
    }[ffmt.type as "int8" | "uint8" | "int16" | "uint16" | "int32" | "uint32"];
    fixBits(new Ctor(copy.buffer, 0, f.rows * f.cols), ffmt);
    const writer = new VoxelWriter(
      {
        type: ffmt.type,
        littleEndian: hostLE,
        sizes: [f.cols, f.rows],
        strides: [stx, sty],
        offset: z * stz,
        ...(scaled ? { slope: f.slope, inter: f.inter } : {}),
      },
      data,
    );
    writer.push(copy);
  });
  const kind = opts.kind ?? "intensity";
  if (grid.resample) {
    data = resampleSlices(data, shape[0] * shape[1], grid.resample.from, grid.resample.to, kind === "label");
    shape[2] = grid.nz;
  }
  const dirLps: Matrix3 = [
    [rowCos[0], colCos[0], third[0]],
    [rowCos[1], colCos[1], third[1]],
    [rowCos[2], colCos[2], third[2]],
  ];
  const originLps: Vec3 = (frames[0].ipp as Vec3) ?? [0, 0, 0];
  const ds0 = f0.ds;
  return {
    data,
    shape,
    channels: 1,
    spacing: [sx, sy, sz],
    origin: lpsToRas(originLps),
    direction: lpsToRas(dirLps),
    kind,
    meta: {
      file: path,
      format:
        (isDir ? `DICOM series (${n} slices)` : n > 1 ? `DICOM multi-frame (${n} frames)` : "DICOM") +
        (grid.resample ? `, resampled to ${grid.nz} regular slices` : ""),
      datatype: fmt.type,
      byteOrder: fmt.bitsAllocated > 8 ? (f0.ts === "1.2.840.10008.1.2.2" ? "big" : "little") : "n/a",
      transferSyntax: f0.ts,
      transferSyntaxName: TRANSFER_SYNTAXES[f0.ts] ?? "unknown",
      modality: ds0.string("x00080060"),
      seriesInstanceUID: f0.series,
      otherSeries: seriesList.slice(1).map(([uid, fs]) => ({ uid, slices: fs.length })),
      rescale: scaled ? { slope: f0.slope, intercept: f0.inter } : null,
      photometric: ds0.string("x00280004"),
      irregularSliceSpacing: grid.resample !== null,
      ...(grid.resample
        ? { resampledFrom: grid.resample.from.map((v) => Number(v.toFixed(4))), sliceCount: n }
        : {}),
      ...(frames.some((f) => f.gridOffset !== null)
        ? {
            gridFrameOffsetVector: frames.map((f) => f.gridOffset),
            doseUnits: ds0.string("x30040002") ?? null,
          }
        : {}),
      ...(dsNumbers(ds0, "x3004000e") ? { doseGridScaling: dsNumbers(ds0, "x3004000e")?.[0] } : {}),
      hasPosition: hasPos,
      files: frames.map((f) => f.file),
      warnings: warnings.list,
    },
  };
}
