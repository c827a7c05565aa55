import { TrainError } from "./errors.js";

/**
 * Axial slicing for the slice-wise 2-D U-Net (Models Genesis 2D and the 2-D from-scratch baseline,
 * Zhou et al., MedIA 2021, §4 "2D vs 3D"): a 3-D patch (rows, cols, deps[, C]) in C order (deps
 * fastest before the channel) becomes `deps` axial slices (rows, cols[, C]), and back.
 *
 * Slice order: patch-major, depth-minor — slice `i · deps + d` is depth `d` of patch `i`, so the
 * slices of one patch are contiguous and {@link stackSlices} / {@link meanOverSlices} need only
 * the depth.
 */

function check(what: string, data: ArrayLike<number>, n: number, per: number): void {
  if (!Number.isInteger(n) || n < 0 || data.length !== n * per) {
    throw new TrainError(`${what}: ${data.length} values are not ${n} × ${per}`);
  }
}

/**
 * Cut 3-D patches into their axial slices.
 *
 * @param data float32, C order (n, rows, cols, deps, channels) — NDHWC, or (n, rows, cols, deps) when
 *   `channels` is 1.
 * @param shape (rows, cols, deps) of one patch, in voxels.
 * @param channels values per voxel (default 1).
 * @returns float32 (n · deps, rows, cols, channels) — NHWC slices, slice `i · deps + d` = depth `d` of patch `i`.
 * @throws TrainError when `data` does not hold `n` patches of `shape` × `channels`.
 */
export function sliceAxial(
  data: ArrayLike<number>,
  n: number,
  shape: readonly [number, number, number],
  channels = 1,
): Float32Array {
  return swapPlaneDepth("sliceAxial", data, n, shape, channels, true);
}

/**
 * Stack axial slices back into 3-D patches: the inverse of {@link sliceAxial}
 * (`stackSlices(sliceAxial(x, n, s, c), n, s, c)` equals `x`).
 *
 * @param slices float32 (n · deps, rows, cols, channels), patch-major (slice `i · deps + d`).
 * @param shape (rows, cols, deps) of one patch.
 * @returns float32 (n, rows, cols, deps, channels), C order.
 * @throws TrainError when `slices` does not hold `n · deps` slices of rows × cols × channels.
 */
export function stackSlices(
  slices: ArrayLike<number>,
  n: number,
  shape: readonly [number, number, number],
  channels = 1,
): Float32Array {
  return swapPlaneDepth("stackSlices", slices, n, shape, channels, false);
}

/**
 * Per patch, move voxel (p, d) — p = in-plane index, d = depth — between the volume layout
 * (p · deps + d) and the slice layout (d · plane + p), channels kept together: `toSlices` = volume →
 * slices ({@link sliceAxial}), else slices → volume ({@link stackSlices}).
 */
function swapPlaneDepth(
  op: string,
  data: ArrayLike<number>,
  n: number,
  shape: readonly [number, number, number],
  channels: number,
  toSlices: boolean,
): Float32Array {
  const [rows, cols, deps] = shape;
  const plane = rows * cols;
  const per = plane * deps * channels;
  check(op, data, n, per);
  const out = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const base = i * per;
    for (let p = 0; p < plane; p++) {
      for (let d = 0; d < deps; d++) {
        const vol = base + (p * deps + d) * channels;
        const sl = base + (d * plane + p) * channels;
        const src = toSlices ? vol : sl;
        const dst = toSlices ? sl : vol;
        for (let ch = 0; ch < channels; ch++) out[dst + ch] = data[src + ch];
      }
    }
  }
  return out;
}

/**
 * Repeat every patch's label row for each of its `deps` slices (classification on slices: a slice
 * carries its patch's label).
 *
 * @param labels float32 (n, k).
 * @returns float32 (n · deps, k), patch-major like {@link sliceAxial}.
 * @throws TrainError when `labels` is not `n` rows of `k`.
 */
export function repeatPerSlice(labels: ArrayLike<number>, n: number, k: number, deps: number): Float32Array {
  check("repeatPerSlice", labels, n, k);
  const out = new Float32Array(n * deps * k);
  for (let i = 0; i < n; i++)
    for (let d = 0; d < deps; d++)
      for (let j = 0; j < k; j++) out[(i * deps + d) * k + j] = labels[i * k + j];
  return out;
}

/**
 * A patch's classification score from its slices: the arithmetic mean of the slices' probabilities
 * (per output column) — the rule the 2-D classifiers use to score a 3-D candidate patch (NCC, ECC).
 *
 * @param probs float32 (n · deps, k) slice probabilities, patch-major (slice `i · deps + d`).
 * @returns float32 (n, k): row `i` = mean over d of `probs[i · deps + d]`.
 * @throws TrainError when `probs` is not `n · deps` rows of `k`.
 */
export function meanOverSlices(probs: ArrayLike<number>, n: number, deps: number, k = 1): Float32Array {
  check("meanOverSlices", probs, n * deps, k);
  const out = new Float32Array(n * k);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let d = 0; d < deps; d++) s += probs[(i * deps + d) * k + j];
      out[i * k + j] = s / deps;
    }
  }
  return out;
}
