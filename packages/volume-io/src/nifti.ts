/**
 * NIfTI-1, NIfTI-2 and Analyze 7.5 reading (header fields parsed by `nifti-reader-js`) and NIfTI-1
 * writing.
 *
 * Files: `.nii`, `.nii.gz`, `.hdr`/`.img` pairs (each optionally gzipped). Voxels are stored on
 * disk with x fastest; readers transpose them once into the C order over (x, y, z, c) of `Volume`.
 * Dimensions 4…7 (time, components) are flattened into `channels`, the fastest axis.
 */
import { gzipSync } from "fflate";
import { NIFTI1, NIFTI2 } from "nifti-reader-js";
import { writeFileAtomic } from "./atomic.js";
import { ByteReader, fileChunks, fileSize, inflateChunks, openMaybeGzip } from "./bytes.js";
import {
  allocVoxels,
  BYTES_PER_ELEMENT,
  cOrderStrides,
  type DiskTypeName,
  destinationType,
  VoxelWriter,
  voxelTypeOf,
} from "./decode.js";
import { errorReason, VolumeReadError } from "./errors.js";
import { affineOf, affineToQuatern, geometryFromAffine, quaternToAffine } from "./geometry.js";
import type { Matrix4, Vec3, Volume, VolumeKind, VoxelArray } from "./volume.js";

/** Options shared by every reader. */
export interface ReadOptions {
  /** Intensity image or label map (decides interpolation later). Default `"intensity"`, or `"label"` for NIfTI intent 1002. */
  kind?: VolumeKind;
  /**
   * `"float32"` converts voxels straight from the file bytes into a `Float32Array` (no second
   * full-size copy). Default `"native"`: the on-disk type, or float32 when scl_slope/scl_inter apply.
   */
  dtype?: "native" | "float32";
  /**
   * DICOM series whose slice positions (ImagePositionPatient projected on the slice normal) are not
   * evenly spaced — a missing slice, a gap, mixed acquisitions. `"error"` (default) refuses them
   * with a message listing the positions and gaps; `"resample"` interpolates the slices linearly
   * along the normal, at their true positions, onto a regular grid of the median gap (nearest
   * slice for `kind: "label"`) and reports that through `onWarning`. Two slices at one position
   * are refused in both modes.
   */
  irregularSlices?: "error" | "resample";
  /**
   * Receives each warning of a read (a fallback or a correction the reader applied: resampled
   * slices, a non-finite NIfTI scl_slope, a JPEG 2000 signedness mismatch, skipped unreadable files
   * of a DICOM folder), one line naming the file. Every warning is also listed in `meta.warnings`.
   * Default: `process.emitWarning(message, "VolumeReadWarning")`.
   */
  onWarning?: (message: string) => void;
}

/** Collects the warnings of one read: each goes to `opts.onWarning` (default `process.emitWarning`) and into the list. */
export function warningSink(opts: ReadOptions): { warn: (message: string) => void; list: string[] } {
  const list: string[] = [];
  const out = opts.onWarning ?? ((m: string) => process.emitWarning(m, "VolumeReadWarning"));
  return {
    list,
    warn: (message: string) => {
      list.push(message);
      out(message);
    },
  };
}

/** NIfTI datatype codes (nifti1.h `NIFTI_TYPE_*`) of plain numeric types. */
export const NIFTI_DATATYPES: Record<number, DiskTypeName> = {
  2: "uint8",
  4: "int16",
  8: "int32",
  16: "float32",
  64: "float64",
  256: "int8",
  512: "uint16",
  768: "uint32",
  1024: "int64",
  1280: "uint64",
};

/** Datatype codes that are valid NIfTI but not a scalar real voxel. */
const UNSUPPORTED_DATATYPES: Record<number, string> = {
  1: "binary (1 bit)",
  32: "complex64",
  128: "RGB24",
  1536: "float128",
  1792: "complex128",
  2048: "complex256",
  2304: "RGBA32",
};

/** Largest number of voxel values one volume may hold (typed-array length limit we accept). */
export const MAX_VOXELS = 2 ** 32 - 1;
/** Extension areas up to this size are read and listed in `meta.extensions` (larger ones are skipped). */
const EXTENSION_BYTES = 16 << 20;
/** Deflate cannot expand data more than ~1032:1; a gzip file declaring more is corrupt. */
const MAX_DEFLATE_RATIO = 1032;

