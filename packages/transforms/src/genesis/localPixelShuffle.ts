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
 * Draw the blocks with the reference's distribution, per block: sizes `randint(1, d // 10)` for
 * x, y, z, then corners `randint(0, d − size)` for x, y, z (each triple from one exact uniform draw).
 * @throws Error when an axis is shorter than 10 voxels (`MIN_AXIS.localPixelShuffle`).
 */
export function sampleLocalShuffle(rng: Rng, shape: Shape3, numBlocks = 10000): LocalShuffleParams {
  checkMinSize("localPixelShuffle", shape, MIN_AXIS.localPixelShuffle);
  const [nx, ny, nz] = shape;
  const mx = Math.floor(nx / 10);
  const my = Math.floor(ny / 10);
  const mz = Math.floor(nz / 10);
  const blocks = new Int32Array(numBlocks * 6);
  // One exact uniform draw per triple: a uniform index in [0, a·b·c) splits into independent
  // uniform indices in [0, a), [0, b), [0, c) (mixed radix); same distribution as three randint calls.
  const sizeRange = mx * my * mz;
  for (let b = 0, o = 0; b < numBlocks; b++, o += 6) {
    let s = rng.below(sizeRange) | 0;
    const sx = 1 + (s % mx);
    s = ((s - (sx - 1)) / mx) | 0;
    const sy = 1 + (s % my);
    const sz = 1 + (((s - (sy - 1)) / my) | 0);
    const rx = nx - sx + 1;
    const ry = ny - sy + 1;
    const rz = nz - sz + 1;
    let q = rng.below(rx * ry * rz) | 0;
    const x = q % rx;
    q = ((q - x) / rx) | 0;
    const y = q % ry;
    blocks[o] = x;
    blocks[o + 1] = y;
    blocks[o + 2] = ((q - y) / ry) | 0;
    blocks[o + 3] = sx;
    blocks[o + 4] = sy;
    blocks[o + 5] = sz;
  }
  return { blocks, seed: rng.childSeed() };
}

/**
 * Apply local pixel shuffling: `dst` starts as a copy of `src`; for each block in order, the
 * block's voxels are read from the **original** `src`, permuted uniformly (Fisher–Yates from
 * `params.seed`, exact inside-out Fisher–Yates, two indices per generator draw) and written into `dst` (later blocks overwrite earlier ones, as in the
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
  const off = new Int32Array(maxBlock);
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
        for (let z = 0; z < sz; z++) off[k++] = base + z;
      }
    }
    // "Inside-out" Fisher–Yates straight into dst: for i = 0…k−1, j uniform in [0, i],
    // r[i] = r[j], r[j] = src[i]. Two steps per generator draw: a uniform index in
    // [0, (i+1)(i+2)) splits exactly into j ∈ [0, i] and j' ∈ [0, i+1] (mixed radix).
    dst[off[0]] = src[off[0]];
    let i = 1;
    for (; i + 1 < k; i += 2) {
      const r = rng.below((i + 1) * (i + 2)) | 0;
      const j1 = (r % (i + 1)) | 0;
      const j2 = ((r - j1) / (i + 1)) | 0;
      let oi = off[i];
      let oj = off[j1];
      dst[oi] = dst[oj];
      dst[oj] = src[oi];
      oi = off[i + 1];
      oj = off[j2];
      dst[oi] = dst[oj];
      dst[oj] = src[oi];
    }
    if (i < k) {
      const oi = off[i];
      const oj = off[rng.below(i + 1)];
      dst[oi] = dst[oj];
      dst[oj] = src[oi];
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
    applyInto(src, dst, shape, params) {
      if (src === dst) {
        // in place: the blocks read the original voxels, so keep a copy of them
        if (scratch.length < src.length) scratch = new Float32Array(src.length);
        const copy = scratch.subarray(0, src.length);
        copy.set(src);
        localShuffleInto(copy, dst, shape, params);
      } else localShuffleInto(src, dst, shape, params);
    },
  };
}

/** Copy of the input for in-place {@link localPixelShuffle} `applyInto` (grown on demand, reused). */
let scratch = new Float32Array(0);
