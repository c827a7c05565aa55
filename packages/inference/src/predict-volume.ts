/**
 * Whole-volume inference: a segmentation model trained on patches (64×64×32 in the reference) is
 * run over a volume of any size by a sliding window (MONAI `sliding_window_inference`, TorchIO
 * `GridSampler` + `GridAggregator`) and the patch predictions are blended with Gaussian weights
 * (σ = 0.125 · patch size, MONAI's default) back into one map in the input's geometry.
 */
import { type GenesisUNet, inferenceBnModeOf, type ModelMetadata } from "@models-genesis/models";
import { extractPatch, gridPatchCorners, PatchStitcher, type Shape3 } from "@models-genesis/transforms";
import {
  countNonFinite,
  orientationCode,
  type PreprocessingRecord,
  reorientToCanonical,
  resample,
  resampleArray,
  type Vec3,
  type Volume,
  validateRecord,
  windowIntensity,
} from "@models-genesis/volume-io";
import { type ForwardEngine, tfjsEngine } from "./engine.js";

/** BatchNorm mode of a forward pass: `batch-statistics` or `running-statistics`. */
export type BatchNormMode = ModelMetadata["bnMode"];

/** Options of {@link predictVolume}. */
export interface PredictVolumeOptions {
  /**
   * Patch size (x, y, z voxels) of the model grid; 3-D models need multiples of 8.
   * For 2-D (slice-wise) models the depth is ignored (one slice per patch). Default: the model's
   * record, `metadata.preprocessing.patchSize`.
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
  /** Shape (x, y, z) of the grid the model saw (after reorientation and resampling). */
  modelGridShape: Vec3;
  /** Whether the input was resampled (record `spacing` or `resize`) and the output back to the input grid. */
  resampled: boolean;
  /** Whether the input was reoriented to the record's `orientation` and the output back. */
  reoriented: boolean;
  /** The record that was applied (the model's `metadata.preprocessing`). */
  preprocessing: PreprocessingRecord;
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

/**
 * Parse `XxYxZ` (e.g. `64x64x32`; `64,64,32` and `64×64×32` are accepted too) into a patch size,
 * x/y/z voxels.
 * @throws Error for anything but three positive integers.
 */
export function parsePatchSize(text: string, what = "--patch-size"): Shape3 {
  const parts = text.split(/[,x×]/).map((s) => s.trim());
  const n = parts.map(Number);
  if (n.length !== 3 || !n.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(
      `${what} must be three positive integers XxYxZ (e.g. 64x64x32), got ${JSON.stringify(text)}`,
    );
  }
  return [n[0], n[1], n[2]];
}

function sameSpacing(a: readonly number[], b: readonly number[]): boolean {
  return [0, 1, 2].every((i) => Math.abs(a[i] - b[i]) <= 1e-6 * Math.max(1, Math.abs(b[i])));
}

/**
 * Segment a whole volume with a patch-trained model.
 *
 * Preprocessing comes from the model's record alone, `metadata.preprocessing`
 * (`PreprocessingRecord`, in its order of application): (1a) reorient to `orientation` when set
 * (`reorientToCanonical`, exact); (1b) resample to `spacing` (mm, x/y/z; `resample` with
 * `{ spacing }`, trilinear) when set and different from the volume's, or scale by `resize`
 * (`resample` with `{ scale }`, the skimage half-pixel mapping of the preparation); `crop` is a
 * training-time cut and is not applied; (2) clip to `window` and scale to `range`
 * (`windowIntensity`); (3) cover the grid with overlapping patches of `patchSize``
 * ({@link gridPatchCorners}; a volume smaller than a patch is padded with the range minimum, i.e.
 * air for CT); (4) predict them in batches of NDHWC tensors `(B, rows, cols, deps, C)` (NHWC
 * slices for 2-D models) with `opts.engine` (default {@link tfjsEngine}: `model.forward(x,
 * {training: false, bnMode})`; with an engine `model` needs only its `architecture`), the BatchNorm mode
 * being `opts.bnMode`, else the model's documented default ({@link inferenceBnModeOf}); (5) blend with Gaussian
 * importance weights ({@link PatchStitcher}); (6) map the probabilities back to the input's exact
 * geometry: trilinearly onto the reoriented input grid by the inverse mapping of (1b)
 * (`resampleArray`, same shape as the input), then reoriented back; unless `output:
 * "probabilities"`, threshold them (softmax heads: argmax) into a uint8 label map.
 *
 * @param volume intensity volume (x, y, z[, c]) with `channels` equal to the model's input channels.
 * @returns a volume in the input's geometry (same shape, spacing, origin, direction): float32
 *   probabilities with one channel per model output channel, or a uint8 label map (one channel;
 *   multi-label sigmoid heads: one channel per class).
 * @throws Error naming `source` for a classification model, a label-map input, a channel
 *   mismatch, non-finite voxels, a patch size that is not a multiple of 8 or a bad option;
 *   VolumeValueError for an invalid `metadata.preprocessing` record;
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
  const record = validateRecord(metadata.preprocessing, "model metadata");
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
  const requested = opts.patchSize ?? record.patchSize;
  const patch: Shape3 = [requested[0], requested[1], nd === 3 ? requested[2] : 1];
  const mult = metadata.spatialMultiple || 8;
  if (patch.slice(0, nd).some((s) => !Number.isInteger(s) || s <= 0 || s % mult !== 0)) {
    throw new Error(
      `patch size (${patch.slice(0, nd).join(", ")}) must be positive multiples of ${mult} (the U-Net pools three times)`,
    );
  }
  const bad = countNonFinite(volume);
  if (bad > 0) throw new Error(`${source}: has ${bad} non-finite voxels (NaN/Inf)`);

  // (1a) reorient, (1b) resample to the record's spacing or scale by its resize factor
  const oriented =
    record.orientation !== null && orientationCode(volume) !== record.orientation.toUpperCase()
      ? reorientToCanonical(volume, record.orientation.toUpperCase())
      : volume;
  const reoriented = oriented !== volume;
  let grid: Volume = oriented;
  let back: ((probs: Float32Array, channels: number) => Float32Array) | null = null;
  if (record.spacing && !sameSpacing(oriented.spacing, record.spacing)) {
    grid = resample(oriented, { spacing: record.spacing });
    const step = [0, 1, 2].map((k) => oriented.spacing[k] / grid.spacing[k]) as Vec3;
    back = (p, channels) =>
      resampleArray(p, grid.shape, oriented.shape, { mapping: "origin", step, channels });
  } else if (record.resize?.some((f) => f !== 1)) {
    grid = resample(oriented, { scale: record.resize });
    back = (p, channels) => resampleArray(p, grid.shape, oriented.shape, { mapping: "half-pixel", channels });
  }
  const resampled = back !== null;
  // (2) intensity window of the record
  const C = a.inChannels;
  const input = windowIntensity(grid.data as ArrayLike<number>, record.window, {
    range: record.range,
    source,
  });
  const padValue = record.range[0];
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
  // (6) back to the input's geometry: the inverse resampling, then the inverse reorientation
  if (back) probs = back(probs, K);
  if (reoriented) {
    const onGrid: Volume = { ...oriented, data: probs, channels: K, kind: "intensity", meta: {} };
    probs = reorientToCanonical(onGrid, orientationCode(volume)).data as Float32Array;
  }

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
    reoriented,
    preprocessing: record,
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
