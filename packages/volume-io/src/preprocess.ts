/**
 * Volume preprocessing for Models Genesis: HU windowing to [0, 1], resampling to a spacing,
 * centred crop/pad to a shape, reorientation to a canonical orientation, non-finite counting.
 *
 * All functions are pure: they return a new `Volume` (sharing nothing mutable with the input) and
 * keep the geometry consistent, so `affineOf(out)` places every voxel where it was in the world.
 */
import { allocVoxels, voxelTypeOf } from "./decode.js";
import { VolumeValueError } from "./errors.js";
import { axisAssignment, parseOrientationCode } from "./geometry.js";
import type { Matrix3, Vec3, Volume, VoxelArray } from "./volume.js";

/** An intensity window: values are clipped to [min, max] then mapped linearly to [0, 1]. */
export interface IntensityWindow {
  min: number;
  max: number;
}

/**
 * CT window: HU clipped to [−1000, 1000] then scaled to [0, 1] (reference `infinite_generator_3D.py`
 * and `pytorch/Genesis_Chest_CT.py`; `spec/reference-facts.md`, "Intensities").
 */
export const CT_WINDOW: Readonly<IntensityWindow> = Object.freeze({ min: -1000, max: 1000 });
/** MRI window: [0, 4000] scaled to [0, 1] (`spec/reference-facts.md`, "Intensities"). */
export const MRI_WINDOW: Readonly<IntensityWindow> = Object.freeze({ min: 0, max: 4000 });

/** Number of NaN / ±Infinity values in a volume's data (or any numeric array). */
export function countNonFinite(vol: Volume | ArrayLike<number>): number {
  const d = ("data" in vol ? vol.data : vol) as ArrayLike<number>;
  if (
    d instanceof Int8Array ||
    d instanceof Uint8Array ||
    d instanceof Int16Array ||
    d instanceof Uint16Array ||
    d instanceof Int32Array ||
    d instanceof Uint32Array
  )
    return 0;
  let n = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v - v !== 0) n++;
  }
  return n;
}

function sourceName(vol: Volume): string {
  return typeof vol.meta?.file === "string" ? (vol.meta.file as string) : "volume";
}

/**
 * Clip intensities to `[window.min, window.max]` and scale to [0, 1]:
 * `out = (clamp(v, min, max) − min) / (max − min)`, as float32 (NDHWC-ready). Use {@link CT_WINDOW}
 * (HU [−1000, 1000]) for CT and {@link MRI_WINDOW} ([0, 4000]) for MRI.
 * Non-finite voxels are never passed on silently: by default they raise; with
 * `nonFinite: "zero"` they become 0.
 * @throws VolumeValueError for a label volume, an empty window (max ≤ min) or non-finite voxels.
 */
export function windowToUnit(
  vol: Volume,
  window: IntensityWindow = CT_WINDOW,
  opts: { nonFinite?: "throw" | "zero" } = {},
): Volume<Float32Array> {
  if (vol.kind === "label")
    throw new VolumeValueError(
      `windowToUnit: ${sourceName(vol)} is a label map; intensity windows apply to intensity volumes only`,
    );
  const { min, max } = window;
  if (!(max > min)) throw new VolumeValueError(`windowToUnit: window max ${max} must exceed min ${min}`);
  const src = vol.data as ArrayLike<number>;
  const out = new Float32Array(src.length);
  const inv = 1 / (max - min);
  let bad = 0;
  for (let i = 0; i < src.length; i++) {
    const v = src[i];
    if (v - v !== 0) {
      bad++;
      out[i] = 0;
      continue;
    }
    out[i] = (Math.min(max, Math.max(min, v)) - min) * inv;
  }
  if (bad > 0 && opts.nonFinite !== "zero")
    throw new VolumeValueError(
      `windowToUnit: ${sourceName(vol)} has ${bad} non-finite voxels (NaN/Inf); pass nonFinite: "zero" to replace them`,
    );
  return {
    ...vol,
    data: out,
    spacing: [...vol.spacing] as Vec3,
    origin: [...vol.origin] as Vec3,
    meta: { ...vol.meta, window: { min, max }, nonFiniteReplaced: bad },
  };
}

function copyDir(d: Matrix3): Matrix3 {
  return d.map((r) => r.slice()) as Matrix3;
}

/**
 * Resample to a new voxel spacing (mm, along x, y, z). The output grid starts at the same world
 * point (centre of voxel 0 is kept) and has `round(shape · spacing / newSpacing)` voxels per axis
 * (at least 1), so it spans the same field of view; samples past the last input voxel take the
 * edge value. Intensity volumes use trilinear interpolation and become float32; label volumes use
 * nearest neighbour and keep their type. Channels are resampled independently.
 * @throws VolumeValueError for non-positive spacings.
 */