function stripGz(p: string): string {
  return p.toLowerCase().endsWith(".gz") ? p.slice(0, -3) : p;
}

async function exists(p: string): Promise<boolean> {
  try {
    await fileSize(p);
    return true;
  } catch {
    return false;
  }
}

/** For a `.hdr`/`.img` pair member (optionally `.gz`), the header and image paths. */
async function pairPaths(path: string): Promise<{ hdr: string; img: string } | null> {
  const base = stripGz(path);
  const low = base.toLowerCase();
  if (!low.endsWith(".hdr") && !low.endsWith(".img")) return null;
  const stem = base.slice(0, -4);
  const isHdr = low.endsWith(".hdr");
  const ext = (s: string) => (base.slice(-4) === base.slice(-4).toUpperCase() ? s.toUpperCase() : s);
  const cands = (e: string) => [`${stem}${ext(e)}`, `${stem}${ext(e)}.gz`];
  const find = async (e: string) => {
    for (const c of cands(e)) if (await exists(c)) return c;
    return null;
  };
  const hdr = isHdr ? path : await find(".hdr");
  const img = isHdr ? await find(".img") : path;
  if (!hdr)
    throw new VolumeReadError(path, `image file has no header (looked for ${cands(".hdr").join(", ")})`);
  if (!img)
    throw new VolumeReadError(hdr, `header has no image file (looked for ${cands(".img").join(", ")})`);
  return { hdr, img };
}

function ab(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/** Parsed header facts this package uses. */
interface NiftiFacts {
  format: "NIfTI-1" | "NIfTI-2" | "Analyze 7.5";
  littleEndian: boolean;
  headerSize: number;
  dims: number[];
  pixdim: number[];
  datatypeCode: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: Vec3;
  srow: number[][];
  intentCode: number;
  description: string;
  xyztUnits: number;
  pair: boolean;
}

function parseHeader(file: string, head: Uint8Array, isPair: boolean): NiftiFacts {
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const le348 = dv.getInt32(0, true) === 348;
  const be348 = dv.getInt32(0, false) === 348;
  const le540 = dv.getInt32(0, true) === 540;
  const be540 = dv.getInt32(0, false) === 540;
  const magicAt = (o: number, n: number) => String.fromCharCode(...head.subarray(o, o + n));
  if (le348 || be348) {
    const le = le348;
    const magic = magicAt(344, 4);
    let format: NiftiFacts["format"];
    if (magic === "n+1\0" || magic === "ni1\0") format = "NIfTI-1";
    else if (isPair) format = "Analyze 7.5";
    else
      throw new VolumeReadError(
        file,
        `wrong magic ${JSON.stringify(magic)} at byte 344 (a single-file NIfTI-1 has "n+1"; Analyze 7.5 needs a .hdr/.img pair)`,
      );
    const h = new NIFTI1();
    try {
      h.readHeader(ab(head.subarray(0, 348)));
    } catch (err) {
      throw new VolumeReadError(file, `unreadable NIfTI-1 header (${errorReason(err)})`, {
        cause: err,
      });
    }
    const srow = [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => dv.getFloat32(280 + (r * 4 + c) * 4, le)));
    const analyze = format === "Analyze 7.5";
    return {
      format,
      littleEndian: le,
      headerSize: 348,
      dims: h.dims.slice(),
      pixdim: h.pixDims.slice(),
      datatypeCode: h.datatypeCode,
      voxOffset: h.vox_offset,
      sclSlope: analyze ? 0 : h.scl_slope,
      sclInter: analyze ? 0 : h.scl_inter,
      qformCode: analyze ? 0 : h.qform_code,
      sformCode: analyze ? 0 : h.sform_code,
      quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
      qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
      srow,
      intentCode: analyze ? 0 : h.intent_code,
      description: h.description,
      xyztUnits: h.xyzt_units,
      pair: isPair || magic === "ni1\0",
    };
  }
  if (le540 || be540) {
    const le = le540;
    const magic = magicAt(4, 4);
    if (magic !== "n+2\0" && magic !== "ni2\0")
      throw new VolumeReadError(file, `wrong magic ${JSON.stringify(magic)} at byte 4 (NIfTI-2 has "n+2")`);
    const h = new NIFTI2();
    try {
      h.readHeader(ab(head.subarray(0, 540)));
    } catch (err) {
      throw new VolumeReadError(file, `unreadable NIfTI-2 header (${errorReason(err)})`, {
        cause: err,
      });
    }
    const dims = [0, 1, 2, 3, 4, 5, 6, 7].map((i) => Number(dv.getBigInt64(16 + i * 8, le)));
    return {
      format: "NIfTI-2",
      littleEndian: le,
      headerSize: 540,
      dims,
      pixdim: h.pixDims.slice(),
      datatypeCode: h.datatypeCode,
      voxOffset: Number(dv.getBigInt64(168, le)),
      sclSlope: h.scl_slope,
      sclInter: h.scl_inter,
      qformCode: h.qform_code,
      sformCode: h.sform_code,
      quatern: [h.quatern_b, h.quatern_c, h.quatern_d],
      qoffset: [h.qoffset_x, h.qoffset_y, h.qoffset_z],
      srow: [0, 1, 2].map((r) => [0, 1, 2, 3].map((c) => dv.getFloat64(400 + (r * 4 + c) * 8, le))),
      intentCode: h.intent_code,
      description: h.description,
      xyztUnits: h.xyzt_units,
      pair: isPair || magic === "ni2\0",
    };
  }
  const got = dv.getInt32(0, true);
  throw new VolumeReadError(file, `not a NIfTI or Analyze file (sizeof_hdr is ${got}, expected 348 or 540)`);
}

