import { join } from "node:path";
import { type Vec3, type Volume, windowIntensity } from "@models-genesis/volume-io";
import type { SampleArrays } from "./arrays.js";
import { DatasetError } from "./errors.js";
import { loadNpy, saveNpy } from "./io.js";
import { pairImageLabelFiles } from "./pairs.js";
import { cropAround, maskCentroid } from "./patch.js";

/**
 * LIDC-IDRI nodule segmentation (NCS): nodule-centred CT volumes with radiologist masks as NIfTI
 * pairs `image/<id>.nii.gz` + `mask/<id>.nii.gz`, where `<id>` starts with the patient
 * `LIDC-IDRI-NNNN` (e.g. `LIDC-IDRI-0003_R_2`), and the reference's processed arrays
 * `x_{train,valid,test}_64x64x32.npy` / `m_*.npy` (`keras/downstream_tasks/ncs_data.py`).
 */

/** One nodule volume with its mask. */
export interface LidcPair {
  readonly id: string;
  readonly patient: string;
  readonly image: string;
  readonly mask: string;
}

/** The patient id `LIDC-IDRI-NNNN` of a case id. @throws DatasetError when the id has none. */
export function lidcPatientOf(id: string): string {
  const m = /LIDC-IDRI-\d{4}/.exec(id);
  if (!m) throw new DatasetError(id, "no LIDC-IDRI-NNNN patient id in the name");
  return m[0];
}

/**
 * Pair `root/image/<name>` with `root/mask/<name>` (`pairImageLabelFiles`; NIfTI, MetaImage or
 * Analyze files), each id carrying its patient.
 *
 * @throws DatasetError when a folder is missing or empty, an image has no mask, or an id has no
 *   `LIDC-IDRI-NNNN` patient.
 */
export async function discoverLidcPairs(root: string): Promise<LidcPair[]> {
  const pairs = await pairImageLabelFiles(join(root, "image"), join(root, "mask"), { labelWord: "mask" });
  return pairs.map((p) => ({ id: p.id, patient: lidcPatientOf(p.id), image: p.image, mask: p.label }));
}

/**
 * Cut the model input around a nodule: the box of `size` (default 64×64×32) centred on the mask's
 * centroid (rounded to a voxel), the image windowed HU [−1000, 1000] → [0, 1] (padding = −1000 HU → 0),
 * the mask binarised (> 0) and padded with 0. Both C order over `size`.
 *
 * @throws DatasetError when image and mask shapes differ or the mask is empty.
 */
export function ncsCubes(
  image: Volume,
  mask: Volume,
  size: Vec3 = [64, 64, 32],
  window = { min: -1000, max: 1000 },
): { x: Float32Array; y: Float32Array; centre: Vec3 } {
  const where = String(image.meta.file ?? image.meta.path ?? "image");
  if (image.shape.some((v, i) => v !== mask.shape[i])) {
    throw new DatasetError(
      where,
      `image ${image.shape.join("×")} and mask ${mask.shape.join("×")} differ in shape`,
    );
  }
  const m = { data: mask.data, shape: mask.shape };
  const c = maskCentroid(m);
  if (!c) throw new DatasetError(where, "the nodule mask is empty");
  const centre: Vec3 = [Math.round(c[0]), Math.round(c[1]), Math.round(c[2])];
  const hu = cropAround({ data: image.data, shape: image.shape }, centre, size, window.min);
  const y = cropAround(m, centre, size, 0).map((v) => (v > 0 ? 1 : 0));
  return { x: windowIntensity(hu, [window.min, window.max], { source: where }), y, centre };
}

/** The reference's split names in the array file names. */
export type NcsArrayPart = "train" | "valid" | "test";

function squeezeTo(path: string, shape: number[], size: Vec3): number {
  const dims = shape.filter((d, i) => i === 0 || d !== 1);
  if (dims.length !== 4 || dims[1] !== size[0] || dims[2] !== size[1] || dims[3] !== size[2]) {
    throw new DatasetError(
      path,
      `shape (${shape.join(", ")}) is not (N, ${size.join(", ")}) up to singleton axes`,
    );
  }
  return dims[0];
}

/**
 * Read the reference's processed NCS arrays `x_<part>_64x64x32.npy` (CT cubes, [0, 1]) and
 * `m_<part>_64x64x32.npy` (masks) from `dir`. Accepted shapes: `(N, 64, 64, 32)` with any singleton
 * axes (e.g. the `(N, 1, 64, 64, 32)` the reference makes with `expand_dims`), which are squeezed as
 * `ncs_data.py` does. Masks are binarised at 0.5.
 *
 * @throws DatasetError when a file is missing, a shape is wrong, or x and m disagree on N.
 */
export async function readNcsArrays(
  dir: string,
  part: NcsArrayPart,
  size: Vec3 = [64, 64, 32],
): Promise<SampleArrays> {
  const tag = `${size.join("x")}`;
  const xPath = join(dir, `x_${part}_${tag}.npy`);
  const mPath = join(dir, `m_${part}_${tag}.npy`);
  const xa = await loadNpy(xPath);
  const ma = await loadNpy(mPath);
  const n = squeezeTo(xPath, xa.shape, size);
  const nm = squeezeTo(mPath, ma.shape, size);
  if (n !== nm) throw new DatasetError(mPath, `${nm} masks for ${n} images in ${xPath}`);
  const x = Float32Array.from(xa.data);
  const y = new Float32Array(ma.data.length);
  for (let i = 0; i < y.length; i++) y[i] = ma.data[i] > 0.5 ? 1 : 0;
  return {
    x,
    xShape: [n, size[0], size[1], size[2], 1],
    y,
    yShape: [n, size[0], size[1], size[2], 1],
    ids: Array.from({ length: n }, (_, i) => `${part}:${i}`),
  };
}

/** Write arrays in the reference's processed layout (`x_<part>_64x64x32.npy`, `m_<part>_64x64x32.npy`, float32, shape (N, X, Y, Z)). */
export async function writeNcsArrays(dir: string, part: NcsArrayPart, arrays: SampleArrays): Promise<void> {
  const [n, sx, sy, sz] = arrays.xShape;
  const tag = `${sx}x${sy}x${sz}`;
  await saveNpy(join(dir, `x_${part}_${tag}.npy`), arrays.x, [n, sx, sy, sz]);
  await saveNpy(join(dir, `m_${part}_${tag}.npy`), arrays.y, [n, sx, sy, sz]);
}
