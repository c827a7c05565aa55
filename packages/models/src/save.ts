import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, rename, rm } from "node:fs/promises";
import path from "node:path";
import type { BatchNormMode } from "@models-genesis/kernels";
import {
  type PreprocessingRecord,
  validateRecord,
  writeFileAtomic as writeAtomic,
} from "@models-genesis/volume-io";
import type * as tf from "@tensorflow/tfjs-core";
import { type GenesisUNetConfigInput, resolveConfig } from "./config.js";
import type { WeightProvenance } from "./import.js";
import { copyRecord, REFERENCE_CT_RECORD, upgradeMetadata } from "./preprocessing.js";
import { GenesisUNet, type NamedArray } from "./unet.js";

/**
 * Our model directory format, readable without tfjs-node: `model.json` (tfjs `ModelArtifacts`
 * JSON: `modelTopology` = our architecture config, `userDefinedMetadata` = {@link ModelMetadata},
 * `weightsManifest` = named float32 tensors over binary shards) plus `group1-shard{i}of{n}.bin`
 * shards of at most 4 MiB (the tfjs converter's shard size). A new directory is written under a
 * temporary name and renamed into place; into an existing directory every file is written to a
 * temporary name and renamed, `model.json` last, so a reader never sees a half-written model.json.
 */

/** Identifies our `model.json` files. */
export const MODEL_FORMAT = "models-genesis-unet";
/**
 * Bumped on incompatible changes of the directory format. 2: `ModelMetadata.preprocessing` replaces
 * `intensity`, `spacing` and `extra.patchSize` (format-1 directories still load, {@link upgradeMetadata}).
 */
export const MODEL_FORMAT_VERSION = 2;
const SHARD_BYTES = 4 * 1024 * 1024;

/** What `predict` needs to know about a saved model besides its architecture. */
export interface ModelMetadata {
  /** Zoo id the model was made from, when known (e.g. `genesis-unet3d`). */
  id?: string;
  variant: "torch" | "keras";
  spatialDims: 2 | 3;
  width: number;
  head: GenesisUNet["architecture"]["head"];
  bnMode: GenesisUNet["architecture"]["bnMode"];
  /**
   * BatchNorm mode for inference (`predictVolume`, `genesis predict`, `genesis finetune`'s
   * whole-volume test score) unless the caller overrides it. Defaults ({@link defaultInferenceBnMode}):
   * `running-statistics` for models trained or fine-tuned by this project (training keeps running
   * statistics) and for imported Keras weights; `batch-statistics` for imported PyTorch weights (the
   * reference `ContBatchNorm3d` always normalises with the batch statistics). Absent in models saved
   * before this field existed: {@link inferenceBnModeOf} then falls back to `bnMode`.
   */
  inferenceBnMode?: BatchNormMode;
  /** Tensor layout of the input: NDHWC (N, rows, cols, deps, C) or NHWC. */
  inputLayout: "NDHWC" | "NHWC";
  /** Every spatial input size must be a multiple of this (8). */
  spatialMultiple: number;
  /**
   * What was done to the training data, applied again from this record alone by whole-volume
   * prediction (`predictVolume`): window, modality, target spacing or resize factor, patch size
   * (x/y/z voxels), orientation (`PreprocessingRecord` of `@models-genesis/volume-io`). The one home
   * of these facts: models saved before it (format 1: `intensity`, `spacing`, `extra.patchSize`) are
   * upgraded on load with documented defaults ({@link upgradeMetadata}).
   */
  preprocessing: PreprocessingRecord;
  /** Where imported weights came from. */
  provenance?: WeightProvenance;
  /** Free-form extra fields (training run, task, …). */
  extra?: Record<string, unknown>;
}

/** Thrown for a missing or invalid model directory; the message names the file. */
export class ModelFileError extends Error {
  override name = "ModelFileError";
}

/**
 * The documented inference BatchNorm mode of a model with this provenance: imported PyTorch weights
 * (`torch-zip`, `torch-legacy`) → `batch-statistics` (the reference `ContBatchNorm3d` always uses the
 * batch statistics); imported Keras weights → `running-statistics`; no provenance (a model trained
 * or fine-tuned by this project, whose training keeps running statistics) → `running-statistics`.
 */
export function defaultInferenceBnMode(provenance?: WeightProvenance): BatchNormMode {
  return provenance?.format.startsWith("torch") ? "batch-statistics" : "running-statistics";
}

/**
 * The BatchNorm mode inference uses for a model by default: `metadata.inferenceBnMode`, or for a
 * model saved before that field existed the fallback `metadata.bnMode` (the model's own mode, what
 * inference used before). `source` says which.
 * @throws ModelFileError when either field holds something other than `batch-statistics` or
 *   `running-statistics`.
 */
