/**
 * Whole-volume inference: a segmentation model trained on patches (64×64×32 in the reference) is
 * run over a volume of any size by a sliding window (MONAI `sliding_window_inference`, TorchIO
 * `GridSampler` + `GridAggregator`) and the patch predictions are blended with Gaussian weights
 * (σ = 0.125 · patch size, MONAI's default) back into one map in the input's geometry.
 */
import { type GenesisUNet, inferenceBnModeOf, type ModelMetadata } from "@models-genesis/models";
import { extractPatch, gridPatchCorners, PatchStitcher, type Shape3 } from "@models-genesis/transforms";
import { countNonFinite, resampleToSpacing, type Vec3, type Volume } from "@models-genesis/volume-io";
import { type ForwardEngine, tfjsEngine } from "./engine.js";

/** BatchNorm mode of a forward pass: `batch-statistics` or `running-statistics`. */
export type BatchNormMode = ModelMetadata["bnMode"];

/** Default patch (rows, cols, deps): the reference's fine-tuning input 64×64×32 (`spec/reference-facts.md`). */
export const DEFAULT_PATCH_SIZE: Shape3 = Object.freeze([64, 64, 32] as const);

/** Options of {@link predictVolume}. */
export interface PredictVolumeOptions {
  /**
   * Patch size (rows, cols, deps) in voxels of the model grid; 3-D models need multiples of 8.
   * For 2-D (slice-wise) models the depth is ignored (one slice per patch). Default:
   * {@link patchSizeFromMetadata} (metadata `extra`, else 64×64×32).
   */
  patchSize?: Shape3;
  /** Fraction in [0, 1) shared by neighbouring windows (default 0.5). */
  overlap?: number;
  /** Patches per forward pass (default 1). With batch-statistics BatchNorm the outputs depend on it. */
  batchSize?: number;
  /**
   * BatchNorm mode of the forward passes. Default: the model's documented inference mode,
   * `metadata.inferenceBnMode`, or `metadata.bnMode` for models saved before that field
   * ({@link inferenceBnModeOf}).
   */
  bnMode?: BatchNormMode;
  /** `probabilities`: float32 model output (C channels when C > 1); `labels` (default): uint8 label map. */
  output?: "probabilities" | "labels";
  /** Label map: probability ≥ threshold → 1 for one-channel (sigmoid) and per channel for multi-label sigmoid output (default 0.5). Softmax output takes the argmax. */
  threshold?: number;
  /** Patch weights when blending: `gaussian` (default) or `constant` (plain mean). */
  blend?: "gaussian" | "constant";
  /** Called after every batch with (patches done, patches in all). */
  onProgress?: (done: number, total: number) => void;
  /** Name of the input for error messages (default `vol.meta.file` or "volume"). */
  source?: string;
  /**
   * Forward-pass engine (default: {@link tfjsEngine} of `model` with the BatchNorm mode above).
   * An engine with a fixed `bnMode` (an ONNX graph) must match the mode prediction resolves.
   */
  engine?: ForwardEngine;
}

/** What {@link predictVolume} did besides its output. */
export interface PredictVolumeInfo {
  /** Shape (x, y, z) of the grid the model saw (after resampling). */
  modelGridShape: Vec3;
  /** Whether the input was resampled to the model's spacing and the output back to the input grid. */
  resampled: boolean;
  /** Patch size (x, y, z) used (depth 1 for 2-D models). */
  patchSize: Shape3;
  /** Number of patches predicted. */
  patches: number;
  /** Output channels of the model. */
  classes: number;
  /** BatchNorm mode the forward passes used. */
  bnMode: BatchNormMode;
  /** Where it came from: the `bnMode` option, the metadata's `inferenceBnMode`, or the fallback `bnMode`. */
  bnModeSource: "option" | "metadata" | "fallback";
}

function positiveInts(v: unknown): Shape3 | null {
  if (!Array.isArray(v) || v.length !== 3) return null;
  if (!v.every((d) => Number.isInteger(d) && d > 0)) return null;
  return [v[0], v[1], v[2]];
}

/**
 * The patch size a model was trained at, from its metadata: `extra.patchSize`, `extra.inputSize`
 * or the same keys under `extra.finetuning` (each `[rows, cols, deps]`), else
 * {@link DEFAULT_PATCH_SIZE} (64, 64, 32).
 */
export function patchSizeFromMetadata(metadata: ModelMetadata): Shape3 {
  const extra = (metadata.extra ?? {}) as Record<string, unknown>;
  const nested = (
    typeof extra.finetuning === "object" && extra.finetuning !== null ? extra.finetuning : {}
  ) as Record<string, unknown>;
  for (const v of [extra.patchSize, extra.inputSize, nested.patchSize, nested.inputSize]) {
    const s = positiveInts(v);
    if (s) return s;
  }
  return DEFAULT_PATCH_SIZE;
}

