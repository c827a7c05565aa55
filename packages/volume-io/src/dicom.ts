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
 * - Values: stored pixel (masked to BitsStored, sign-extended when PixelRepresentation = 1) ·
 *   RescaleSlope + RescaleIntercept — HU for CT. Per-slice rescale values are honoured.
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
import { decodeFrame, hasCodec, loadCodecs } from "./codecs.js";
import { allocVoxels, cOrderStrides, type DiskTypeName, destinationType, VoxelWriter } from "./decode.js";
import { VolumeReadError } from "./errors.js";
import { lpsToRas } from "./geometry.js";
import { MAX_VOXELS, type ReadOptions } from "./nifti.js";
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

/** Parse one file; null when it is not DICOM (for folder scans) unless `strict`. */
function parseFile(file: string, bytes: Uint8Array, strict: boolean): DataSet | null {
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
    if (!strict) return null;
    throw new VolumeReadError(
      file,
      `unreadable DICOM (${err instanceof Error ? err.message : String(err)})`,
      { cause: err },
    );
  }
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
  const nFrames = Math.max(1, ds.intString("x00280008") ?? 1);
  const shared = item(ds, "x52009229");
  const perFrame = ds.elements.x52009230?.items;
  const series = ds.string("x0020000e") ?? "";
  const instance = ds.intString("x00200013") ?? 0;
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
    const pvt = item(pf, "x00289145") ?? item(shared, "x00289145");
    const slope = dsNumbers(pvt, "x00281053")?.[0] ?? dsNumbers(ds, "x00281053")?.[0] ?? 1;
    const inter = dsNumbers(pvt, "x00281052")?.[0] ?? dsNumbers(ds, "x00281052")?.[0] ?? 0;
    frames.push({
      file,
      ds,
      index: f,
      ts,
      rows,
      cols,
      ipp: ippV && ippV.length >= 3 ? [ippV[0], ippV[1], ippV[2]] : null,
      iop: iopV && iopV.length >= 6 ? iopV.slice(0, 6) : null,
      pixelSpacing:
        psV && psV.length >= 2 ? [psV[0], psV[1]] : psV && psV.length === 1 ? [psV[0], psV[0]] : null,
      slope: slope === 0 ? 1 : slope,
      inter,
      instance: instance * 100000 + f,
      series,
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
function frameBytes(f: Frame, fmt: PixelFormat): { bytes: Uint8Array; littleEndian: boolean } {
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
  const nFrames = Math.max(1, ds.intString("x00280008") ?? 1);
  let enc: Uint8Array;
  try {
    const frags = el.fragments ?? [];
    enc = el.basicOffsetTable?.length
      ? dicomParser.readEncapsulatedImageFrame(ds, el, f.index)
      : nFrames === 1
        ? dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, 0, frags.length)
        : dicomParser.readEncapsulatedPixelDataFromFragments(ds, el, f.index, 1);
  } catch (err) {
    throw new VolumeReadError(f.file, `cannot locate ${name} frame ${f.index} (${String(err)})`, {
      cause: err,
    });
  }
  if (f.ts === RLE)
    return { bytes: decodeRle(f.file, enc, f.rows, f.cols, fmt.bitsAllocated), littleEndian: hostLE };
  let out: ReturnType<typeof decodeFrame>;
  try {
    out = decodeFrame(f.ts, enc, fmt.bitsAllocated);
  } catch (err) {
    throw new VolumeReadError(
      f.file,
      `${name} frame ${f.index} could not be decoded (${err instanceof Error ? err.message : String(err)})`,
      {
        cause: err,
      },
    );
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
  return { bytes: out.samples, littleEndian: hostLE };
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
async function looksLikeDicom(file: string): Promise<boolean> {
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

const dot = (a: number[], b: number[]) => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
const cross = (a: number[], b: number[]): Vec3 => [
  a[1] * b[2] - a[2] * b[1],
  a[2] * b[0] - a[0] * b[2],
  a[0] * b[1] - a[1] * b[0],
];

/**
 * Read a DICOM series folder (every file of the largest series; non-DICOM files are skipped) or a
 * single DICOM file (all its frames) into a volume. See the module documentation for sorting,
 * spacing, rescaling and the LPS → RAS conversion.
 * @throws VolumeReadError naming the file or folder: no DICOM images, slices of different size or
 *   orientation, two slices at one position, short pixel data, unsupported (compressed) transfer
 *   syntaxes, colour images.
 */
export async function readDicom(path: string, opts: ReadOptions = {}): Promise<Volume> {
  const st = await stat(path).catch((err) => {
    throw new VolumeReadError(path, "does not exist", { cause: err });
  });
  const isDir = st.isDirectory();
  const files = isDir ? await listFiles(path) : [path];
  let frames: Frame[] = [];
  for (const file of files) {
    // in a folder, look at the first 132 bytes before reading a whole file
    if (isDir && !(await looksLikeDicom(file))) continue;
    const bytes = await readFile(file);
    if (bytes.length === 0) {
      if (!isDir) throw new VolumeReadError(file, "is empty");
      continue;
    }
    const ds = parseFile(file, new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), !isDir);
    if (ds) frames.push(...framesOf(file, ds, !isDir));
  }
  if (frames.length === 0) throw new VolumeReadError(path, "contains no DICOM images");
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
  let sz = thick > 0 ? thick : 1;
  let third: Vec3 = normal;
  let irregular = false;
  if (hasPos && n > 1) {
    const p0 = frames[0].ipp as Vec3;
    const pn = frames[n - 1].ipp as Vec3;
    const step: Vec3 = [(pn[0] - p0[0]) / (n - 1), (pn[1] - p0[1]) / (n - 1), (pn[2] - p0[2]) / (n - 1)];
    sz = Math.hypot(...step);
    if (!(sz > 0)) throw new VolumeReadError(path, "all slices are at the same position");
    third = [step[0] / sz, step[1] / sz, step[2] / sz];
    for (let i = 1; i < n; i++) {
      const gap = dot(frames[i].ipp as Vec3, normal) - dot(frames[i - 1].ipp as Vec3, normal);
      if (Math.abs(gap) < 1e-3 * sz)
        throw new VolumeReadError(
          path,
          `two slices at the same position (${frames[i - 1].file}, ${frames[i].file}): several acquisitions in one series?`,
        );
      if (Math.abs(Math.abs(gap) - sz * Math.abs(dot(third, normal))) > 0.01 * sz) irregular = true;
    }
  }
  const shape: Vec3 = [f0.cols, f0.rows, n];
  const nvals = shape[0] * shape[1] * shape[2];
  if (nvals > MAX_VOXELS) throw new VolumeReadError(path, `absurd size ${shape.join("×")}`);
  const fmt = pixelFormat(f0);
  await loadCodecs(new Set(frames.map((f) => f.ts)));
  const scaled = frames.some((f) => f.slope !== 1 || f.inter !== 0);
  const data = allocVoxels(destinationType(fmt.type, scaled, opts.dtype === "float32"), nvals);
  const [stx, sty, stz] = cOrderStrides(shape, 1);
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  frames.forEach((f, z) => {
    const ffmt = pixelFormat(f);
    if (ffmt.type !== fmt.type)
      throw new VolumeReadError(f.file, `pixel type ${ffmt.type} differs from ${fmt.type} of ${f0.file}`);
    const { bytes, littleEndian } = frameBytes(f, ffmt);
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
    kind: opts.kind ?? "intensity",
    meta: {
      file: path,
      format: isDir ? `DICOM series (${n} slices)` : n > 1 ? `DICOM multi-frame (${n} frames)` : "DICOM",
      datatype: fmt.type,
      byteOrder: fmt.bitsAllocated > 8 ? (f0.ts === "1.2.840.10008.1.2.2" ? "big" : "little") : "n/a",
      transferSyntax: f0.ts,
      transferSyntaxName: TRANSFER_SYNTAXES[f0.ts] ?? "unknown",
      modality: ds0.string("x00080060"),
      seriesInstanceUID: f0.series,
      otherSeries: seriesList.slice(1).map(([uid, fs]) => ({ uid, slices: fs.length })),
      rescale: scaled ? { slope: f0.slope, intercept: f0.inter } : null,
      photometric: ds0.string("x00280004"),
      irregularSliceSpacing: irregular,
      hasPosition: hasPos,
      files: frames.map((f) => f.file),
    },
  };
}