export function inferenceBnModeOf(metadata: Pick<ModelMetadata, "bnMode" | "inferenceBnMode">): {
  mode: BatchNormMode;
  source: "metadata" | "fallback";
} {
  const check = (v: unknown, field: string): BatchNormMode => {
    if (v !== "batch-statistics" && v !== "running-statistics") {
      throw new ModelFileError(
        `model metadata: ${field} must be batch-statistics or running-statistics, got ${JSON.stringify(v)}`,
      );
    }
    return v;
  };
  if (metadata.inferenceBnMode !== undefined)
    return { mode: check(metadata.inferenceBnMode, "inferenceBnMode"), source: "metadata" };
  return { mode: check(metadata.bnMode, "bnMode"), source: "fallback" };
}

/**
 * Metadata for a model with defaults filled from its architecture, the reference CT record
 * ({@link REFERENCE_CT_RECORD}) and `inferenceBnMode` from {@link defaultInferenceBnMode} of
 * `extra.provenance`; `extra` overrides.
 */
export function defaultMetadata(model: GenesisUNet, extra: Partial<ModelMetadata> = {}): ModelMetadata {
  const a = model.architecture;
  return {
    variant: a.variant,
    spatialDims: a.spatialDims,
    width: a.width,
    head: a.head,
    bnMode: a.bnMode,
    inferenceBnMode: defaultInferenceBnMode(extra.provenance),
    inputLayout: a.spatialDims === 3 ? "NDHWC" : "NHWC",
    spatialMultiple: 8,
    preprocessing: copyRecord(REFERENCE_CT_RECORD),
    ...extra,
  };
}

function concatWeightData(data: tf.io.WeightData): Uint8Array {
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  const total = data.reduce((n, b) => n + b.byteLength, 0);
  const out = new Uint8Array(total);
  let o = 0;
  for (const b of data) {
    out.set(new Uint8Array(b), o);
    o += b.byteLength;
  }
  return out;
}

/**
 * A tfjs `IOHandler` over a directory of the Node file system (no tfjs-node): `save` writes
 * `model.json` + shards atomically, `load` reads them back as `ModelArtifacts`.
 */
export function fileSystemIO(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (!existsSync(dir)) {
        // A new directory is built beside its final name and renamed into place in one step.
        const parent = path.dirname(path.resolve(dir));
        await mkdir(parent, { recursive: true });
        const tmp = await mkdtemp(path.join(parent, `.${path.basename(dir)}.tmp-`));
        try {
          const result = await fileSystemIO(tmp).save!(artifacts);
          await rename(tmp, dir);
          return result;
        } catch (e) {
          await rm(tmp, { recursive: true, force: true });
          throw e;
        }
      }
      const bytes = artifacts.weightData ? concatWeightData(artifacts.weightData) : new Uint8Array(0);
      const n = Math.max(1, Math.ceil(bytes.byteLength / SHARD_BYTES));
      const paths: string[] = [];
      for (let i = 0; i < n; i++) {
        const name = `group1-shard${i + 1}of${n}.bin`;
        paths.push(name);
        await writeAtomic(path.join(dir, name), bytes.subarray(i * SHARD_BYTES, (i + 1) * SHARD_BYTES));
      }
      const json = {
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        modelTopology: artifacts.modelTopology,
        userDefinedMetadata: artifacts.userDefinedMetadata,
        weightsManifest: [{ paths, weights: artifacts.weightSpecs ?? [] }],
      };
      await writeAtomic(path.join(dir, "model.json"), `${JSON.stringify(json, null, 1)}\n`);
      // Remove shards of an earlier save with a different shard count.
      for (const f of await readdir(dir)) {
        if (/^group1-shard\d+of\d+\.bin$/.test(f) && !paths.includes(f))
          await rm(path.join(dir, f), { force: true });
      }
      return {
        modelArtifactsInfo: {
          dateSaved: new Date(),
          modelTopologyType: "JSON",
          weightDataBytes: bytes.byteLength,
        },
      };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      const jsonPath = path.join(dir, "model.json");
      let json: {
        format?: string;
        generatedBy?: string;
        convertedBy?: string | null;
        modelTopology?: unknown;
        userDefinedMetadata?: Record<string, unknown>;
        weightsManifest?: tf.io.WeightsManifestConfig;
      };
      try {
        json = JSON.parse(await readFile(jsonPath, "utf8"));
      } catch (e) {
        throw new ModelFileError(`${jsonPath}: cannot read the model (${(e as Error).message})`);
      }
      if (!Array.isArray(json.weightsManifest)) throw new ModelFileError(`${jsonPath}: no weightsManifest`);
      const specs: tf.io.WeightsManifestEntry[] = [];
      const parts: Uint8Array[] = [];
      for (const group of json.weightsManifest) {
        for (const p of group.paths) {
          const file = path.join(dir, p);
          try {
            parts.push(new Uint8Array(await readFile(file)));
          } catch (e) {
            throw new ModelFileError(`${file}: cannot read weight shard (${(e as Error).message})`);
          }
        }
        specs.push(...group.weights);
      }
      const total = parts.reduce((n, b) => n + b.byteLength, 0);
      const expected = specs.reduce((n, s) => n + 4 * s.shape.reduce((a, b) => a * b, 1), 0);
      if (specs.some((s) => s.dtype !== "float32")) {
        throw new ModelFileError(`${jsonPath}: only float32 weights are supported`);
      }
      if (total !== expected) {
        throw new ModelFileError(
          `${jsonPath}: weight shards hold ${total} bytes, the manifest needs ${expected}`,
        );
      }
      const weightData = new Uint8Array(total);
      let o = 0;
      for (const b of parts) {
        weightData.set(b, o);
        o += b.byteLength;
      }
      return {
        format: json.format,
        generatedBy: json.generatedBy,
        convertedBy: json.convertedBy ?? undefined,
        modelTopology: json.modelTopology as tf.io.ModelArtifacts["modelTopology"],
        userDefinedMetadata: json.userDefinedMetadata as tf.io.ModelArtifacts["userDefinedMetadata"],
        weightSpecs: specs,
        weightData: weightData.buffer,
      };
    },
  };
}

