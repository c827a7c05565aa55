import type { VoxelArray } from "@models-genesis/volume-io";
import type { Rng } from "./rng.js";
import type { Image3D, Shape3 } from "./types.js";
import { checkImage } from "./types.js";

/**
 * Copy the box `[corner, corner + size)` of a C-order (x, y, z) array into a new array of the
 * same type, filling voxels outside the image with `padValue` (corners may be negative).
 */
export function extractPatch<T extends VoxelArray>(
  data: T,
  shape: Shape3,
  corner: readonly [number, number, number],
  size: Shape3,
  padValue = 0,
): T {
  const [nx, ny, nz] = shape;
  const [px, py, pz] = size;
  const out = new (data.constructor as new (n: number) => T)(px * py * pz);
  if (padValue !== 0) out.fill(padValue as never);
  const z0 = Math.max(0, corner[2]);
  const z1 = Math.min(nz, corner[2] + pz);
  if (z1 <= z0) return out;
  for (let i = 0; i < px; i++) {
    const x = corner[0] + i;
    if (x < 0 || x >= nx) continue;
    for (let j = 0; j < py; j++) {
      const y = corner[1] + j;
      if (y < 0 || y >= ny) continue;
      const src = (x * ny + y) * nz;
      out.set(data.subarray(src + z0, src + z1) as never, (i * py + j) * pz + (z0 - corner[2]));
    }
  }
  return out;
}

/** Options of {@link randomPatches}. */
export interface RandomPatchOptions {
  /** Patch size (x, y, z) in voxels, e.g. (64, 64, 32). */
  patchSize: Shape3;
  /** Patches per volume (TorchIO `samples_per_volume`). */
  count: number;
  /** Probability that a patch is centred on a random foreground voxel (label > 0); default 0.5. */
  foregroundRatio?: number;
  /** Value of voxels outside the image (when the image is smaller than a patch); default 0. */
  padValue?: number;
}

/** One sampled patch: its corner in the image (may be negative when padded) and the cut arrays. */
export interface Patch<T extends VoxelArray = VoxelArray, L extends VoxelArray = VoxelArray> {
  corner: [number, number, number];
  image: T;
  label?: L;
}

/**
 * Random training patches from an (image, label) pair for fine-tuning (nnU-Net-style
 * oversampling, TorchIO `LabelSampler`): each patch is, with probability `foregroundRatio`,
 * centred on a uniformly drawn foreground voxel (label > 0; falls back to uniform when there is
 * none), otherwise placed uniformly so that it lies inside the image (corner uniform in
 * [0, n − p] per axis; 0 with padding when n < p). Image and label are cut at the same corner.
 *
 * @throws Error when image and label shapes differ or a size is not positive.
 */
export function randomPatches<T extends VoxelArray, L extends VoxelArray>(
  image: Image3D<T>,
  label: Image3D<L> | undefined,
  rng: Rng,
  options: RandomPatchOptions,
): Patch<T, L>[] {
  const { patchSize, count, foregroundRatio = 0.5, padValue = 0 } = options;
  checkImage("randomPatches", image);
  if (patchSize.some((p) => !Number.isInteger(p) || p < 1)) {
    throw new Error(
      `transforms/randomPatches: patchSize must be positive integers, got [${patchSize.join(", ")}]`,
    );
  }
  const shape = image.shape;
  if (label) {
    checkImage("randomPatches", label);
    if (label.shape.some((d, a) => d !== shape[a])) {
      throw new Error(
        `transforms/randomPatches: label shape [${label.shape.join(", ")}] differs from image shape [${shape.join(", ")}]`,
      );
    }
  }
  let foreground: Int32Array | null = null;
  if (label && foregroundRatio > 0) {
    let n = 0;
    for (let i = 0; i < label.data.length; i++) if ((label.data[i] as number) > 0) n++;
    foreground = new Int32Array(n);
    n = 0;
    for (let i = 0; i < label.data.length; i++) if ((label.data[i] as number) > 0) foreground[n++] = i;
  }
  const [, ny, nz] = shape;
  const out: Patch<T, L>[] = [];
  for (let k = 0; k < count; k++) {
    let corner: [number, number, number];
    const useFg = foreground !== null && foreground.length > 0 && rng.random() < foregroundRatio;
    if (useFg && foreground) {
      const idx = foreground[rng.below(foreground.length)];
      const c = [Math.floor(idx / (ny * nz)), Math.floor(idx / nz) % ny, idx % nz];
      corner = [0, 1, 2].map((a) => {
        const n = shape[a];
        const p = patchSize[a];
        if (n <= p) return Math.floor((n - p) / 2);
        return Math.min(Math.max(c[a] - Math.floor(p / 2), 0), n - p);
      }) as [number, number, number];
    } else {
      corner = [0, 1, 2].map((a) => {
        const n = shape[a];
        const p = patchSize[a];
        return n <= p ? Math.floor((n - p) / 2) : rng.randint(0, n - p);
      }) as [number, number, number];
    }
    out.push({
      corner,
      image: extractPatch(image.data, shape, corner, patchSize, padValue),
      ...(label ? { label: extractPatch(label.data, shape, corner, patchSize, 0) } : {}),
    });
  }
  return out;
}

/** Start positions along one axis of length n for windows of size p with the given step. */
function axisStarts(n: number, p: number, step: number): number[] {
  if (n <= p) return [0];
  const starts: number[] = [];
  for (let s = 0; s + p < n; s += step) starts.push(s);
  starts.push(n - p);
  return [...new Set(starts)];
}

