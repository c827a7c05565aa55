import type { Rng } from "../rng.js";
import type { Image3D, Shape3, Transform } from "../types.js";
import { checkImage } from "../types.js";

/**
 * `reference`: axes drawn from {0, 1, 2} of the reference's `(C, rows, cols, deps)` sample, so
 * draw 0 (the channel axis) is a no-op and depth is never flipped (`pytorch/utils.py`,
 * `data_augmentation`). `spatial`: axes drawn from {x, y, z} = {0, 1, 2}.
 */
export type FlipMode = "reference" | "spatial";

/** Params of {@link genesisFlip}: the mode and the axes drawn, in draw order (numbering of the mode). */
export interface GenesisFlipParams {
  mode: FlipMode;
  draws: number[];
}

/** Options of {@link genesisFlip}. */
export interface GenesisFlipOptions {
  /** Probability of each further flip draw; reference `flip_rate` = 0.4 (`pytorch/config.py`). */
  rate?: number;
  /** Maximum number of flips; reference 3 (`cnt = 3`). */
  maxFlips?: number;
  /** Axis draw; default `reference` (see {@link FlipMode}). */
  mode?: FlipMode;
}

/**
 * Which spatial axes (x, y, z) end up flipped by these params (parity of the draws).
 * In `reference` mode draw 0 is the channel axis (no-op), 1 → x (rows), 2 → y (cols).
 */
export function flippedAxes(params: GenesisFlipParams): [boolean, boolean, boolean] {
  const f: [boolean, boolean, boolean] = [false, false, false];
  for (const d of params.draws) {
    const axis = params.mode === "reference" ? d - 1 : d;
    if (axis >= 0) f[axis] = !f[axis];
  }
  return f;
}

/**
 * Flip a C-order (x, y, z) array along the selected axes into `out` (a new array of the same type
 * when omitted). `out` must not alias `data`.
 */
export function flip3d<T extends Image3D["data"]>(
  data: T,
  shape: Shape3,
  axes: readonly [boolean, boolean, boolean],
  out?: T,
): T {
  const [nx, ny, nz] = shape;
  const dst = out ?? (new (data.constructor as new (n: number) => T)(data.length) as T);
  if (!axes[0] && !axes[1] && !axes[2]) {
    dst.set(data as never);
    return dst;
  }
  for (let x = 0; x < nx; x++) {
    const sx = axes[0] ? nx - 1 - x : x;
    for (let y = 0; y < ny; y++) {
      const sy = axes[1] ? ny - 1 - y : y;
      const so = (sx * ny + sy) * nz;
      const d0 = (x * ny + y) * nz;
      if (axes[2]) {
        for (let z = 0; z < nz; z++) dst[d0 + z] = data[so + nz - 1 - z];
      } else {
        dst.set(data.subarray(so, so + nz) as never, d0);
      }
    }
  }
  return dst;
}

/** Draw flip params exactly in the reference order: `while random() < rate and cnt > 0: choice([0,1,2])`. */
export function sampleGenesisFlip(
  rng: Rng,
  rate: number,
  maxFlips: number,
  mode: FlipMode,
): GenesisFlipParams {
  const draws: number[] = [];
  let cnt = maxFlips;
  // `random.random() < prob and cnt > 0`: the random draw happens before the count check.
  while (rng.random() < rate && cnt > 0) {
    draws.push(rng.below(3));
    cnt--;
  }
  return { mode, draws };
}

/**
 * Genesis flip (`pytorch/utils.py`, `data_augmentation`; rate 0.4, at most 3 flips): a
 * spatial transform, so in a pair it is applied to input and target alike.
 * Shape kept; works on any voxel type. Default mode `reference` (channel-axis no-op draws).
 * Its history is empty when no flip was drawn.
 */
export function genesisFlip(options: GenesisFlipOptions = {}): Transform<Image3D, GenesisFlipParams> {
  const { rate = 0.4, maxFlips = 3, mode = "reference" } = options;
  return {
    name: "genesisFlip",
    kind: "spatial",
    sample: (rng) => sampleGenesisFlip(rng, rate, maxFlips, mode),
    apply(input, params) {
      checkImage("genesisFlip", input);
      return { ...input, data: flip3d(input.data, input.shape, flippedAxes(params)) };
    },
    inverse(output, params) {
      return { ...output, data: flip3d(output.data, output.shape, flippedAxes(params)) };
    },
    applyInto(src, dst, shape, params) {
      const axes = flippedAxes(params);
      if (src === dst) {
        if (axes[0] || axes[1] || axes[2]) flip3d(Float32Array.from(src), shape, axes, dst);
      } else flip3d(src, shape, axes, dst);
    },
    // No axis drawn → nothing applied, nothing recorded (as `withProb` records a skipped transform).
    history: (params) => (params.draws.length > 0 ? [{ name: "genesisFlip", params }] : []),
  };
}