/**
 * The voxel-to-world affine (RAS+ mm) of a NIfTI header, with nibabel's `get_best_affine`
 * precedence: the sform when `sform_code > 0`; else the qform when `qform_code > 0` (nifti1.h
 * METHOD 2, quaternion + pixdim, qfac = sign of pixdim[0]); else (and for Analyze 7.5) the
 * Analyze convention: voxel sizes from pixdim, x flipped (radiological storage) and the origin at
 * the volume centre. The NIfTI standard leaves the choice between two valid transforms to the
 * reader; the sform is preferred because it can hold the full (possibly sheared) affine.
 */
function niftiAffine(h: NiftiFacts, shape: Vec3): { affine: Matrix4; source: "sform" | "qform" | "pixdim" } {
  const zoom = (v: number) => (Number.isFinite(v) && v !== 0 ? Math.abs(v) : 1);
  const d: Vec3 = [zoom(h.pixdim[1]), zoom(h.pixdim[2]), zoom(h.pixdim[3])];
  const finiteRows = (m: number[][]) => m.every((r) => r.every(Number.isFinite));
  if (h.sformCode > 0 && finiteRows(h.srow)) {
    const a = [...h.srow.map((r) => r.slice()), [0, 0, 0, 1]] as Matrix4;
    const cols = [0, 1, 2].map((c) => Math.hypot(a[0][c], a[1][c], a[2][c]));
    if (cols.every((n) => n > 0)) return { affine: a, source: "sform" };
  }
  if (h.qformCode > 0) {
    const [b, c, dd] = h.quatern;
    const a = quaternToAffine({
      b,
      c,
      d: dd,
      qx: h.qoffset[0],
      qy: h.qoffset[1],
      qz: h.qoffset[2],
      dx: d[0],
      dy: d[1],
      dz: d[2],
      qfac: h.pixdim[0] < 0 ? -1 : 1,
    });
    if (finiteRows(a)) return { affine: a, source: "qform" };
  }
  return {
    affine: [
      [-d[0], 0, 0, ((shape[0] - 1) / 2) * d[0]],
      [0, d[1], 0, -((shape[1] - 1) / 2) * d[1]],
      [0, 0, d[2], -((shape[2] - 1) / 2) * d[2]],
      [0, 0, 0, 1],
    ],
    source: "pixdim",
  };
}

/**
 * A cheap check that `path` (`.nii`, `.nii.gz`, or the `.hdr` of a pair) starts with a NIfTI/Analyze
 * header `readNifti` accepts: only the first 540 (decompressed) bytes are read; the voxels are not.
 * @throws VolumeReadError naming the file: empty, named `.gz` but not gzip, corrupt gzip at the
 *   start, too short for a header, wrong sizeof_hdr or magic (the same messages as `readNifti`).
 */