/**
 * Corners of a sliding-window grid that covers the whole volume (MONAI
 * `sliding_window_inference` / TorchIO `GridSampler`): step = max(1, round(p · (1 − overlap)))
 * per axis, the last window flush with the far edge; an axis shorter than the patch gets one
 * window at 0 (the patch is padded past the edge). Order: x slowest, z fastest.
 *
 * @param overlap fraction in [0, 1) shared by neighbouring windows; MONAI's default 0.25.
 * @throws Error when overlap is outside [0, 1) or a size is not positive.
 */
export function gridPatchCorners(
  shape: Shape3,
  patchSize: Shape3,
  overlap = 0.25,
): [number, number, number][] {
  if (!(overlap >= 0 && overlap < 1))
    throw new Error(`transforms/gridPatchCorners: overlap must be in [0, 1), got ${overlap}`);
  if ([...shape, ...patchSize].some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(
      `transforms/gridPatchCorners: shape [${shape.join(", ")}] and patchSize [${patchSize.join(", ")}] must be positive integers`,
    );
  }
  const starts = [0, 1, 2].map((a) =>
    axisStarts(shape[a], patchSize[a], Math.max(1, Math.round(patchSize[a] * (1 - overlap)))),
  );
  const out: [number, number, number][] = [];
  for (const x of starts[0]) for (const y of starts[1]) for (const z of starts[2]) out.push([x, y, z]);
  return out;
}

/**
 * Gaussian importance map of a patch (MONAI `compute_importance_map`, mode "gaussian"):
 * w(i, j, k) = Π_a exp(−(c_a − (p_a − 1)/2)² / (2 σ_a²)), σ_a = sigmaScale · p_a, normalised to
 * max 1 and floored at 1e-3 so that every voxel keeps some weight. float32, C order (x, y, z).
 */
export function gaussianImportance(patchSize: Shape3, sigmaScale = 0.125): Float32Array {
  const axes = [0, 1, 2].map((a) => {
    const p = patchSize[a];
    const s = sigmaScale * p;
    const c = (p - 1) / 2;
    return Float64Array.from({ length: p }, (_, i) => Math.exp(-((i - c) ** 2) / (2 * s * s)));
  });
  const [px, py, pz] = patchSize;
  const w = new Float32Array(px * py * pz);
  let max = 0;
  for (let i = 0; i < px; i++)
    for (let j = 0; j < py; j++)
      for (let k = 0; k < pz; k++) {
        const v = axes[0][i] * axes[1][j] * axes[2][k];
        w[(i * py + j) * pz + k] = v;
        if (v > max) max = v;
      }
  for (let i = 0; i < w.length; i++) w[i] = Math.max(w[i] / max, 1e-3);
  return w;
}

/**
 * Accumulates patch predictions into a whole volume (the inverse of {@link gridPatchCorners};
 * TorchIO `GridAggregator`, MONAI blending): each patch adds weight · value, voxels outside the
 * volume (padding) are dropped, and {@link result} divides by the summed weights.
 */
export class PatchStitcher {
  private readonly sum: Float64Array;
  private readonly weight: Float64Array;
  private readonly importance: Float32Array;

  /**
   * @param shape volume shape (x, y, z).
   * @param patchSize patch shape (x, y, z).
   * @param mode `gaussian` (σ = 0.125 · patch size, MONAI's default) or `constant` (plain mean).
   */
  constructor(
    readonly shape: Shape3,
    readonly patchSize: Shape3,
    mode: "gaussian" | "constant" = "gaussian",
  ) {
    const n = shape[0] * shape[1] * shape[2];
    this.sum = new Float64Array(n);
    this.weight = new Float64Array(n);
    this.importance =
      mode === "gaussian"
        ? gaussianImportance(patchSize)
        : new Float32Array(patchSize[0] * patchSize[1] * patchSize[2]).fill(1);
  }

  /**
   * Add one patch prediction at `corner`. @throws Error when the patch length does not match the patch size.
   */
  add(corner: readonly [number, number, number], patch: ArrayLike<number>): void {
    const [nx, ny, nz] = this.shape;
    const [px, py, pz] = this.patchSize;
    if (patch.length !== px * py * pz) {
      throw new Error(
        `transforms/PatchStitcher: patch has ${patch.length} values, patch size needs ${px * py * pz}`,
      );
    }
    for (let i = 0; i < px; i++) {
      const x = corner[0] + i;
      if (x < 0 || x >= nx) continue;
      for (let j = 0; j < py; j++) {
        const y = corner[1] + j;
        if (y < 0 || y >= ny) continue;
        for (let k = 0; k < pz; k++) {
          const z = corner[2] + k;
          if (z < 0 || z >= nz) continue;
          const pi = (i * py + j) * pz + k;
          const vi = (x * ny + y) * nz + z;
          const w = this.importance[pi];
          this.sum[vi] += w * patch[pi];
          this.weight[vi] += w;
        }
      }
    }
  }

  /** The stitched volume (float32, C order (x, y, z)); voxels no patch covered are 0. */
  result(): Float32Array {
    const out = new Float32Array(this.sum.length);
    for (let i = 0; i < out.length; i++) out[i] = this.weight[i] > 0 ? this.sum[i] / this.weight[i] : 0;
    return out;
  }
}