/**
 * Parse `r,c,d` (e.g. `64,64,32`) into a patch size.
 * @throws Error for anything but three positive integers.
 */
export function parsePatchSize(text: string, what = "--patch"): Shape3 {
  const parts = text.split(/[,x×]/).map((s) => s.trim());
  const n = parts.map(Number);
  if (n.length !== 3 || !n.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(
      `${what} must be three positive integers rows,cols,deps (e.g. 64,64,32), got ${JSON.stringify(text)}`,
    );
  }
  return [n[0], n[1], n[2]];
}

/**
 * Map intensities through the model's window: clip to `window` then scale linearly to `range`
 * (`out = r0 + (clamp(v, lo, hi) − lo) / (hi − lo) · (r1 − r0)`; the CT reference is HU
 * [−1000, 1000] → [0, 1], `infinite_generator_3D.py`). The same arithmetic as the array
 * `predict --preprocess window`. Returns float32; `null` intensity copies the values as they are.
 */
export function applyIntensityWindow(
  data: ArrayLike<number>,
  intensity: ModelMetadata["intensity"],
): Float32Array {
  const out = Float32Array.from(data);
  if (!intensity) return out;
  const [lo, hi] = intensity.window;
  const [r0, r1] = intensity.range;
  for (let i = 0; i < out.length; i++) {
    const v = Math.min(hi, Math.max(lo, out[i]));
    out[i] = r0 + ((v - lo) / (hi - lo)) * (r1 - r0);
  }
  return out;
}

/**
 * Trilinear resampling of C-order (x, y, z, c) data from one grid to another that shares the
 * centre of voxel 0 and the direction cosines (the grids {@link resampleToSpacing} produces):
 * output voxel i sits at input position i · dstSpacing / srcSpacing per axis, clamped to the last
 * input voxel (edge value past the end). Used to bring probabilities back to the input grid
 * exactly (same shape), which `resampleToSpacing`'s rounding of the shape cannot promise.
 */
export function resampleToGrid(
  data: ArrayLike<number>,
  srcShape: Vec3,
  srcSpacing: Vec3,
  dstShape: Vec3,
  dstSpacing: Vec3,
  channels = 1,
): Float32Array {
  const axis = (a: number) => {
    const n = dstShape[a];
    const lim = srcShape[a];
    const i0 = new Int32Array(n);
    const i1 = new Int32Array(n);
    const w = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = Math.min(lim - 1, (i * dstSpacing[a]) / srcSpacing[a]);
      const f = Math.floor(p);
      i0[i] = f;
      i1[i] = Math.min(lim - 1, f + 1);
      w[i] = p - f;
    }
    return { i0, i1, w };
  };
  const X = axis(0);
  const Y = axis(1);
  const Z = axis(2);
  const C = channels;
  const sx = srcShape[1] * srcShape[2] * C;
  const sy = srcShape[2] * C;
  const out = new Float32Array(dstShape[0] * dstShape[1] * dstShape[2] * C);
  let o = 0;
  for (let x = 0; x < dstShape[0]; x++) {
    const x0 = X.i0[x] * sx;
    const x1 = X.i1[x] * sx;
    const wx = X.w[x];
    for (let y = 0; y < dstShape[1]; y++) {
      const y0 = Y.i0[y] * sy;
      const y1 = Y.i1[y] * sy;
      const wy = Y.w[y];
      for (let z = 0; z < dstShape[2]; z++) {
        const z0 = Z.i0[z] * C;
        const z1 = Z.i1[z] * C;
        const wz = Z.w[z];
        for (let c = 0; c < C; c++, o++) {
          const c00 = data[x0 + y0 + z0 + c] + (data[x0 + y0 + z1 + c] - data[x0 + y0 + z0 + c]) * wz;
          const c01 = data[x0 + y1 + z0 + c] + (data[x0 + y1 + z1 + c] - data[x0 + y1 + z0 + c]) * wz;
          const c10 = data[x1 + y0 + z0 + c] + (data[x1 + y0 + z1 + c] - data[x1 + y0 + z0 + c]) * wz;
          const c11 = data[x1 + y1 + z0 + c] + (data[x1 + y1 + z1 + c] - data[x1 + y1 + z0 + c]) * wz;
          const c0 = c00 + (c01 - c00) * wy;
          const c1 = c10 + (c11 - c10) * wy;
          out[o] = c0 + (c1 - c0) * wx;
        }
      }
    }
  }
  return out;
}

function sameSpacing(a: readonly number[], b: readonly number[]): boolean {
  return [0, 1, 2].every((i) => Math.abs(a[i] - b[i]) <= 1e-6 * Math.max(1, Math.abs(b[i])));
}

