import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  copyRecord,
  type GenesisUNetConfigInput,
  MODEL_FORMAT,
  type ModelMetadata,
  REFERENCE_CT_RECORD,
  resolveConfig,
  upgradeMetadata,
} from "@models-genesis/models";
import {
  affineOf,
  collectOneVolume,
  orientationCode,
  readVolume,
  type Volume,
  volumeStats,
} from "@models-genesis/volume-io";
import type { Command } from "commander";
import { irregularSlicesOption, volumeReadOptions } from "../lib/read-options.js";

/** The facts `genesis info` reports about a volume (the `--json` object). */
export interface VolumeInfo {
  /** Spatial shape (x, y, z), plus the channel count as a 4th entry when > 1. */
  shape: number[];
  /** Voxel size in mm along (x, y, z). */
  spacing: number[];
  /** RAS+ position (mm) of the centre of voxel (0, 0, 0). */
  origin: number[];
  /** Voxel-to-world 4×4 affine, RAS+ mm, row-major. */
  affine: number[][];
  /** Orientation code (nibabel convention: the direction each voxel axis points towards), e.g. "LPS". */
  orientation: string;
  /** Voxel type on disk (e.g. "int16"; "int16 (big-endian)" when stored big-endian). */
  datatype: string;
  min: number | null;
  max: number | null;
  mean: number | null;
  /** Number of NaN / ±Infinity voxels. */
  nonFinite: number;
}

/** Collect the `genesis info` facts of a volume. */
export function volumeInfo(vol: Volume): VolumeInfo {
  const stats = volumeStats(vol);
  const num = (v: number) => (Number.isFinite(v) ? v : null);
  const disk = String(vol.meta.datatype ?? "unknown");
  return {
    shape: vol.channels > 1 ? [...vol.shape, vol.channels] : [...vol.shape],
    spacing: [...vol.spacing],
    origin: [...vol.origin],
    affine: affineOf(vol),
    orientation: orientationCode(vol),
    datatype: vol.meta.byteOrder === "big" ? `${disk} (big-endian)` : disk,
    min: num(stats.min),
    max: num(stats.max),
    mean: num(stats.mean),
    nonFinite: stats.nonFinite,
  };
}

/** The facts `genesis info MODEL_DIR` reports about a saved model (the `--json` object). */
export interface ModelInfo {
  /** The model's `model.json`. */
  model: string;
  /** Zoo id (e.g. `genesis-unet3d`), null when the metadata has none. */
  id: string | null;
  variant: ModelMetadata["variant"];
  spatialDims: ModelMetadata["spatialDims"];
  width: number;
  head: ModelMetadata["head"];
  /** BatchNorm mode of training. */
  bnMode: ModelMetadata["bnMode"];
  /** BatchNorm mode of inference; null in models saved before the field existed (then `bnMode`). */
  inferenceBnMode: ModelMetadata["inferenceBnMode"] | null;
  /** The preprocessing record (`metadata.preprocessing`; format-1 models: upgraded with defaults). */
  preprocessing: ModelMetadata["preprocessing"];
  /** A restoration model from `genesis pretrain` (`metadata.extra.pretraining`): fine-tune it before predict. */
  pretraining: boolean;
}

/**
 * The `model.json` a path names when it is a saved model: the file itself, or a folder holding it.
 * @returns the `model.json` path, or null when the path is no model (a volume, a DICOM folder, …)
 */
export function modelJsonOf(path: string): string | null {
  if (basename(path) === "model.json" && existsSync(path)) return path;
  const inDir = join(path, "model.json");
  return existsSync(path) && statSync(path).isDirectory() && existsSync(inDir) ? inDir : null;
}

/**
 * Read a saved model's metadata from its `model.json` (no weights are read, no backend started).
 * @throws Error, one line naming the file: unreadable JSON, or not a Models Genesis model;
 *   VolumeValueError for an invalid preprocessing record.
 */
export async function modelInfo(modelJson: string): Promise<ModelInfo> {
  let json: {
    format?: unknown;
    modelTopology?: { config?: unknown };
    userDefinedMetadata?: { modelsGenesis?: Record<string, unknown> };
  };
  try {
    json = JSON.parse(await readFile(modelJson, "utf8"));
  } catch (e) {
    throw new Error(`${modelJson}: cannot read the model (${(e as Error).message})`);
  }
  if (json.format !== MODEL_FORMAT)
    throw new Error(`${modelJson}: not a Models Genesis model (format ${JSON.stringify(json.format)})`);
  const saved = json.userDefinedMetadata?.modelsGenesis;
  // as loadModel does: the saved metadata (upgraded), else the architecture with the reference CT record
  let m: ModelMetadata;
  if (saved) m = upgradeMetadata(saved, modelJson);
  else {
    const a = resolveConfig((json.modelTopology?.config ?? {}) as GenesisUNetConfigInput);
    m = {
      variant: a.variant,
      spatialDims: a.spatialDims,
      width: a.width,
      head: a.head,
      bnMode: a.bnMode,
      inputLayout: a.spatialDims === 3 ? "NDHWC" : "NHWC",
      spatialMultiple: 8,
      preprocessing: copyRecord(REFERENCE_CT_RECORD),
    };
  }
  const extra = m.extra as Record<string, unknown> | undefined;
  return {
    model: modelJson,
    id: m.id ?? null,
    variant: m.variant,
    spatialDims: m.spatialDims,
    width: m.width,
    head: m.head,
    bnMode: m.bnMode,
    inferenceBnMode: m.inferenceBnMode ?? null,
    preprocessing: m.preprocessing,
    pretraining: extra?.pretraining !== undefined && extra?.pretraining !== null,
  };
}