export async function checkNiftiHeader(path: string): Promise<void> {
  const pair = await pairPaths(path);
  const hdrPath = pair?.hdr ?? path;
  const hdrSize = await fileSize(hdrPath);
  if (hdrSize === 0) throw new VolumeReadError(hdrPath, "is empty");
  const { reader } = await openMaybeGzip(hdrPath, hdrSize);
  try {
    const first = await reader.peek(540);
    if (first.length < 348)
      throw new VolumeReadError(
        hdrPath,
        `too short for a NIfTI header (${first.length} bytes, needs at least 348)`,
      );
    parseHeader(hdrPath, first, pair !== null);
  } finally {
    await reader.close();
  }
}

/**
 * Read a NIfTI-1 / NIfTI-2 / Analyze 7.5 file (`.nii`, `.nii.gz`, `.hdr`/`.img` pair, gzipped or not).
 *
 * - Voxels: every plain datatype (uint8 … float64, int8, uint16, uint32, int64/uint64 → float64),
 *   both byte orders; complex, RGB, float128 and 1-bit data are refused.
 * - `scl_slope`/`scl_inter`: value = raw·slope + inter; slope 0 (or non-finite) means no scaling
 *   (nifti1.h); a non-finite slope, or a non-finite inter beside a valid slope, is reported
 *   through `opts.onWarning` / `meta.warnings`. Scaled data become float32 (float64 when stored
 *   as float64).
 * - Geometry: see {@link niftiAffine} (sform, then qform, then pixdim).
 * - 4-D/5-D: dims 4…7 flattened into `channels` (fastest axis).
 * - `vox_offset` and extensions honoured and reported: `meta.vox_offset`, `meta.extensions`
 *   (`{ code, name, size }` each, size = esize in bytes); declared sizes are checked against the
 *   file before any voxel array is allocated.
 * @throws VolumeReadError naming the file for wrong magic, empty/truncated files, bad or absurd
 *   dimensions, `vox_offset` past the end, unknown or unsupported datatypes, corrupt gzip.
 */
export async function readNifti(path: string, opts: ReadOptions = {}): Promise<Volume> {
  const pair = await pairPaths(path);
  const hdrPath = pair?.hdr ?? path;
  const hdrSize = await fileSize(hdrPath);
  if (hdrSize === 0) throw new VolumeReadError(hdrPath, "is empty");
  const { reader, gzip } = await openMaybeGzip(hdrPath, hdrSize);
  const readers: ByteReader[] = [reader];
  try {
    return await readNiftiFrom(path, opts, pair, hdrPath, hdrSize, reader, gzip, readers);
  } finally {
    for (const r of readers) await r.close();
  }
}

