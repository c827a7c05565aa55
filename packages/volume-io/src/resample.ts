/**
 * The one resampler of the project: trilinear for images, nearest neighbour for labels, on C-order
 * (x, y, z[, c]) grids (z fastest, channels innermost: `Volume.data` and one NDHWC sample), with two
 * voxel mappings:
 *
 * - `"origin"`: output voxel i sits at source position `i · step` (the centres of voxel 0
 *   coincide). Resampling to a target spacing (`step = newSpacing / spacing`), the grid of
 *   {@link resample} with `{ spacing }`, and its way back in whole-volume prediction.
 * - `"half-pixel"`: output voxel i sits at `(i + 0.5) · in / out − 0.5` (the grids' outer edges
 *   coincide), the mapping of `skimage.transform.resize` (order 1, no anti-aliasing) that the
 *   reference uses (`infinite_generator_3D.py`, target-task preparation). Scale factors and
 *   target shapes (`{ scale }`, `{ shape }`), and their way back.
 *
 * Both clamp source positions to [0, n − 1] (edge value past the ends).
 */
import { allocVoxels, voxelTypeOf } from "./decode.js";
import { VolumeValueError } from "./errors.js";
import type { Matrix3, Vec3, Volume } from "./volume.js";

/** Voxel mapping of a resampling: see the module documentation. */
export type ResampleMapping = "origin" | "half-pixel";

/** Options of {@link resampleArray}. */
export interface ResampleArrayOptions {
  /** `linear` (trilinear, images; default) or `nearest` (labels: values are copied, never mixed). */
  mode?: "linear" | "nearest";
  /** Voxel mapping (default `half-pixel`). */
  mapping?: ResampleMapping;
  /**
   * `origin` mapping only: source voxels per output voxel along x, y, z (output voxel i at source
   * position `i · step`); default `in / out`.
   */
  step?: Vec3;
  /** Values per voxel, innermost (default 1). */
  channels?: number;
}

interface Axis {
  lo: Int32Array;
  hi: Int32Array;
  w: Float32Array;
}

function axisTable(
  n: number,
  o: number,
  mode: "linear" | "nearest",
  mapping: ResampleMapping,
  step?: number,
): Axis {
  const lo = new Int32Array(o);
  const hi = new Int32Array(o);
  const w = new Float32Array(o);
  for (let i = 0; i < o; i++) {
    if (mapping === "half-pixel") {
      if (mode === "nearest") {
        const r = Math.min(n - 1, Math.floor(((i + 0.5) * n) / o));
        lo[i] = r;
        hi[i] = r;
        continue;
      }
      let c = ((i + 0.5) * n) / o - 0.5;
      c = Math.min(Math.max(c, 0), n - 1);
      lo[i] = Math.floor(c);
      hi[i] = Math.min(n - 1, lo[i] + 1);
      w[i] = c - lo[i];
      continue;
    }
    const p = Math.min(n - 1, step === undefined ? (i * n) / o : i * step);
    if (mode === "nearest") {
      const r = Math.min(n - 1, Math.round(p));
      lo[i] = r;
      hi[i] = r;
      continue;
    }
    lo[i] = Math.floor(p);
    hi[i] = Math.min(n - 1, lo[i] + 1);
    w[i] = p - lo[i];
  }
  return { lo, hi, w };
}

function checkShape(what: string, s: readonly number[]): void {
  if (s.length !== 3 || !s.every((n) => Number.isInteger(n) && n > 0))
    throw new VolumeValueError(`resample: ${what} (${s.join(", ")}) must be three positive integers`);
}

/**
 * Resample C-order `(x, y, z, c)` data of `srcShape` to `dstShape` (see the module documentation
 * for the mappings). Linear: weights are stored as float32 and each axis blends as
 * `a · (1 − w) + b · w`, z then y then x (bit-for-bit the arithmetic of the target-task
 * preparation, which reproduces `skimage.transform.resize(order=1)` of the reference). Nearest:
 * half-pixel takes `⌊(i + 0.5) · in / out⌋`, origin `round(i · step)`.
 * @returns float32 values, `dstShape` voxels × `channels`.
 * @throws VolumeValueError for non-positive shapes/steps or data of the wrong length.
 */
export function resampleArray(
  data: ArrayLike<number>,
  srcShape: Vec3 | readonly number[],
  dstShape: Vec3 | readonly number[],
  opts: ResampleArrayOptions = {},
): Float32Array {
  checkShape("source shape", srcShape);
  checkShape("target shape", dstShape);
  const C = opts.channels ?? 1;
  const [nx, ny, nz] = srcShape;
  const [ox, oy, oz] = dstShape;
  if (data.length !== nx * ny * nz * C)
    throw new VolumeValueError(
      `resample: data has ${data.length} values, shape ${srcShape.join("×")}×${C} needs ${nx * ny * nz * C}`,
    );
  const mode = opts.mode ?? "linear";
  const mapping = opts.mapping ?? "half-pixel";
  const step = opts.step;
  if (step && !step.every((s) => Number.isFinite(s) && s > 0))
    throw new VolumeValueError(`resample: step (${step.join(", ")}) must be positive`);
  const ax = axisTable(nx, ox, mode, mapping, step?.[0]);
  const ay = axisTable(ny, oy, mode, mapping, step?.[1]);
  const az = axisTable(nz, oz, mode, mapping, step?.[2]);
  const out = new Float32Array(ox * oy * oz * C);
  const sx = ny * nz * C;
  const sy = nz * C;
  let k = 0;
  for (let x = 0; x < ox; x++) {
    const x0 = ax.lo[x] * sx;
    const x1 = ax.hi[x] * sx;
    const wx = ax.w[x];
    for (let y = 0; y < oy; y++) {
      const y0 = ay.lo[y] * sy;
      const y1 = ay.hi[y] * sy;
      const wy = ay.w[y];
      for (let z = 0; z < oz; z++) {
        const z0 = az.lo[z] * C;
        const z1 = az.hi[z] * C;
        const wz = az.w[z];
        for (let c = 0; c < C; c++) {
          if (mode === "nearest") {
            out[k++] = data[x0 + y0 + z0 + c];
            continue;
          }
          const c00 = data[x0 + y0 + z0 + c] * (1 - wz) + data[x0 + y0 + z1 + c] * wz;
          const c01 = data[x0 + y1 + z0 + c] * (1 - wz) + data[x0 + y1 + z1 + c] * wz;
          const c10 = data[x1 + y0 + z0 + c] * (1 - wz) + data[x1 + y0 + z1 + c] * wz;
          const c11 = data[x1 + y1 + z0 + c] * (1 - wz) + data[x1 + y1 + z1 + c] * wz;
          out[k++] = (c00 * (1 - wy) + c01 * wy) * (1 - wx) + (c10 * (1 - wy) + c11 * wy) * wx;
        }
      }
    }
  }
  return out;
}