/**
 * Segment a whole volume with a patch-trained model.
 *
 * Steps: (1) resample to `metadata.spacing` (mm, rows/cols/deps; trilinear) when it is set and
 * differs from the volume's spacing; (2) clip to `metadata.intensity.window` and scale to its
 * range ({@link applyIntensityWindow}); (3) cover the grid with overlapping patches
 * ({@link gridPatchCorners}; a volume smaller than a patch is padded with the range minimum, i.e.
 * air for CT); (4) predict them in batches of NDHWC tensors `(B, rows, cols, deps, C)` (NHWC
 * slices for 2-D models) with `opts.engine` (default {@link tfjsEngine}: `model.forward(x,
 * {training: false, bnMode})`; with an engine `model` needs only its `architecture`), the BatchNorm mode
 * being `opts.bnMode`, else the model's documented default ({@link inferenceBnModeOf}); (5) blend with Gaussian
 * importance weights ({@link PatchStitcher}); (6) resample the probabilities trilinearly back to
 * the input grid ({@link resampleToGrid}) and, unless `output: "probabilities"`, threshold them
 * (softmax heads: argmax) into a uint8 label map.
 *
 * @param volume intensity volume (x, y, z[, c]) with `channels` equal to the model's input channels.
 * @returns a volume in the input's geometry (same shape, spacing, origin, direction): float32
 *   probabilities with one channel per model output channel, or a uint8 label map (one channel;
 *   multi-label sigmoid heads: one channel per class).
 * @throws Error naming `source` for a classification model, a label-map input, a channel
 *   mismatch, non-finite voxels, a patch size that is not a multiple of 8 or a bad option;
 *   ModelFileError for a metadata BN mode that is not batch-statistics or running-statistics.
 */
