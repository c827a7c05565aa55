import type { Vec3 } from "./volume.js";

/**
 * What was done to a volume between the scanner and the model's input: produced once by the code
 * that prepares data, carried with the sample arrays, saved in the model's metadata
 * (`ModelMetadata.preprocessing`) and applied again, from this record alone, by whole-volume
 * prediction. Axis order everywhere is the volume's voxel order (x, y, z) = (rows, cols, deps),
 * as in `Volume.shape`.
 *
 * Order of application: reorient to `orientation` (when set) → resample to `spacing` (mm) or scale
 * by `resize` → crop `crop` around the region of interest (training only; whole-volume prediction
 * slides windows instead) → intensity window (clip to `window`, scale linearly to `range`) →
 * patches of `patchSize` voxels.
 */
export interface PreprocessingRecord {
  /** `"CT"` (window in HU) or `"MRI"` (window in scanner units). Never guessed from the window. */
  modality: "CT" | "MRI";
  /** Intensity window [lo, hi] in source units (HU for CT), clipped then mapped linearly to `range`. */
  window: [number, number];
  /** Output range of the window, [0, 1] for every reference task. */
  range: [number, number];
  /** Voxel spacing (mm, x/y/z) the volume was resampled to; null = the scan's own spacing. */
  spacing: Vec3 | null;
  /**
   * Scale factor per axis (output voxels / input voxels) applied instead of a target spacing,
   * e.g. LCS in-plane 512 → 256 = [0.5, 0.5, 1]; null = none. Exclusive with `spacing`.
   */
  resize: Vec3 | null;
  /** Region (x, y, z voxels, before `resize`) cut around the target before resizing to `patchSize`; null = none. */
  crop: Vec3 | null;
  /** The model's input patch, x/y/z voxels (64×64×32 for the reference). */
  patchSize: Vec3;
  /** Orientation code of the voxel axes the data were put in (e.g. `"RAS"`, `"LPS"`); null = as stored. */
  orientation: string | null;
  /** Where the values come from (file and function of the reference code, or the user's flags). */
  source: string;
}
