import { basename } from "node:path";
import { type Matrix3, type Vec3, type Volume, writeNifti } from "@models-genesis/volume-io";
import { writeFileAtomic } from "./files.js";

/**
 * Minimal writers used to lay real sample data out in each public dataset's own structure
 * (LUNA16 MetaImage scans, LiTS / CTA NIfTI files). They write scalar int16 / uint8 volumes only;
 * NIfTI encoding itself is volume-io's `writeNifti`.
 */

type DiskType = "int16" | "uint8";

function toDisk(data: ArrayLike<number>, type: DiskType): Int16Array | Uint8Array {
  const out = type === "int16" ? new Int16Array(data.length) : new Uint8Array(data.length);
  const [lo, hi] = type === "int16" ? [-32768, 32767] : [0, 255];
  for (let i = 0; i < data.length; i++) out[i] = Math.min(hi, Math.max(lo, Math.round(data[i])));
  return out;
}

/**
 * Reorder a volume's voxel axes (permute and flip) so that its direction in **LPS** becomes the
 * identity, the LUNA16 header convention (`TransformMatrix = 1 0 0 0 1 0 0 0 1`). World positions of
 * all voxels are unchanged. Returns C-order data over the new (x, y, z), spacing, and the LPS origin.
 *
 * @throws Error when the direction is oblique (not a signed permutation within 1e-3).
 */
export function reorientToLpsIdentity(vol: Volume): {
  data: Float32Array;
  shape: Vec3;
  spacing: Vec3;
  originLps: Vec3;
} {
  const dirLps: Matrix3 = [
    vol.direction[0].map((v) => -v) as Vec3,
    vol.direction[1].map((v) => -v) as Vec3,
    [...vol.direction[2]] as Vec3,
  ];
  // For new axis r: source voxel axis j = src[r], flipped when sign[r] < 0.
  const src: number[] = [];
  const sign: number[] = [];
  for (let r = 0; r < 3; r++) {
    const j = [0, 1, 2].find((c) => Math.abs(Math.abs(dirLps[r][c]) - 1) < 1e-3);
    if (j === undefined)
      throw new Error(
        `reorientToLpsIdentity: oblique direction ${JSON.stringify(vol.direction)} is not supported`,
      );
    src.push(j);
    sign.push(Math.sign(dirLps[r][j]));
  }
  if (new Set(src).size !== 3) throw new Error("reorientToLpsIdentity: direction is not a permutation");
  const n = vol.shape;
  const shape: Vec3 = [n[src[0]], n[src[1]], n[src[2]]];
  const spacing: Vec3 = [vol.spacing[src[0]], vol.spacing[src[1]], vol.spacing[src[2]]];
  const data = new Float32Array(shape[0] * shape[1] * shape[2]);
  const idx = [0, 0, 0];
  let k = 0;
  for (let a = 0; a < shape[0]; a++) {
    idx[src[0]] = sign[0] > 0 ? a : shape[0] - 1 - a;
    for (let b = 0; b < shape[1]; b++) {
      idx[src[1]] = sign[1] > 0 ? b : shape[1] - 1 - b;
      for (let c = 0; c < shape[2]; c++) {
        idx[src[2]] = sign[2] > 0 ? c : shape[2] - 1 - c;
        data[k++] = vol.data[((idx[0] * n[1] + idx[1]) * n[2] + idx[2]) * vol.channels];
      }
    }
  }
  // LPS world of the new voxel (0,0,0) = source voxel with flipped axes at their last index.
  const first = [0, 0, 0];
  for (let r = 0; r < 3; r++) first[src[r]] = sign[r] > 0 ? 0 : shape[r] - 1;
  const ras: Vec3 = [0, 0, 0];
  for (let r = 0; r < 3; r++) {
    ras[r] = vol.origin[r];
    for (let c = 0; c < 3; c++) ras[r] += vol.direction[r][c] * vol.spacing[c] * first[c];
  }
  return { data, shape, spacing, originLps: [-ras[0], -ras[1], ras[2]] };
}