/** The text lines of {@link modelInfo}. */
export function modelInfoLines(i: ModelInfo): string[] {
  const p = i.preprocessing;
  const xyz = (a: readonly number[]) => a.map(fmt).join(" × ");
  const h = i.head;
  const head =
    h.kind === "classification"
      ? `classification, ${h.nClasses} class${h.nClasses === 1 ? "" : "es"}, ${h.activation}, ${"hiddenUnits" in h ? h.hiddenUnits : "?"} hidden units`
      : `${h.kind}, ${h.nClasses} class${h.nClasses === 1 ? "" : "es"}, ${h.activation}`;
  return [
    `model        ${dirname(i.model)} (model.json)`,
    `zoo id       ${i.id ?? "n/a"}`,
    `variant      ${i.variant} (${i.spatialDims}-D)`,
    `width        ${i.width}`,
    `head         ${head}`,
    `BatchNorm    training ${i.bnMode}; inference ${i.inferenceBnMode ?? `${i.bnMode} (not recorded: the training mode)`}`,
    ...(i.pretraining
      ? [
          "pretraining  a restoration model from genesis pretrain: fine-tune it (genesis finetune --init) before predict",
        ]
      : []),
    "preprocessing record:",
    `  modality     ${p.modality}`,
    `  window       [${p.window.map(fmt).join(", ")}] → range [${p.range.map(fmt).join(", ")}]`,
    `  spacing      ${p.spacing ? `${xyz(p.spacing)} mm` : "none (the scan's own)"}`,
    `  resize       ${p.resize ? xyz(p.resize) : "none"}`,
    `  crop         ${p.crop ? `${xyz(p.crop)} voxels` : "none"}`,
    `  patch size   ${xyz(p.patchSize)} (x × y × z voxels)`,
    `  orientation  ${p.orientation ?? "none (as stored)"}`,
    `  source       ${p.source}`,
  ];
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, ""));

/**
 * `genesis info <file | DICOM folder | model folder> [--json]`: shape, geometry, datatype and value
 * summary of a volume; for a saved model (a folder with `model.json`) its architecture and
 * preprocessing record ({@link modelInfo}).
 */
export function register(program: Command): void {
  const cmd = program
    .command("info")
    .description(
      "Print a volume's shape, spacing, origin, orientation, on-disk datatype, min/max/mean and non-finite count; or a saved model's architecture and preprocessing record",
    )
    .argument(
      "<path>",
      "NIfTI (.nii, .nii.gz, .hdr/.img), MetaImage (.mhd, .mha), NumPy .npy, DICOM file or series folder; or a model folder (with model.json)",
    )
    .option(
      "--json",
      "print exactly one JSON object (volume keys: shape, spacing, origin, affine, orientation, datatype, min, max, mean, nonFinite; model keys: model, id, variant, spatialDims, width, head, bnMode, inferenceBnMode, preprocessing, pretraining)",
    );
  irregularSlicesOption(cmd).action(
    async (path: string, opts: { json?: boolean; irregularSlices?: string }) => {
      // a saved model (a folder with model.json, or the file): its metadata and preprocessing record
      const modelJson = modelJsonOf(path);
      if (modelJson) {
        const mi = await modelInfo(modelJson);
        process.stdout.write(opts.json ? `${JSON.stringify(mi)}\n` : `${modelInfoLines(mi).join("\n")}\n`);
        return;
      }
      // the one input collection of every command: a file, or a folder holding exactly one volume
      const input = await collectOneVolume(path);
      const vol = await readVolume(input.path, volumeReadOptions(opts));
      const info = volumeInfo(vol);
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(info)}\n`);
        return;
      }
      const v = (a: number[]) => a.map(fmt).join(" × ");
      const p = (a: number[]) => `(${a.map(fmt).join(", ")})`;
      const lines = [
        `file         ${input.path}${input.kind === "dicom-series" ? " (DICOM series)" : ""}`,
        `format       ${String(vol.meta.format ?? "?")}`,
        `shape        ${v(info.shape)}${vol.channels > 1 ? " (x × y × z × channels)" : " (x × y × z)"}`,
        `spacing      ${v(info.spacing)} mm`,
        `origin       ${p(info.origin)} mm RAS`,
        `orientation  ${info.orientation}`,
        `datatype     ${info.datatype}`,
        `min          ${info.min === null ? "n/a" : fmt(info.min)}`,
        `max          ${info.max === null ? "n/a" : fmt(info.max)}`,
        `mean         ${info.mean === null ? "n/a" : fmt(info.mean)}`,
        `non-finite   ${info.nonFinite}`,
      ];
      process.stdout.write(`${lines.join("\n")}\n`);
    },
  );
}
