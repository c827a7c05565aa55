/**
 * Volume preprocessing for Models Genesis: the reference windows, centred crop/pad to a shape,
 * reorientation to a canonical orientation, non-finite counting. Intensity windowing lives in
 * `window.ts` (`windowIntensity`), resampling in `resample.ts` (`resample`, `resampleArray`).
 *
 * All functions are pure: they return a new `Volume` (sharing nothing mutable with the input) and
 * keep the geometry consistent, so `affineOf(out)` places every voxel where it was in the world.
 */
import { allocVoxels, voxelTypeOf } from "./decode.js";
import { VolumeValueError } from "./errors.js";
import { axisAssignment, parseOrientationCode } from "./geometry.js";
import type { Matrix3, Vec3, Volume, VoxelArray } from "./volume.js";

/** An intensity window: values are clipped to [min, max] then mapped linearly to [0, 1] (`windowIntensity(data, [min, max])`). */
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

function copyDir(d: Matrix3): Matrix3 {
  return d.map((r) => r.slice()) as Matrix3;
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