async function readNiftiFrom(
  path: string,
  opts: ReadOptions,
  pair: { hdr: string; img: string } | null,
  hdrPath: string,
  hdrSize: number,
  reader: ByteReader,
  gzip: boolean,
  readers: ByteReader[],
): Promise<Volume> {
  const first = await reader.peek(540);
  if (first.length < 348)
    throw new VolumeReadError(
      hdrPath,
      `too short for a NIfTI header (${first.length} bytes, needs at least 348)`,
    );
  const h = parseHeader(hdrPath, first, pair !== null);
  await reader.read(h.headerSize, "header");
  const warnings = warningSink(opts);
  let extensions: NiftiExtension[] = [];

  // ---- dimensions
  const ndim = h.dims[0];
  if (!(ndim >= 1 && ndim <= 7)) throw new VolumeReadError(hdrPath, `dim[0] = ${ndim} is not in 1..7`);
  const dims: number[] = [];
  for (let i = 1; i <= ndim; i++) {
    const n = h.dims[i];
    if (!Number.isInteger(n) || n < 1)
      throw new VolumeReadError(hdrPath, `dim[${i}] = ${n}: dimensions must be ≥ 1`);
    dims.push(n);
  }
  const shape: Vec3 = [dims[0] ?? 1, dims[1] ?? 1, dims[2] ?? 1];
  const channels = dims.slice(3).reduce((a, b) => a * b, 1);
  const nvals = shape[0] * shape[1] * shape[2] * channels;
  if (nvals > MAX_VOXELS)
    throw new VolumeReadError(
      hdrPath,
      `absurd dimensions ${dims.join("×")} (${nvals} values, limit ${MAX_VOXELS})`,
    );

  // ---- datatype
  const type = NIFTI_DATATYPES[h.datatypeCode];
  if (!type) {
    const un = UNSUPPORTED_DATATYPES[h.datatypeCode];
    throw new VolumeReadError(
      hdrPath,
      un
        ? `datatype ${h.datatypeCode} (${un}) is not supported: only real scalar voxels can form a volume`
        : `unknown datatype code ${h.datatypeCode}`,
    );
  }
  const nbytes = nvals * BYTES_PER_ELEMENT[type];

  // ---- where the voxels are, checked against the file size before allocating
  const voxOffset = h.voxOffset;
  if (!Number.isFinite(voxOffset) || voxOffset < 0)
    throw new VolumeReadError(hdrPath, `vox_offset ${voxOffset} is invalid`);
  let dataReader: ByteReader;
  let dataPath = hdrPath;
  if (pair) {
    dataPath = pair.img;
    const imgSize = await fileSize(pair.img, "image file");
    const imgGz = pair.img.toLowerCase().endsWith(".gz");
    checkDeclared(pair.img, Math.floor(voxOffset), nbytes, imgSize, imgGz, dims, type);
    if (h.format !== "Analyze 7.5")
      extensions = parseExtensions(
        hdrPath,
        await reader.peek(EXTENSION_BYTES),
        h.littleEndian,
        warnings.warn,
      );
    dataReader = imgGz
      ? ByteReader.of(inflateChunks(fileChunks(pair.img), pair.img, "gzip"), pair.img)
      : ByteReader.of(fileChunks(pair.img), pair.img);
    readers.push(dataReader);
    await dataReader.skip(Math.floor(voxOffset), "voxel data (vox_offset)");
  } else {
    const off = Math.floor(voxOffset);
    if (off < h.headerSize)
      throw new VolumeReadError(
        hdrPath,
        `vox_offset ${voxOffset} lies inside the ${h.headerSize}-byte header`,
      );
    checkDeclared(hdrPath, off, nbytes, hdrSize, gzip, dims, type);
    const gap = off - h.headerSize;
    if (gap <= EXTENSION_BYTES) {
      const ext = await reader.read(gap, "extensions before the voxel data (vox_offset)");
      extensions = parseExtensions(hdrPath, ext, h.littleEndian, warnings.warn);
    } else await reader.skip(gap, "voxel data (vox_offset)");
    dataReader = reader;
  }

  // ---- scaling
  const slope = h.sclSlope;
  const useScale =
    Number.isFinite(slope) &&
    slope !== 0 &&
    !(slope === 1 && (h.sclInter === 0 || !Number.isFinite(h.sclInter)));
  const inter = useScale && Number.isFinite(h.sclInter) ? h.sclInter : 0;
  if (!Number.isFinite(slope))
    warnings.warn(
      `${hdrPath}: scl_slope is ${slope}: voxels are read unscaled (slope 1, inter 0), as nifti1.h prescribes for a non-finite slope`,
    );
  else if (useScale && !Number.isFinite(h.sclInter))
    warnings.warn(`${hdrPath}: scl_inter is ${h.sclInter} with scl_slope ${slope}: inter 0 is used`);
  const dstType = destinationType(type, useScale, opts.dtype === "float32");
  const data = allocVoxels(dstType, nvals);
  const [sx, sy, sz] = cOrderStrides(shape, channels);
  const writer = new VoxelWriter(
    {
      type,
      littleEndian: h.littleEndian,
      sizes: [shape[0], shape[1], shape[2], channels],
      strides: [sx, sy, sz, 1],
      ...(useScale ? { slope, inter } : {}),
    },
    data,
  );
  await dataReader.pipe((b) => writer.push(b));
  if (!writer.done)
    throw new VolumeReadError(
      dataPath,
      `truncated: voxel data ends after ${writer.total - writer.remaining} of ${writer.total} values`,
    );

  const { affine, source } = niftiAffine(h, shape);
  const geom = geometryFromAffine(affine);
  return {
    data,
    shape,
    channels,
    ...geom,
    kind: opts.kind ?? (h.intentCode === 1002 ? "label" : "intensity"),
    meta: {
      file: path,
      format: h.format + (gzip ? " gz" : "") + (h.pair ? " pair" : ""),
      datatype: type,
      byteOrder: BYTES_PER_ELEMENT[type] > 1 ? (h.littleEndian ? "little" : "big") : "n/a",
      dims,
      pixdim: h.pixdim.slice(0, ndim + 1),
      vox_offset: h.voxOffset,
      extensions,
      scl_slope: h.sclSlope,
      scl_inter: h.sclInter,
      qform_code: h.qformCode,
      sform_code: h.sformCode,
      affineSource: source,
      intent_code: h.intentCode,
      description: h.description,
      xyzt_units: h.xyztUnits,
      warnings: warnings.list,
    },
  };
}

