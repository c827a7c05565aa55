import type { Image3D, Shape3, Transform } from "../types.js";
import { checkImage } from "../types.js";

/** Params of {@link randRot90}: number of quarter turns k ∈ {0, 1, 2, 3} in the (x, y) plane. */
export interface RandRot90Params {
  k: number;
}

/** Options of {@link randRot90}. */
export interface RandRot90Options {
  /** Probability of rotating at all; default 0.5. When rotating, k is uniform in {1, 2, 3}. */
  prob?: number;
  /** Only k = 2 (keeps the shape of non-square planes); default false. */
  squareSafe?: boolean;
}

/**
 * Rotate a C-order (x, y, z) array by k quarter turns in the (x, y) plane, exactly as
 * `np.rot90(m, k, axes=(0, 1))`. Output shape (y, x, z) for odd k.
 */
export function rot90xy<T extends Image3D["data"]>(
  data: T,
  shape: Shape3,
  k: number,
): { data: T; shape: Shape3 } {
  const [nx, ny, nz] = shape;
  const kk = ((k % 4) + 4) % 4;
  const out = new (data.constructor as new (n: number) => T)(data.length) as T;
  if (kk === 0) {
    out.set(data as never);
    return { data: out, shape };
  }
  const ox = kk === 2 ? nx : ny;
  const oy = kk === 2 ? ny : nx;
  for (let i = 0; i < ox; i++) {
    for (let j = 0; j < oy; j++) {
      // k=1: m[j, ny-1-i]; k=2: m[nx-1-i, ny-1-j]; k=3: m[nx-1-j, i]
      const sx = kk === 1 ? j : kk === 2 ? nx - 1 - i : nx - 1 - j;
      const sy = kk === 1 ? ny - 1 - i : kk === 2 ? ny - 1 - j : i;
      const so = (sx * ny + sy) * nz;
      out.set(data.subarray(so, so + nz) as never, (i * oy + j) * nz);
    }
  }
  return { data: out, shape: [ox, oy, nz] };
}

/**
 * Random in-plane 90° rotations for fine-tuning (MONAI `RandRotate90d`, spatial_axes (0, 1)):
 * with probability `prob`, k uniform in {1, 2, 3}. Spatial (labels rotate too); any voxel type.
 * Odd k swaps x and y (see `outputShape`); inverse = rotation by 4 − k.
 */
export function randRot90(options: RandRot90Options = {}): Transform<Image3D, RandRot90Params> {
  const { prob = 0.5, squareSafe = false } = options;
  return {
    name: "randRot90",
    kind: "spatial",
    sample(rng, shape) {
      if (!(rng.random() < prob)) return { k: 0 };
      if (squareSafe && shape[0] !== shape[1]) return { k: 2 };
      return { k: rng.randint(1, 3) };
    },
    apply(input, params) {
      checkImage("randRot90", input);
      const r = rot90xy(input.data, input.shape, params.k);
      return { ...input, data: r.data, shape: r.shape };
    },
    inverse(output, params) {
      const r = rot90xy(output.data, output.shape, 4 - params.k);
      return { ...output, data: r.data, shape: r.shape };
    },
    outputShape(shape, params) {
      return params.k % 2 === 1 ? [shape[1], shape[0], shape[2]] : shape;
    },
  };
}