export function resampleToSpacing(vol: Volume, spacing: Vec3 | readonly number[]): Volume {
  const ns = [spacing[0], spacing[1], spacing[2]] as Vec3;
  if (!ns.every((s) => Number.isFinite(s) && s > 0))
    throw new VolumeValueError(`resampleToSpacing: spacing (${ns.join(", ")}) must be positive`);
  const [nx, ny, nz] = vol.shape;
  const C = vol.channels;
  const out: Vec3 = [0, 1, 2].map((a) =>
    Math.max(1, Math.round((vol.shape[a] * vol.spacing[a]) / ns[a])),
  ) as Vec3;
  const [ox, oy, oz] = out;
  const label = vol.kind === "label";
  const data = label
    ? allocVoxels(voxelTypeOf(vol.data), ox * oy * oz * C)
    : new Float32Array(ox * oy * oz * C);
  const src = vol.data as ArrayLike<number>;
  const dst = data as unknown as { [i: number]: number };
  const ratio = [0, 1, 2].map((a) => ns[a] / vol.spacing[a]);
  // per-axis sample positions (continuous input index), precomputed
  const pos = (a: number, n: number, limit: number) => {
    const i0 = new Int32Array(n);
    const i1 = new Int32Array(n);
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let p = i * ratio[a];
      if (p > limit - 1) p = limit - 1;
      if (label) {
        const r = Math.min(limit - 1, Math.round(p));
        i0[i] = r;
        i1[i] = r;
        w[i] = 0;
      } else {
        const f = Math.floor(p);
        i0[i] = f;
        i1[i] = Math.min(limit - 1, f + 1);
        w[i] = p - f;
      }
    }
    return { i0, i1, w };
  };
  const X = pos(0, ox, nx);
  const Y = pos(1, oy, ny);
  const Z = pos(2, oz, nz);
  const sx = ny * nz * C;
  const sy = nz * C;
  let o = 0;
  for (let x = 0; x < ox; x++) {
    const x0 = X.i0[x] * sx;
    const x1 = X.i1[x] * sx;
    const wx = X.w[x];
    for (let y = 0; y < oy; y++) {
      const y0 = Y.i0[y] * sy;
      const y1 = Y.i1[y] * sy;
      const wy = Y.w[y];
      for (let z = 0; z < oz; z++) {
        const z0 = Z.i0[z] * C;
        const z1 = Z.i1[z] * C;
        const wz = Z.w[z];
        for (let c = 0; c < C; c++, o++) {
          if (label) {
            dst[o] = src[x0 + y0 + z0 + c];
            continue;
          }
          const c000 = src[x0 + y0 + z0 + c];
          const c001 = src[x0 + y0 + z1 + c];
          const c010 = src[x0 + y1 + z0 + c];
          const c011 = src[x0 + y1 + z1 + c];
          const c100 = src[x1 + y0 + z0 + c];
          const c101 = src[x1 + y0 + z1 + c];
          const c110 = src[x1 + y1 + z0 + c];
          const c111 = src[x1 + y1 + z1 + c];
          const c00 = c000 + (c001 - c000) * wz;
          const c01 = c010 + (c011 - c010) * wz;
          const c10 = c100 + (c101 - c100) * wz;
          const c11 = c110 + (c111 - c110) * wz;
          const c0 = c00 + (c01 - c00) * wy;
          const c1 = c10 + (c11 - c10) * wy;
          dst[o] = c0 + (c1 - c0) * wx;
        }
      }
    }
  }
  return {
    ...vol,
    data,
    shape: out,
    spacing: ns,
    origin: [...vol.origin] as Vec3,
    direction: copyDir(vol.direction),
    meta: { ...vol.meta, resampledFrom: { shape: [...vol.shape], spacing: [...vol.spacing] } },
  };
}

/**
 * Centre-crop and/or pad each spatial axis to `shape` (TorchIO `CropOrPad` semantics: when the
 * difference is odd the extra voxel is removed/added at the end). Padding uses `opts.value`
 * (default 0; use −1000 or the minimum for CT in HU). The origin moves so every kept voxel keeps
 * its world position.
 * @throws VolumeValueError for a non-positive target shape.
 */
export function cropOrPad(
  vol: Volume,
  shape: Vec3 | readonly number[],
  opts: { value?: number } = {},
): Volume {
  const target = [shape[0], shape[1], shape[2]] as Vec3;
  if (!target.every((n) => Number.isInteger(n) && n > 0))
    throw new VolumeValueError(`cropOrPad: shape (${target.join(", ")}) must be positive integers`);
  const value = opts.value ?? 0;
  const C = vol.channels;
  // start index in the input of output voxel 0 (negative = padding)
  const start = [0, 1, 2].map((a) => Math.trunc((vol.shape[a] - target[a]) / 2));
  const data = allocVoxels(voxelTypeOf(vol.data), target[0] * target[1] * target[2] * C);
  if (value !== 0) (data as unknown as { fill(v: number): void }).fill(value);
  const src = vol.data as ArrayLike<number>;
  const dst = data as unknown as { [i: number]: number };
  const [nx, ny, nz] = vol.shape;
  const [tx, ty, tz] = target;
  for (let x = 0; x < tx; x++) {
    const ix = x + start[0];
    if (ix < 0 || ix >= nx) continue;
    for (let y = 0; y < ty; y++) {
      const iy = y + start[1];
      if (iy < 0 || iy >= ny) continue;
      const z0 = Math.max(0, -start[2]);
      const z1 = Math.min(tz, nz - start[2]);
      if (z1 <= z0) continue;
      const so = ((ix * ny + iy) * nz + z0 + start[2]) * C;
      const d0 = ((x * ty + y) * tz + z0) * C;
      const n = (z1 - z0) * C;
      for (let k = 0; k < n; k++) dst[d0 + k] = src[so + k];
    }
  }
  const origin = [0, 1, 2].map(
    (r) => vol.origin[r] + [0, 1, 2].reduce((s, a) => s + vol.direction[r][a] * vol.spacing[a] * start[a], 0),
  ) as Vec3;
  return {
    ...vol,
    data,
    shape: target,
    origin,
    spacing: [...vol.spacing] as Vec3,
    direction: copyDir(vol.direction),
    meta: { ...vol.meta, cropOrPadStart: start },
  };
}

