import { resampleArray, type Vec3, type VoxelArray } from "@models-genesis/volume-io";

/**
 * Array operations on single-channel 3-D grids stored C-order over `(x, y, z)` (z fastest), the
 * layout of `Volume.data` and of one NDHWC sample.
 */

/** A single-channel 3-D grid: `data.length = shape[0] · shape[1] · shape[2]`, C order, z fastest. */
export interface Grid<T extends ArrayLike<number> = ArrayLike<number>> {
  readonly data: T;
  readonly shape: Vec3;
}

function checkGrid(op: string, g: Grid): void {
  const n = g.shape[0] * g.shape[1] * g.shape[2];
  if (g.data.length !== n) {
    throw new Error(`${op}: data has ${g.data.length} values but shape ${g.shape.join("×")} needs ${n}`);
  }
}

/**
 * Copy the box `[start, start + size)` of `src` into a new `Float32Array` of shape `size`; voxels
 * outside `src` take `pad` (e.g. −1000 HU for CT, 0 for labels). `start` may be negative or run past
 * the end on any axis (padding at edges).
 */
export function cropBox(src: Grid, start: Vec3, size: Vec3, pad = 0): Float32Array {
  checkGrid("cropBox", src);
  const [nx, ny, nz] = src.shape;
  const [sx, sy, sz] = size;
  const out = new Float32Array(sx * sy * sz).fill(pad);
  const z0 = Math.max(0, -start[2]);
  const z1 = Math.min(sz, nz - start[2]);
  if (z1 <= z0) return out;
  for (let x = 0; x < sx; x++) {
    const ix = start[0] + x;
    if (ix < 0 || ix >= nx) continue;
    for (let y = 0; y < sy; y++) {
      const iy = start[1] + y;
      if (iy < 0 || iy >= ny) continue;
      const srcBase = (ix * ny + iy) * nz + start[2];
      const dstBase = (x * sy + y) * sz;
      for (let z = z0; z < z1; z++) out[dstBase + z] = src.data[srcBase + z];
    }
  }
  return out;
}

/**
 * The start of a box of `size` voxels centred on the integer voxel `centre`: `centre − ⌊size/2⌋`
 * per axis (for an even size the centre voxel is the first of the upper half, as in NumPy slicing
 * `c - s//2 : c + s//2`).
 */
export function boxStartAround(centre: Vec3, size: Vec3): Vec3 {
  return [
    Math.round(centre[0]) - Math.floor(size[0] / 2),
    Math.round(centre[1]) - Math.floor(size[1] / 2),
    Math.round(centre[2]) - Math.floor(size[2] / 2),
  ];
}

/** Crop a box of `size` centred on voxel `centre` (rounded), padding with `pad` at the edges. */
export function cropAround(src: Grid, centre: Vec3, size: Vec3, pad = 0): Float32Array {
  return cropBox(src, boxStartAround(centre, size), size, pad);
}

/**
 * Resize a grid to `outShape` with half-pixel-centred sampling (source coordinate
 * `(i + 0.5) · in/out − 0.5`, clamped at the borders), the mapping of `skimage.transform.resize`
 * that the reference uses (`infinite_generator_3D.py`). `"linear"` is trilinear interpolation
 * (order 1, without anti-aliasing), for images; `"nearest"` picks the nearest source voxel, for labels.
 * The project's one resampler, `resampleArray` of `@models-genesis/volume-io` with
 * `mapping: "half-pixel"` (bit for bit what this function computed before it moved there).
 */
export function resizeGrid(src: Grid, outShape: Vec3, mode: "linear" | "nearest"): Float32Array {
  checkGrid("resizeGrid", src);
  return resampleArray(src.data, src.shape, outShape, { mode, mapping: "half-pixel" });
}

/** Indices (into C-order data) of the voxels whose value satisfies `pred` (e.g. foreground `v > 0`). */
export function voxelsWhere(data: ArrayLike<number>, pred: (v: number) => boolean): Uint32Array {
  let n = 0;
  for (let i = 0; i < data.length; i++) if (pred(data[i])) n++;
  const out = new Uint32Array(n);
  let k = 0;
  for (let i = 0; i < data.length; i++) if (pred(data[i])) out[k++] = i;
  return out;
}

/** The `(x, y, z)` voxel of a C-order flat index in a grid of `shape`. */
export function unravel(index: number, shape: Vec3): Vec3 {
  const z = index % shape[2];
  const xy = (index - z) / shape[2];
  const y = xy % shape[1];
  return [(xy - y) / shape[1], y, z];
}

/** The mean voxel `(x, y, z)` of the voxels with value > 0 (the centroid of a binary mask), or null if empty. */
export function maskCentroid(mask: Grid): Vec3 | null {
  checkGrid("maskCentroid", mask);
  const [, ny, nz] = mask.shape;
  let n = 0;
  let sx = 0;
  let sy = 0;
  let sz = 0;
  for (let i = 0; i < mask.data.length; i++) {
    if (mask.data[i] > 0) {
      const z = i % nz;
      const xy = (i - z) / nz;
      const y = xy % ny;
      sx += (xy - y) / ny;
      sy += y;
      sz += z;
      n++;
    }
  }
  return n === 0 ? null : [sx / n, sy / n, sz / n];
}

/** Starts of a regular grid of boxes of `size` covering `shape` (the last box on an axis is flush with the end; a box larger than the axis starts at 0 and is padded). */
export function gridStarts(shape: Vec3, size: Vec3): Vec3[] {
  const axis = (n: number, s: number): number[] => {
    if (s >= n) return [0];
    const k = Math.ceil(n / s);
    const out: number[] = [];
    for (let i = 0; i < k; i++) out.push(Math.min(i * s, n - s));
    return out;
  };
  const out: Vec3[] = [];
  for (const x of axis(shape[0], size[0]))
    for (const y of axis(shape[1], size[1])) for (const z of axis(shape[2], size[2])) out.push([x, y, z]);
  return out;
}

/** Convert any voxel array to Float32Array (no copy when it already is one). */
export function toFloat32(data: VoxelArray | ArrayLike<number>): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data as ArrayLike<number>);
}