/** NIfTI extension codes (the NIfTI ecode registry) and their names. */
export const NIFTI_EXTENSION_CODES: Record<number, string> = {
  0: "ignore",
  2: "dicom",
  4: "afni",
  6: "comment",
  8: "xcede",
  10: "jimdiminfo",
  12: "workflow_fwds",
  14: "freesurfer",
  16: "pypickle",
  18: "mind_ident",
  20: "b_value",
  22: "spherical_direction",
  24: "dt_component",
  26: "shc_degreeorder",
  28: "voxbo",
  30: "caret",
  32: "cifti",
  34: "variable_frame_timing",
  38: "eval",
  40: "matlab",
  42: "quantiphyse",
  44: "mrs",
};

/** One NIfTI header extension: `size` is its esize, the bytes on disk including the 8-byte esize/ecode head. */
export interface NiftiExtension {
  code: number;
  name: string;
  size: number;
}

/** Extensions listed in the bytes after the header (4-byte extender, then esize/ecode/data blocks). */
function parseExtensions(
  file: string,
  bytes: Uint8Array,
  le: boolean,
  warn: (m: string) => void,
): NiftiExtension[] {
  if (bytes.length < 4 || bytes[0] === 0) return [];
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: NiftiExtension[] = [];
  let p = 4;
  while (p + 8 <= bytes.length) {
    const size = dv.getInt32(p, le);
    const code = dv.getInt32(p + 4, le);
    if (size < 8 || p + size > bytes.length) {
      warn(
        `${file}: NIfTI extension ${out.length + 1} declares esize ${size} at byte ${p} of the extension area (${bytes.length} bytes): it and any after it are ignored`,
      );
      break;
    }
    out.push({ code, name: NIFTI_EXTENSION_CODES[code] ?? "unknown", size });
    p += size;
  }
  return out;
}