/**
 * Save a model to `dir` (created if needed): `model.json` + float32 weight shards, atomically.
 * @param metadata what `predict` needs; defaults from the architecture (see {@link defaultMetadata}).
 * @throws VolumeValueError naming `model.json` for an invalid `metadata.preprocessing` (nothing is written).
 */
export async function saveModel(
  dir: string,
  model: GenesisUNet,
  metadata?: Partial<ModelMetadata>,
): Promise<void> {
  const modelsGenesis = defaultMetadata(model, metadata);
  modelsGenesis.preprocessing = validateRecord(modelsGenesis.preprocessing, path.join(dir, "model.json"));
  const weights = await model.getWeights();
  const specs: tf.io.WeightsManifestEntry[] = [];
  const total = [...weights.values()].reduce((n, w) => n + w.data.length, 0);
  const buf = new Float32Array(total);
  let o = 0;
  for (const [name, w] of weights) {
    specs.push({ name, shape: w.shape, dtype: "float32" });
    buf.set(w.data, o);
    o += w.data.length;
  }
  await fileSystemIO(dir).save!({
    format: MODEL_FORMAT,
    generatedBy: `@models-genesis/models format ${MODEL_FORMAT_VERSION}`,
    convertedBy: metadata?.provenance
      ? `${metadata.provenance.format}:${path.basename(metadata.provenance.file)}`
      : null,
    modelTopology: {
      class_name: "GenesisUNet",
      formatVersion: MODEL_FORMAT_VERSION,
      config: model.config,
    } as unknown as tf.io.ModelArtifacts["modelTopology"],
    userDefinedMetadata: {
      modelsGenesis,
    } as unknown as tf.io.ModelArtifacts["userDefinedMetadata"],
    weightSpecs: specs,
    weightData: buf.buffer,
  });
}

/** A loaded model with its metadata. */
export interface LoadedModel {
  model: GenesisUNet;
  metadata: ModelMetadata;
}

/**
 * Load a model saved by {@link saveModel}.
 * @param dir the model directory, or the path of its `model.json` (users pass either)
 * Metadata saved before `preprocessing` existed (format 1) is upgraded ({@link upgradeMetadata}).
 * @throws ModelFileError naming the file when `model.json` or a shard is missing or inconsistent,
 *   or its preprocessing record is invalid;
 *   WeightMismatchError when the weights do not fit the stored architecture.
 */
export async function loadModel(dirOrModelJson: string): Promise<LoadedModel> {
  const dir = path.basename(dirOrModelJson) === "model.json" ? path.dirname(dirOrModelJson) : dirOrModelJson;
  const artifacts = await fileSystemIO(dir).load!();
  const jsonPath = path.join(dir, "model.json");
  if (artifacts.format !== MODEL_FORMAT) {
    throw new ModelFileError(
      `${jsonPath}: not a Models Genesis model (format ${JSON.stringify(artifacts.format)})`,
    );
  }
  const topo = artifacts.modelTopology as unknown as {
    class_name?: string;
    formatVersion?: number;
    config?: unknown;
  };
  if (topo?.class_name !== "GenesisUNet" || typeof topo.config !== "object") {
    throw new ModelFileError(`${jsonPath}: modelTopology is not a GenesisUNet config`);
  }
  if ((topo.formatVersion ?? 0) > MODEL_FORMAT_VERSION) {
    throw new ModelFileError(
      `${jsonPath}: format version ${topo.formatVersion} is newer than this library (${MODEL_FORMAT_VERSION})`,
    );
  }
  const config = resolveConfig(topo.config as GenesisUNetConfigInput);
  const data = new Float32Array(artifacts.weightData as ArrayBuffer);
  const values = new Map<string, NamedArray>();
  let o = 0;
  for (const s of artifacts.weightSpecs ?? []) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    values.set(s.name, { shape: s.shape, data: data.subarray(o, o + n) });
    o += n;
  }
  const model = new GenesisUNet(config);
  try {
    model.setWeights(values, { source: jsonPath });
  } catch (e) {
    model.dispose();
    throw e;
  }
  const meta = (artifacts.userDefinedMetadata as { modelsGenesis?: Record<string, unknown> } | undefined)
    ?.modelsGenesis;
  try {
    return { model, metadata: meta ? upgradeMetadata(meta, jsonPath) : defaultMetadata(model) };
  } catch (e) {
    model.dispose();
    throw new ModelFileError((e as Error).message);
  }
}