/**
 * Permute and flip the voxel axes so the volume's orientation code becomes `code` (default `"RAS"`:
 * x → Right, y → Anterior, z → Superior; `"LPS"` gives DICOM/ITK storage). Voxel values are moved,
 * never interpolated, so this is exact; the world position of every voxel is unchanged.
 * @throws RangeError for an invalid orientation code.
 */
export function reorientToCanonical(vol: Volume, code = "RAS"): Volume {
  const target = parseOrientationCode(code);
  const cur = axisAssignment(vol.direction);
  // output axis j takes world axis target.axes[j]; find the input axis that maps to it
  const perm: number[] = [];
  const flip: boolean[] = [];
  for (let j = 0; j < 3; j++) {
    const i = cur.axes.indexOf(target.axes[j]);
    perm.push(i);
    flip.push(cur.signs[i] !== target.signs[j]);
  }
  const inShape = vol.shape;
  const outShape = perm.map((i) => inShape[i]) as Vec3;
  const C = vol.channels;
  const inStride = [inShape[1] * inShape[2] * C, inShape[2] * C, C];
  // input offset of output voxel (0,0,0) and input step per output axis
  let base = 0;
  const step = [0, 0, 0];
  for (let j = 0; j < 3; j++) {
    const i = perm[j];
    if (flip[j]) {
      base += (inShape[i] - 1) * inStride[i];
      step[j] = -inStride[i];
    } else step[j] = inStride[i];
  }
  const identity =
    base === 0 && step[0] === inStride[0] && step[1] === inStride[1] && step[2] === inStride[2];
  const data = identity
    ? (vol.data.slice() as VoxelArray)
    : allocVoxels(voxelTypeOf(vol.data), vol.data.length);
  if (!identity) {
    const src = vol.data as ArrayLike<number>;
    const dst = data as unknown as { [i: number]: number };
    let o = 0;
    for (let x = 0; x < outShape[0]; x++)
      for (let y = 0; y < outShape[1]; y++) {
        let p = base + x * step[0] + y * step[1];
        for (let z = 0; z < outShape[2]; z++, p += step[2]) for (let c = 0; c < C; c++) dst[o++] = src[p + c];
      }
  }
  const direction: Matrix3 = [
    [0, 0, 0],
    [0, 0, 0],
    [0, 0, 0],
  ];
  const spacing = perm.map((i) => vol.spacing[i]) as Vec3;
  for (let j = 0; j < 3; j++)
    for (let r = 0; r < 3; r++) direction[r][j] = vol.direction[r][perm[j]] * (flip[j] ? -1 : 1);
  // world position of the new voxel 0 = old voxel at the flipped corners
  const corner = [0, 0, 0];
  for (let j = 0; j < 3; j++) if (flip[j]) corner[perm[j]] = inShape[perm[j]] - 1;
  const origin = [0, 1, 2].map(
    (r) =>
      vol.origin[r] + [0, 1, 2].reduce((s, a) => s + vol.direction[r][a] * vol.spacing[a] * corner[a], 0),
  ) as Vec3;
  return { ...vol, data, shape: outShape, spacing, origin, direction, meta: { ...vol.meta } };
}

/** Summary statistics of a volume's voxel values. */
export interface VolumeStats {
  /** Minimum over finite values (NaN when none). */
  min: number;
  /** Maximum over finite values (NaN when none). */
  max: number;
  /** Mean over finite values (NaN when none). */
  mean: number;
  /** Number of finite values. */
  count: number;
  /** Number of NaN / ±Infinity values. */
  nonFinite: number;
}

/** Min, max and mean over the finite voxel values (all channels) and the non-finite count. */
export function volumeStats(vol: Volume | ArrayLike<number>): VolumeStats {
  const d = ("data" in vol ? vol.data : vol) as ArrayLike<number>;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  let count = 0;
  let nonFinite = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (v - v !== 0) {
      nonFinite++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    count++;
  }
  return count
    ? { min, max, mean: sum / count, count, nonFinite }
    : { min: Number.NaN, max: Number.NaN, mean: Number.NaN, count, nonFinite };
}