function checkDeclared(
  file: string,
  off: number,
  nbytes: number,
  size: number,
  gz: boolean,
  dims: number[],
  type: string,
): void {
  const what = `${dims.join("×")} ${type} voxels (${nbytes} bytes)`;
  if (!gz) {
    if (off >= size && nbytes > 0)
      throw new VolumeReadError(file, `vox_offset ${off} is past the end of the file (${size} bytes)`);
    if (off + nbytes > size)
      throw new VolumeReadError(
        file,
        `truncated: header declares ${what} from offset ${off}, but the file has only ${size} bytes`,
      );
  } else if (off + nbytes > size * MAX_DEFLATE_RATIO + 1024) {
    throw new VolumeReadError(
      file,
      `header declares ${what} from offset ${off}, more than a ${size}-byte gzip file can hold: absurd dimensions or corrupt header`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// writing

const DATATYPE_CODE: Record<string, number> = {
  uint8: 2,
  int16: 4,
  int32: 8,
  float32: 16,
  float64: 64,
  int8: 256,
  uint16: 512,
  uint32: 768,
};

/**
 * Write a volume as NIfTI-1 (`.nii`, or gzip-compressed when the path ends in `.gz`), atomically.
 *
 * Header: little-endian, 348 bytes + 4 zero extension bytes, `vox_offset` 352; datatype from the
 * typed array; `scl_slope` 1, `scl_inter` 0; `xyzt_units` mm (+ s for 4-D); the sform is the affine
 * exactly (float32) and the qform its nearest rigid part (`nifti_mat44_to_quatern`); the codes are
 * the source file's when it had them (`meta.qform_code`/`meta.sform_code`), else 1 (scanner).
 * Channels become dim 4. Voxels are written x fastest (the transpose of the in-memory C order),
 * so a read → write → read round trip is bit-exact.
 * @throws Error for an unsupported path extension.
 */
export async function writeNifti(path: string, vol: Volume): Promise<void> {
  const low = path.toLowerCase();
  if (!low.endsWith(".nii") && !low.endsWith(".nii.gz"))
    throw new Error(`writeNifti: ${path}: the file name must end in .nii or .nii.gz`);
  const bytes = encodeNifti(vol);
  await writeFileAtomic(path, low.endsWith(".gz") ? gzipSync(bytes, { level: 6 }) : bytes);
}

/** The bytes of a NIfTI-1 `.nii` file for `vol` (see {@link writeNifti}). */
export function encodeNifti(vol: Volume): Uint8Array {
  const type = voxelTypeOf(vol.data);
  const code = DATATYPE_CODE[type];
  const bpe = vol.data.BYTES_PER_ELEMENT;
  const [nx, ny, nz] = vol.shape;
  const C = vol.channels;
  const nvals = nx * ny * nz * C;
  if (vol.data.length !== nvals)
    throw new Error(`writeNifti: data length ${vol.data.length} ≠ ${nx}×${ny}×${nz}×${C}`);
  const out = new Uint8Array(352 + nvals * bpe);
  const dv = new DataView(out.buffer);
  const le = true;
  dv.setInt32(0, 348, le);
  const ndim = C > 1 ? 4 : 3;
  const dims = [ndim, nx, ny, nz, Math.max(C, 1), 1, 1, 1];
  for (let i = 0; i < 8; i++) dv.setInt16(40 + i * 2, dims[i], le);
  dv.setInt16(70, code, le);
  dv.setInt16(72, bpe * 8, le);
  const affine = affineOf(vol);
  const q = affineToQuatern(affine);
  const meta = vol.meta ?? {};
  const pixdim4 =
    typeof meta.pixdim === "object" && Array.isArray(meta.pixdim) && Number(meta.pixdim[4]) > 0
      ? Number(meta.pixdim[4])
      : 1;
  const pixdim = [q.qfac, vol.spacing[0], vol.spacing[1], vol.spacing[2], pixdim4, 1, 1, 1];
  for (let i = 0; i < 8; i++) dv.setFloat32(76 + i * 4, pixdim[i], le);
  dv.setFloat32(108, 352, le);
  dv.setFloat32(112, 1, le);
  dv.setFloat32(116, 0, le);
  dv.setUint8(123, C > 1 ? 2 + 8 : 2);
  const desc = "models-genesis volume-io";
  for (let i = 0; i < desc.length; i++) out[148 + i] = desc.charCodeAt(i);
  const qcode = Number(meta.qform_code) > 0 ? Number(meta.qform_code) : 1;
  const scode = Number(meta.sform_code) > 0 ? Number(meta.sform_code) : 1;
  dv.setInt16(252, qcode, le);
  dv.setInt16(254, scode, le);
  dv.setFloat32(256, q.b, le);
  dv.setFloat32(260, q.c, le);
  dv.setFloat32(264, q.d, le);
  dv.setFloat32(268, q.qx, le);
  dv.setFloat32(272, q.qy, le);
  dv.setFloat32(276, q.qz, le);
  for (let r = 0; r < 3; r++)
    for (let c = 0; c < 4; c++) dv.setFloat32(280 + (r * 4 + c) * 4, affine[r][c], le);
  if (vol.kind === "label") dv.setInt16(68, 1002, le);
  out.set([0x6e, 0x2b, 0x31, 0], 344);
  // voxels: x fastest, then y, z, c — the in-memory C order (c fastest) streamed through the
  // same monomorphic scatter kernels the readers use
  const hostLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const Ctor = vol.data.constructor as { new (b: ArrayBuffer, o: number, n: number): VoxelArray };
  const dst = new Ctor(out.buffer, 352, nvals);
  const writer = new VoxelWriter(
    {
      type: type as DiskTypeName,
      littleEndian: hostLE,
      sizes: [C, nz, ny, nx],
      strides: [nx * ny * nz, nx * ny, nx, 1],
    },
    dst,
  );
  writer.push(new Uint8Array(vol.data.buffer, vol.data.byteOffset, vol.data.byteLength));
  if (!hostLE && bpe > 1) {
    for (let i = 352; i < out.length; i += bpe) out.subarray(i, i + bpe).reverse();
  }
  return out;
}