/**
 * Write a scalar volume as a LUNA16-style MetaImage pair `<path>.mhd` + `<stem>.raw` (int16 LE,
 * `BinaryDataByteOrderMSB = False`, `TransformMatrix` identity in LPS after {@link reorientToLpsIdentity},
 * `Offset` = LPS mm of the first voxel, `AnatomicalOrientation = RAI`), both files atomically.
 * MetaImage stores x fastest, so the C-order (x, y, z) data are transposed on write.
 *
 * @param path the `.mhd` path.
 */
export async function writeMetaImage(path: string, vol: Volume): Promise<void> {
  if (!path.endsWith(".mhd")) throw new Error(`writeMetaImage: ${path} must end in .mhd`);
  const r = reorientToLpsIdentity(vol);
  const [nx, ny, nz] = r.shape;
  const disk = new Int16Array(nx * ny * nz);
  const src = toDisk(r.data, "int16");
  for (let x = 0; x < nx; x++)
    for (let y = 0; y < ny; y++)
      for (let z = 0; z < nz; z++) disk[x + nx * (y + ny * z)] = src[(x * ny + y) * nz + z];
  const rawName = `${basename(path, ".mhd")}.raw`;
  const fmt = (v: readonly number[]) => v.map((x) => Number(x.toPrecision(10))).join(" ");
  const header = [
    "ObjectType = Image",
    "NDims = 3",
    "BinaryData = True",
    "BinaryDataByteOrderMSB = False",
    "CompressedData = False",
    "TransformMatrix = 1 0 0 0 1 0 0 0 1",
    `Offset = ${fmt(r.originLps)}`,
    "CenterOfRotation = 0 0 0",
    "AnatomicalOrientation = RAI",
    `ElementSpacing = ${fmt(r.spacing)}`,
    `DimSize = ${nx} ${ny} ${nz}`,
    "ElementType = MET_SHORT",
    `ElementDataFile = ${rawName}`,
    "",
  ].join("\n");
  await writeFileAtomic(`${path.slice(0, -4)}.raw`, new Uint8Array(disk.buffer));
  await writeFileAtomic(path, header);
}

/**
 * Write a scalar volume as NIfTI-1 through volume-io's `writeNifti` (`.nii`, or gzip when the name
 * ends in `.nii.gz`), stored as `type`: int16 for HU, uint8 for label maps (values rounded and clamped).
 */
export async function writeNiftiAs(path: string, vol: Volume, type: DiskType): Promise<void> {
  const scalar = vol.channels === 1 ? vol.data : vol.data.filter((_, i) => i % vol.channels === 0);
  await writeNifti(path, { ...vol, data: toDisk(scalar, type), channels: 1 });
}

/**
 * A sub-volume `[start, start + size)` of `vol` (inside the volume) with its geometry: same spacing
 * and direction, origin moved to the world position of `start`.
 */
export function subVolume(vol: Volume, start: Vec3, size: Vec3): Volume<Float32Array> {
  for (let a = 0; a < 3; a++) {
    if (start[a] < 0 || start[a] + size[a] > vol.shape[a])
      throw new RangeError(`subVolume: box exceeds the volume on axis ${a}`);
  }
  const [, ny, nz] = vol.shape;
  const data = new Float32Array(size[0] * size[1] * size[2]);
  let k = 0;
  for (let x = 0; x < size[0]; x++)
    for (let y = 0; y < size[1]; y++)
      for (let z = 0; z < size[2]; z++)
        data[k++] = vol.data[(((start[0] + x) * ny + start[1] + y) * nz + start[2] + z) * vol.channels];
  const origin: Vec3 = [0, 0, 0];
  for (let r = 0; r < 3; r++) {
    origin[r] = vol.origin[r];
    for (let c = 0; c < 3; c++) origin[r] += vol.direction[r][c] * vol.spacing[c] * start[c];
  }
  return {
    ...vol,
    data,
    shape: [...size] as Vec3,
    channels: 1,
    origin,
    meta: { ...vol.meta, subVolumeStart: start },
  };
}
