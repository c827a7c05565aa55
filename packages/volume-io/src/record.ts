import { VolumeValueError } from "./errors.js";
import { CT_WINDOW, MRI_WINDOW } from "./preprocess.js";
import type { Vec3 } from "./volume.js";

/**
 * What was done to a volume between the scanner and the model's input: produced once by the code
 * that prepares data, carried with the sample arrays, saved in the model's metadata
 * (`ModelMetadata.preprocessing`) and applied again, from this record alone, by whole-volume
 * prediction. Axis order everywhere is the volume's voxel order (x, y, z) = (rows, cols, deps),
 * as in `Volume.shape`.
 *
 * Order of application: reorient to `orientation` (when set) → resample to `spacing` (mm) or scale
 * by `resize` → intensity window (clip to `window`, scale linearly to `range`) → patches of
 * `patchSize` voxels. With `crop` set (BMS), training cuts `crop` voxels of the unscaled scan and
 * resizes each cut to `patchSize` (the reference's order), so `resize` = `patchSize` / `crop`;
 * whole-volume prediction scales the whole scan by `resize` and slides `patchSize` windows.
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
  /**
   * Region (x, y, z voxels of the unscaled scan) cut around the target and resized to `patchSize`
   * in training (BMS 100×100×50 → 64×64×32); then `resize` must equal `patchSize` / `crop`. Null = none.
   */
  crop: Vec3 | null;
  /** The model's input patch, x/y/z voxels (64×64×32 for the reference). */
  patchSize: Vec3;
  /** Orientation code of the voxel axes the data were put in (e.g. `"RAS"`, `"LPS"`); null = as stored. */
  orientation: string | null;
  /** Where the values come from (file and function of the reference code, or the user's flags). */
  source: string;
}

/** The reference's fine-tuning patch, x/y/z voxels: 64×64×32 (reference-facts). */
export const REFERENCE_PATCH_SIZE: readonly [number, number, number] = Object.freeze([
  64, 64, 32,
]) as readonly [number, number, number];

/**
 * A complete record from the facts a caller knows; the rest takes the reference's values:
 * `window` = CT [−1000, 1000] or MRI [0, 4000] by `modality` (the modality is said, never guessed),
 * `range` [0, 1], `spacing`/`resize`/`crop`/`orientation` null, `patchSize` 64×64×32.
 * @throws VolumeValueError (one line naming `source`) when the result is not a valid record ({@link validateRecord}).
 */
export function recordFor(
  fields: Partial<PreprocessingRecord> & Pick<PreprocessingRecord, "modality" | "source">,
): PreprocessingRecord {
  const w = fields.modality === "MRI" ? MRI_WINDOW : CT_WINDOW;
  const window = fields.window ?? [w.min, w.max];
  const r: PreprocessingRecord = {
    modality: fields.modality,
    window: [window[0], window[1]],
    range: fields.range ? [fields.range[0], fields.range[1]] : [0, 1],
    spacing: fields.spacing ? ([...fields.spacing] as Vec3) : null,
    resize: fields.resize ? ([...fields.resize] as Vec3) : null,
    crop: fields.crop ? ([...fields.crop] as Vec3) : null,
    patchSize: [...(fields.patchSize ?? REFERENCE_PATCH_SIZE)] as Vec3,
    orientation: fields.orientation ?? null,
    source: fields.source,
  };
  return validateRecord(r, fields.source);
}

function vec3(v: unknown, positive: (n: number) => boolean): boolean {
  return Array.isArray(v) && v.length === 3 && v.every((n) => typeof n === "number" && positive(n));
}

/**
 * Check a record read from anywhere (a model's metadata, a prepared-task file) and return it typed.
 * Rules: modality `"CT"`/`"MRI"`; `window` two finite numbers with hi > lo; `range` two finite
 * numbers; `spacing` and `resize` null or three positive finite numbers, not both set; `crop` null
 * or three positive integers; `patchSize` three positive integers; `orientation` null or a
 * three-letter code of R/L, A/P, S/I (one of each); `source` a string.
 * @param file the file (or input) named in the error message.
 * @throws VolumeValueError with one line `<file>: preprocessing record: <field> …`.
 */
export function validateRecord(record: unknown, file: string): PreprocessingRecord {
  const fail = (what: string): never => {
    throw new VolumeValueError(`${file}: preprocessing record: ${what}`);
  };
  if (typeof record !== "object" || record === null || Array.isArray(record)) fail("must be an object");
  const r = record as Record<string, unknown>;
  const finite = (n: number) => Number.isFinite(n);
  const pos = (n: number) => Number.isFinite(n) && n > 0;
  const posInt = (n: number) => Number.isInteger(n) && n > 0;
  if (r.modality !== "CT" && r.modality !== "MRI")
    fail(`modality must be "CT" or "MRI", got ${JSON.stringify(r.modality)}`);
  const pair = (v: unknown) =>
    Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === "number" && finite(n));
  if (!pair(r.window) || !((r.window as number[])[1] > (r.window as number[])[0]))
    fail(`window must be [lo, hi] finite with hi > lo, got ${JSON.stringify(r.window)}`);
  if (!pair(r.range)) fail(`range must be two finite numbers, got ${JSON.stringify(r.range)}`);
  if (r.spacing !== null && !vec3(r.spacing, pos))
    fail(`spacing must be null or three positive mm values, got ${JSON.stringify(r.spacing)}`);
  if (r.resize !== null && !vec3(r.resize, pos))
    fail(`resize must be null or three positive scale factors, got ${JSON.stringify(r.resize)}`);
  if (r.spacing !== null && r.resize !== null) fail("spacing and resize are exclusive; set one or neither");
  if (r.crop !== null && !vec3(r.crop, posInt))
    fail(`crop must be null or three positive integers, got ${JSON.stringify(r.crop)}`);
  if (!vec3(r.patchSize, posInt))
    fail(`patchSize must be three positive integers, got ${JSON.stringify(r.patchSize)}`);
  if (r.crop !== null) {
    const crop = r.crop as number[];
    const patch = r.patchSize as number[];
    const scale = (r.resize ?? [1, 1, 1]) as number[];
    if (crop.some((c, i) => Math.abs(c * scale[i] - patch[i]) > 1e-6 * patch[i]))
      fail(
        `crop ${crop.join("x")} resized to patchSize ${patch.join("x")} needs resize ${crop.map((c, i) => patch[i] / c).join(",")}, got ${JSON.stringify(r.resize)}`,
      );
  }
  if (r.orientation !== null) {
    const o = typeof r.orientation === "string" ? r.orientation.toUpperCase() : "";
    const ok =
      o.length === 3 &&
      ["RL", "AP", "SI"].every((pair) => [...o].filter((c) => pair.includes(c)).length === 1);
    if (!ok) fail(`orientation must be null or a code such as "RAS", got ${JSON.stringify(r.orientation)}`);
  }
  if (typeof r.source !== "string") fail(`source must be a string, got ${JSON.stringify(r.source)}`);
  return {
    modality: r.modality as "CT" | "MRI",
    window: [...(r.window as number[])] as [number, number],
    range: [...(r.range as number[])] as [number, number],
    spacing: r.spacing === null ? null : ([...(r.spacing as number[])] as Vec3),
    resize: r.resize === null ? null : ([...(r.resize as number[])] as Vec3),
    crop: r.crop === null ? null : ([...(r.crop as number[])] as Vec3),
    patchSize: [...(r.patchSize as number[])] as Vec3,
    orientation: r.orientation as string | null,
    source: r.source as string,
  };
}
