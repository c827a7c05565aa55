/**
 * The one intensity window of the project: clip to `[lo, hi]`, then map linearly to `[r0, r1]`.
 * Used by data preparation (`@models-genesis/datasets`), cube extraction
 * (`@models-genesis/transforms`) and whole-volume prediction (`@models-genesis/inference`), so a
 * model sees at prediction time exactly the arithmetic it was trained on.
 */
import { VolumeValueError } from "./errors.js";
import type { Vec3, Volume } from "./volume.js";

/** Output range of every reference window: [0, 1]. */
export const UNIT_RANGE: readonly [number, number] = Object.freeze([0, 1]) as readonly [number, number];

/**
 * What to do with NaN and ±Infinity voxels:
 * - `"throw"` (default): raise `VolumeValueError` naming the source and the count;
 * - `"clip"`: +Inf → `r1`, −Inf → `r0` (they lie beyond the window's ends), NaN → `r0` (the
 *   bottom of the window: air for CT);
 * - `"zero"`: every non-finite voxel becomes 0.
 */
export type NonFinitePolicy = "throw" | "clip" | "zero";

/** Options of {@link windowIntensity}. */
export interface WindowOptions {
  /** Output range `[r0, r1]` (default [0, 1]). */
  range?: readonly [number, number];
  /** NaN/±Inf handling (default `"throw"`); see {@link NonFinitePolicy}. */
  nonFinite?: NonFinitePolicy;
  /** Name of the input in error messages (default `vol.meta.file`, else "data"). */
  source?: string;
}

function checkWindow(window: readonly number[], range: readonly number[], source: string): void {
  const [lo, hi] = window;
  if (!(Number.isFinite(lo) && Number.isFinite(hi) && hi > lo))
    throw new VolumeValueError(`${source}: intensity window [${lo}, ${hi}] must be finite with hi > lo`);
  if (!(Number.isFinite(range[0]) && Number.isFinite(range[1])))
    throw new VolumeValueError(`${source}: window range [${range[0]}, ${range[1]}] must be finite`);
}

/**
 * The scalar window: `v ↦ r0 + (clamp(v, lo, hi) − lo) / (hi − lo) · (r1 − r0)`, evaluated in
 * float64 with a division (as the reference's NumPy `(x − hu_min) / (hu_max − hu_min)`,
 * `infinite_generator_3D.py`); for the range [0, 1] it is exactly that expression. ±Inf clip to the
 * range ends; NaN stays NaN (callers that must not pass NaN on use {@link windowIntensity}).
 * @throws VolumeValueError for a window that is not finite with hi > lo, or a non-finite range.
 */
export function windowFunction(
  window: readonly [number, number],
  range: readonly [number, number] = UNIT_RANGE,
): (v: number) => number {
  checkWindow(window, range, "windowFunction");
  const [lo, hi] = window;
  const [r0, r1] = range;
  const width = hi - lo;
  if (r0 === 0 && r1 === 1) return (v) => (Math.min(hi, Math.max(lo, v)) - lo) / width;
  const span = r1 - r0;
  return (v) => r0 + ((Math.min(hi, Math.max(lo, v)) - lo) / width) * span;
}

function fileOf(vol: Volume): string | undefined {
  return typeof vol.meta?.file === "string" ? (vol.meta.file as string) : undefined;
}

/**
 * Clip intensities to `window` = [lo, hi] and scale them linearly to `opts.range` (default [0, 1])
 * with {@link windowFunction}; returns float32. CT reference: HU [−1000, 1000] → [0, 1]; MRI
 * reference: [0, 4000] → [0, 1] (`spec/reference-facts.md`, "Intensities"); a model's own window
 * is `PreprocessingRecord.window` / `.range`.
 *
 * Arrays: any layout (the window is per value). Volumes: a new intensity volume with the same
 * geometry, float32 data, and `meta.window = {window, range}`, `meta.nonFiniteReplaced = n`.
 * Non-finite values follow `opts.nonFinite` ({@link NonFinitePolicy}; default: throw).
 * @throws VolumeValueError naming the source for a label volume, a bad window/range, or
 *   non-finite values under the `"throw"` policy.
 */
export function windowIntensity(
  data: ArrayLike<number>,
  window: readonly [number, number],
  opts?: WindowOptions,
): Float32Array;
export function windowIntensity(
  vol: Volume,
  window: readonly [number, number],
  opts?: WindowOptions,
): Volume<Float32Array>;
export function windowIntensity(
  input: Volume | ArrayLike<number>,
  window: readonly [number, number],
  opts: WindowOptions = {},
): Float32Array | Volume<Float32Array> {
  const isVol = typeof input === "object" && input !== null && "shape" in input && "kind" in input;
  const vol = isVol ? (input as Volume) : undefined;
  const source = opts.source ?? (vol ? fileOf(vol) : undefined) ?? (vol ? "volume" : "data");
  if (vol?.kind === "label")
    throw new VolumeValueError(
      `${source}: is a label map; intensity windows apply to intensity volumes only`,
    );
  const range = opts.range ?? UNIT_RANGE;
  checkWindow(window, range, source);
  const f = windowFunction(window, range);
  const src = (vol ? vol.data : input) as ArrayLike<number>;
  const out = new Float32Array(src.length);
  const policy = opts.nonFinite ?? "throw";
  let bad = 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (v - v !== 0) {
      bad++;
      out[i] = policy === "zero" ? 0 : v === Number.POSITIVE_INFINITY ? range[1] : range[0];
      continue;
    }
    out[i] = f(v);
  }
  if (bad > 0 && policy === "throw")
    throw new VolumeValueError(
      `${source}: has ${bad} non-finite values (NaN/Inf); pass nonFinite: "clip" or "zero" to map them`,
    );
  if (!vol) return out;
  return {
    ...vol,
    data: out,
    spacing: [...vol.spacing] as Vec3,
    origin: [...vol.origin] as Vec3,
    direction: vol.direction.map((r) => [...r]) as Volume["direction"],
    meta: { ...vol.meta, window: { window: [...window], range: [...range] }, nonFiniteReplaced: bad },
  };
}
