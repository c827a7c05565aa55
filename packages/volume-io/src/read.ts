/**
 * `readVolume`: one entry point for every supported format, detected by extension and magic bytes.
 */
import { open, stat } from "node:fs/promises";
import { readDicom } from "./dicom.js";
import { VolumeReadError } from "./errors.js";
import { identity3 } from "./geometry.js";
import { readMetaImage } from "./metaimage.js";
import { type ReadOptions, readNifti } from "./nifti.js";
import { type NpyArray, readNpy } from "./npy.js";
import type { Vec3, Volume, VoxelArray } from "./volume.js";

export type { ReadOptions } from "./nifti.js";

/** Formats `readVolume` recognises. */
export type VolumeFormat = "nifti" | "metaimage" | "npy" | "dicom";

/** Optional format readers registered by other modules of this package (MetaImage, DICOM). */
export const formatReaders: Partial<
  Record<VolumeFormat, (path: string, opts: ReadOptions) => Promise<Volume>>
> = {};

async function sniff(path: string): Promise<Uint8Array> {
  const fh = await open(path, "r");
  try {
    const b = new Uint8Array(132);
    const { bytesRead } = await fh.read(b, 0, 132, 0);
    return b.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/**
 * Which format a path holds: by extension first (`.nii`, `.nii.gz`, `.hdr`/`.img`[.gz], `.mhd`,
 * `.mha`, `.npy`, `.dcm`), else by magic bytes (DICOM `DICM` at 128, `\x93NUMPY`, NIfTI
 * sizeof_hdr 348/540, gzip, MetaImage `ObjectType`/`NDims` text). A directory is a DICOM series.
 * @throws VolumeReadError when the path is missing, empty or of no recognised format.
 */
export async function detectFormat(path: string): Promise<VolumeFormat> {
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    throw new VolumeReadError(path, "does not exist", { cause: err });
  }
  if (st.isDirectory()) return "dicom";
  const low = path.toLowerCase();
  const name = low.endsWith(".gz") ? low.slice(0, -3) : low;
  if (name.endsWith(".nii") || name.endsWith(".hdr") || name.endsWith(".img")) return "nifti";
  if (name.endsWith(".mhd") || name.endsWith(".mha")) return "metaimage";
  if (name.endsWith(".npy")) return "npy";
  if (name.endsWith(".dcm") || name.endsWith(".dicom")) return "dicom";
  if (st.size === 0) throw new VolumeReadError(path, "is empty");
  const b = await sniff(path);
  if (b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d)
    return "dicom";
  if (b.length >= 6 && b[0] === 0x93 && b[1] === 0x4e && b[2] === 0x55) return "npy";
  if (b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b) return "nifti";
  if (b.length >= 4) {
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const s = dv.getInt32(0, true);
    const sb = dv.getInt32(0, false);
    if (s === 348 || sb === 348 || s === 540 || sb === 540) return "nifti";
  }
  const text = new TextDecoder("latin1").decode(b);
  if (/^\s*(ObjectType|NDims|ObjectSubType|Comment|TransformType)\s*=/.test(text)) return "metaimage";
  throw new VolumeReadError(path, "unrecognised format (not NIfTI, Analyze, MetaImage, NumPy .npy or DICOM)");
}

/**
 * A volume from an `.npy` array: shape (x, y) → (x, y, 1); (x, y, z); (x, y, z, c) → channels c.
 * No geometry is stored in `.npy`: spacing 1 mm, origin 0, identity direction. bool → uint8,
 * int64/uint64 → float64 (exact to 2^53).
 * @throws VolumeReadError for 1-D or > 4-D arrays.
 */
export function volumeFromNpy(arr: NpyArray, file: string, opts: ReadOptions = {}): Volume {
  const s = arr.shape;
  if (s.length < 2 || s.length > 4)
    throw new VolumeReadError(
      file,
      `.npy shape (${s.join(", ")}) is not a volume: expected (x, y), (x, y, z) or (x, y, z, c)`,
    );
  const shape: Vec3 = [s[0], s[1], s[2] ?? 1];
  const channels = s[3] ?? 1;
  let data: VoxelArray;
  if (arr.data instanceof BigInt64Array || arr.data instanceof BigUint64Array)
    data = Float64Array.from(arr.data, (v) => Number(v));
  else data = arr.data;
  if (opts.dtype === "float32" && !(data instanceof Float32Array))
    data = Float32Array.from(data as ArrayLike<number>);
  return {
    data,
    shape,
    channels,
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: identity3(),
    kind: opts.kind ?? "intensity",
    meta: { file, format: "NumPy .npy", datatype: arr.dtype, npyShape: s },
  };
}

/**
 * Read a medical volume from any supported format into a {@link Volume} (axes x, y, z; data C
 * order over (x, y, z, c); world RAS+ mm).
 *
 * Formats: NIfTI-1/2 and Analyze 7.5 (`.nii`, `.nii.gz`, `.hdr`/`.img`), MetaImage (`.mhd` +
 * data file, `.mha`), NumPy `.npy`, DICOM (a series folder or a single file).
 * Options: `kind` ("intensity" | "label") and `dtype` ("native" | "float32"; float32 converts
 * straight from the file bytes).
 * @throws VolumeReadError naming the file and the problem for every malformed or unsupported input.
 */
export async function readVolume(path: string, opts: ReadOptions = {}): Promise<Volume> {
  const format = await detectFormat(path);
  switch (format) {
    case "nifti":
      return readNifti(path, opts);
    case "npy":
      return volumeFromNpy(await readNpy(path), path, opts);
    case "metaimage":
      return readMetaImage(path, opts);
    case "dicom":
      return readDicom(path, opts);
  }
}
