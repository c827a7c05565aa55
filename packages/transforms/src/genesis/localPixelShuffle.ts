import { Rng } from "../rng.js";
import type { FloatImage, Shape3, Transform } from "../types.js";
import { checkImage } from "../types.js";
import { checkMinSize, MIN_AXIS } from "./sizes.js";

/**
 * Params of {@link localPixelShuffle}: `blocks` holds 6 integers per block,
 * `(x, y, z, sx, sy, sz)` (corner and size in voxels), in draw order; `seed` drives the
 * within-block permutations (the reference's `np.random.shuffle`).
 */
export interface LocalShuffleParams {
  blocks: Int32Array;
  seed: number;
}

/** Options of {@link localPixelShuffle}. */
export interface LocalShuffleOptions {
  /** Number of blocks; reference `num_block = 10000` (`pytorch/utils.py`, `local_pixel_shuffling`). */
  numBlocks?: number;
}

/**
 * Draw the blocks as the reference does, per block: sizes `randint(1, d // 10)` for x, y, z,
 * then corners `randint(0, d − size)` for x, y, z.
 * @throws Error when an axis is shorter than 10 voxels (`MIN_AXIS.localPixelShuffle`).
 */
export function sampleLocalShuffle(rng: Rng, shape: Shape3, numBlocks = 10000): LocalShuffleParams {
  checkMinSize("localPixelShuffle", shape, MIN_AXIS.localPixelShuffle);
  const [nx, ny, nz] = shape;
  const mx = Math.floor(nx / 10);
  const my = Math.floor(ny / 10);
  const mz = Math.floor(nz / 10);
  const blocks = new Int32Array(numBlocks * 6);
  for (let b = 0, o = 0; b < numBlocks; b++, o += 6) {
    const sx = 1 + rng.below(mx);
    const sy = 1 + rng.below(my);
    const sz = 1 + rng.below(mz);
    blocks[o] = rng.below(nx - sx + 1);
    blocks[o + 1] = rng.below(ny - sy + 1);
    blocks[o + 2] = rng.below(nz - sz + 1);
    blocks[o + 3] = sx;
    blocks[o + 4] = sy;
    blocks[o + 5] = sz;
  }
  return { blocks, seed: rng.childSeed() };
}

/**
 * Apply local pixel shuffling: `dst` starts as a copy of `src`; for each block in order, the
 * block's voxels are read from the **original** `src`, permuted uniformly (Fisher–Yates from
 * `params.seed`) and written into `dst` (later blocks overwrite earlier ones, as in the
 * reference). `dst` must not alias `src`. C order (x, y, z).
 */
export function localShuffleInto(
  src: Float32Array,
  dst: Float32Array,
  shape: Shape3,
  params: LocalShuffleParams,
): void {
  const [, ny, nz] = shape;
  dst.set(src);
  const { blocks } = params;
  const rng = new Rng(params.seed);
  let maxBlock = 1;
  for (let o = 0; o < blocks.length; o += 6) {
    const v = blocks[o + 3] * blocks[o + 4] * blocks[o + 5];
    if (v > maxBlock) maxBlock = v;
  }
  const buf = new Float32Array(maxBlock);
  for (let o = 0; o < blocks.length; o += 6) {
    const x0 = blocks[o];
    const y0 = blocks[o + 1];
    const z0 = blocks[o + 2];
    const sx = blocks[o + 3];
    const sy = blocks[o + 4];
    const sz = blocks[o + 5];
    let k = 0;
    for (let x = x0; x < x0 + sx; x++) {
      for (let y = y0; y < y0 + sy; y++) {
        const base = (x * ny + y) * nz + z0;
        for (let z = 0; z < sz; z++) buf[k++] = src[base + z];
      }
    }
    for (let i = k - 1; i > 0; i--) {
      const j = rng.below(i + 1);
      const t = buf[i];
      buf[i] = buf[j];
      buf[j] = t;
    }
    k = 0;
    for (let x = x0; x < x0 + sx; x++) {
      for (let y = y0; y < y0 + sy; y++) {
        const base = (x * ny + y) * nz + z0;
        for (let z = 0; z < sz; z++) dst[base + z] = buf[k++];
      }
    }
  }
}

/**
 * Local pixel shuffling (Models Genesis; `pytorch/utils.py`, `local_pixel_shuffling`,
 * applied with probability `local_rate` = 0.5 in `generate_pair`): 10,000 random blocks of
 * size uniform in [1, d // 10] per axis, each filled with a random permutation of its own
 * original voxels. Input: float32 image (x, y, z), every axis ≥ 10; shape kept. Intensity-only.
 */
export function localPixelShuffle(
  options: LocalShuffleOptions = {},
): Transform<FloatImage, LocalShuffleParams> {
  const { numBlocks = 10000 } = options;
  return {
    name: "localPixelShuffle",
    kind: "intensity",
    sample: (rng, shape) => sampleLocalShuffle(rng, shape, numBlocks),
    apply(input, params) {
      checkImage("localPixelShuffle", input);
      const out = new Float32Array(input.data.length);
      localShuffleInto(input.data, out, input.shape, params);
      return { ...input, data: out };
    },
  };
}