export async function predictVolume(
  model: Pick<GenesisUNet, "architecture"> | GenesisUNet,
  metadata: ModelMetadata,
  volume: Volume,
  opts: PredictVolumeOptions = {},
): Promise<{ volume: Volume; info: PredictVolumeInfo }> {
  const source =
    opts.source ?? (typeof volume.meta?.file === "string" ? (volume.meta.file as string) : "volume");
  const a = model.architecture;
  if (a.head.kind !== "segmentation") {
    throw new Error(
      `${source}: whole-volume inference needs a segmentation model; this model has a ${a.head.kind} head (use predict --in on cubes)`,
    );
  }
  if (volume.kind === "label") {
    throw new Error(`${source}: is a label map; predict needs an intensity volume (CT in HU or MRI)`);
  }
  if (volume.channels !== a.inChannels) {
    throw new Error(
      `${source}: has ${volume.channels} channel(s) per voxel, the model expects ${a.inChannels}`,
    );
  }
  const overlap = opts.overlap ?? 0.5;
  if (!(overlap >= 0 && overlap < 1)) throw new Error(`--overlap must be in [0, 1), got ${overlap}`);
  const batchSize = opts.batchSize ?? 1;
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new Error(`--batch-size must be a positive integer, got ${batchSize}`);
  const threshold = opts.threshold ?? 0.5;
  if (!Number.isFinite(threshold)) throw new Error(`--threshold must be a number, got ${threshold}`);
  if (
    opts.bnMode !== undefined &&
    opts.bnMode !== "batch-statistics" &&
    opts.bnMode !== "running-statistics"
  ) {
    throw new Error(
      `--bn-mode must be batch-statistics or running-statistics, got ${JSON.stringify(opts.bnMode)}`,
    );
  }
  const bn =
    opts.bnMode !== undefined
      ? { mode: opts.bnMode, source: "option" as const }
      : inferenceBnModeOf(metadata);
  if (!opts.engine && !("forward" in model)) {
    throw new Error("predictVolume: give a GenesisUNet, or an architecture with opts.engine");
  }
  const engine = opts.engine ?? tfjsEngine(model as GenesisUNet, bn.mode);
  if (engine.bnMode !== undefined && engine.bnMode !== bn.mode) {
    throw new Error(
      `${source}: the ${engine.name} engine's network uses ${engine.bnMode} BatchNorm, prediction asked for ${bn.mode} (${bn.source})`,
    );
  }
  const nd = a.spatialDims;
  const requested = opts.patchSize ?? patchSizeFromMetadata(metadata);
  const patch: Shape3 = [requested[0], requested[1], nd === 3 ? requested[2] : 1];
  const mult = metadata.spatialMultiple || 8;
  if (patch.slice(0, nd).some((s) => !Number.isInteger(s) || s <= 0 || s % mult !== 0)) {
    throw new Error(
      `patch size (${patch.slice(0, nd).join(", ")}) must be positive multiples of ${mult} (the U-Net pools three times)`,
    );
  }
  const bad = countNonFinite(volume);
  if (bad > 0) throw new Error(`${source}: has ${bad} non-finite voxels (NaN/Inf)`);

  // (1) resample to the model's spacing
  let grid: Volume = volume;
  let resampled = false;
  if (metadata.spacing && !sameSpacing(volume.spacing, metadata.spacing)) {
    if (metadata.spacing.length !== 3 || !metadata.spacing.every((s) => Number.isFinite(s) && s > 0)) {
      throw new Error(
        `model metadata: spacing must be three positive mm values, got ${JSON.stringify(metadata.spacing)}`,
      );
    }
    grid = resampleToSpacing(volume, metadata.spacing);
    resampled = true;
  }
  // (2) intensity window
  const C = a.inChannels;
  const input = applyIntensityWindow(grid.data as ArrayLike<number>, metadata.intensity);
  const padValue = metadata.intensity ? metadata.intensity.range[0] : 0;
  const shape = grid.shape;
  const channelData: Float32Array[] = [];
  if (C === 1) channelData.push(input);
  else {
    const n = shape[0] * shape[1] * shape[2];
    for (let c = 0; c < C; c++) {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = input[i * C + c];
      channelData.push(d);
    }
  }
  // (3)–(5) sliding window, batched forward passes, Gaussian blending
  const corners = gridPatchCorners(shape, patch, overlap);
  const per = patch[0] * patch[1] * patch[2];
  const K = a.head.nClasses;
  const stitchers = Array.from(
    { length: K },
    () => new PatchStitcher(shape, patch, opts.blend ?? "gaussian"),
  );
  const tensorTail = nd === 3 ? [patch[0], patch[1], patch[2], C] : [patch[0], patch[1], C];
  const channelOut = K > 1 ? new Float32Array(per) : null;
  for (let start = 0; start < corners.length; start += batchSize) {
    const batch = corners.slice(start, start + batchSize);
    const buf = new Float32Array(batch.length * per * C);
    batch.forEach((corner, b) => {
      for (let c = 0; c < C; c++) {
        const p = extractPatch(channelData[c], shape, corner, patch, padValue);
        if (C === 1) buf.set(p, b * per);
        else for (let i = 0; i < per; i++) buf[(b * per + i) * C + c] = p[i];
      }
    });
    const out = await engine.forward(buf, [batch.length, ...tensorTail]);
    batch.forEach((corner, b) => {
      const sample = out.subarray(b * per * K, (b + 1) * per * K);
      if (K === 1 || !channelOut) stitchers[0].add(corner, sample);
      else
        for (let k = 0; k < K; k++) {
          for (let i = 0; i < per; i++) channelOut[i] = sample[i * K + k];
          stitchers[k].add(corner, channelOut);
        }
    });
    opts.onProgress?.(Math.min(start + batchSize, corners.length), corners.length);
  }
  let probs: Float32Array;
  if (K === 1) probs = stitchers[0].result();
  else {
    const parts = stitchers.map((s) => s.result());
    probs = new Float32Array(parts[0].length * K);
    for (let i = 0; i < parts[0].length; i++) for (let k = 0; k < K; k++) probs[i * K + k] = parts[k][i];
  }
  // (6) back to the input grid
  if (resampled) probs = resampleToGrid(probs, grid.shape, grid.spacing, volume.shape, volume.spacing, K);

  const geometry = {
    shape: [...volume.shape] as Vec3,
    spacing: [...volume.spacing] as Vec3,
    origin: [...volume.origin] as Vec3,
    direction: volume.direction.map((r) => [...r]) as Volume["direction"],
  };
  const meta: Record<string, unknown> = { source };
  for (const key of ["qform_code", "sform_code"])
    if (volume.meta?.[key] !== undefined) meta[key] = volume.meta[key];
  const info: PredictVolumeInfo = {
    modelGridShape: [...shape] as Vec3,
    resampled,
    patchSize: patch,
    patches: corners.length,
    classes: K,
    bnMode: bn.mode,
    bnModeSource: bn.source,
  };
  if (opts.output === "probabilities") {
    return { volume: { ...geometry, data: probs, channels: K, kind: "intensity", meta }, info };
  }
  const n = volume.shape[0] * volume.shape[1] * volume.shape[2];
  if (K > 1 && a.head.activation === "softmax") {
    const labels = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let k = 1; k < K; k++) if (probs[i * K + k] > probs[i * K + best]) best = k;
      labels[i] = best;
    }
    return { volume: { ...geometry, data: labels, channels: 1, kind: "label", meta }, info };
  }
  const labels = new Uint8Array(probs.length);
  for (let i = 0; i < probs.length; i++) labels[i] = probs[i] >= threshold ? 1 : 0;
  return { volume: { ...geometry, data: labels, channels: K, kind: "label", meta }, info };
}