/** Where {@link resample} goes: a voxel spacing (mm), a scale factor (output / input voxels) or a shape. */
export type ResampleTarget =
  | { spacing: Vec3 | readonly number[] }
  | { scale: Vec3 | readonly number[] }
  | { shape: Vec3 | readonly number[] };

function copyDir(d: Matrix3): Matrix3 {
  return d.map((r) => r.slice()) as Matrix3;
}

/**
 * Resample a volume, keeping its geometry consistent (`affineOf(out)` places every voxel in the world):
 * - `{ spacing }` (mm, x/y/z): origin mapping; `round(n · spacing / newSpacing)` voxels per axis
 *   (at least 1), same origin (centre of voxel 0 kept), spacing = the target.
 * - `{ scale }` (output / input voxels per axis, e.g. [0.5, 0.5, 1]): half-pixel mapping
 *   (skimage `resize`); `max(1, round(n · scale))` voxels; spacing `s · n / out`; the origin moves
 *   to the centre of the new voxel 0 so the field of view's outer edges stay put.
 * - `{ shape }`: like `scale` with the output shape given.
 *
 * Intensity volumes are interpolated trilinearly and become float32; label volumes (or
 * `opts.mode: "nearest"`) take the nearest voxel and keep their voxel type. Channels are resampled
 * independently. `meta.resampledFrom` records the input shape and spacing.
 * @throws VolumeValueError for a non-positive spacing, scale or shape.
 */
export function resample(
  vol: Volume,
  target: ResampleTarget,
  opts: { mode?: "linear" | "nearest" } = {},
): Volume {
  const mode = opts.mode ?? (vol.kind === "label" ? "nearest" : "linear");
  const n = vol.shape;
  let shape: Vec3;
  let spacing: Vec3;
  let origin: Vec3 = [...vol.origin] as Vec3;
  let data: Float32Array;
  const positive = (what: string, v: readonly number[]) => {
    if (v.length !== 3 || !v.every((s) => Number.isFinite(s) && s > 0))
      throw new VolumeValueError(`resample: ${what} (${v.join(", ")}) must be three positive numbers`);
    return [v[0], v[1], v[2]] as Vec3;
  };
  if ("spacing" in target) {
    const ns = positive("spacing", target.spacing);
    shape = [0, 1, 2].map((a) => Math.max(1, Math.round((n[a] * vol.spacing[a]) / ns[a]))) as Vec3;
    const step = [0, 1, 2].map((a) => ns[a] / vol.spacing[a]) as Vec3;
    data = resampleArray(vol.data as ArrayLike<number>, n, shape, {
      mode,
      mapping: "origin",
      step,
      channels: vol.channels,
    });
    spacing = ns;
  } else {
    if ("scale" in target) {
      const f = positive("scale", target.scale);
      shape = [0, 1, 2].map((a) => Math.max(1, Math.round(n[a] * f[a]))) as Vec3;
    } else {
      checkShape("shape", target.shape);
      shape = [target.shape[0], target.shape[1], target.shape[2]];
    }
    data = resampleArray(vol.data as ArrayLike<number>, n, shape, {
      mode,
      mapping: "half-pixel",
      channels: vol.channels,
    });
    spacing = [0, 1, 2].map((a) => (vol.spacing[a] * n[a]) / shape[a]) as Vec3;
    // centre of new voxel 0 = input position 0.5 · n / out − 0.5 along each axis
    const shift = [0, 1, 2].map((a) => (0.5 * n[a]) / shape[a] - 0.5);
    origin = [0, 1, 2].map(
      (r) =>
        vol.origin[r] + [0, 1, 2].reduce((s, a) => s + vol.direction[r][a] * vol.spacing[a] * shift[a], 0),
    ) as Vec3;
  }
  let out: Volume["data"] = data;
  if (mode === "nearest" && !(vol.data instanceof Float32Array)) {
    out = allocVoxels(voxelTypeOf(vol.data), data.length);
    (out as unknown as { set(a: ArrayLike<number>): void }).set(data);
  }
  return {
    ...vol,
    data: out,
    shape,
    spacing,
    origin,
    direction: copyDir(vol.direction),
    meta: { ...vol.meta, resampledFrom: { shape: [...vol.shape], spacing: [...vol.spacing] } },
  };
}
