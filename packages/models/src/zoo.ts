import type { BatchNormMode } from "@models-genesis/kernels";
import type { PreprocessingRecord } from "@models-genesis/volume-io";
import {
  type GenesisUNetConfig,
  type GenesisUNetConfigInput,
  type HeadActivation,
  ModelConfigError,
  resolveConfig,
  SPATIAL_MULTIPLE,
} from "./config.js";
import { type ImportedModel, importKerasH5, importTorchCheckpoint } from "./import.js";
import { KERAS_WEIGHTS_RECORD, REFERENCE_CT_RECORD, TORCH_WEIGHTS_RECORD } from "./preprocessing.js";
import { type CountParamsOptions, countParamsOfConfig } from "./specs.js";
import { type CreateModelOptions, GenesisUNet } from "./unet.js";

/** One model of the zoo. */
export interface ZooEntry {
  /** Registry key, e.g. `genesis-unet3d`. */
  id: string;
  /** Other accepted keys (style-guide ids such as `genesis-chest-ct-3d/torch`). */
  aliases: string[];
  description: string;
  /** Architecture at the reference width (JSON-serialisable; rebuild with {@link createModel}). */
  config: GenesisUNetConfig;
  /** Input layout: NDHWC (N, rows, cols, deps, C) or NHWC, C = 1, each spatial size a multiple of 8. */
  input: { layout: "NDHWC" | "NHWC"; channels: number; spatialMultiple: number; referenceSize: number[] };
  /** Preprocessing record of the official weights (CT, HU window [-1000, 1000] → [0, 1], 64×64×32). */
  preprocessing: Readonly<PreprocessingRecord>;
  /** BatchNorm modes that make sense with the official weights; the first is the default. */
  bnModes: BatchNormMode[];
  /** Trainable parameters at the reference width with one output class. */
  params: number;
  /** Official weights, when they exist. */
  officialWeights: {
    file: string;
    format: "torch" | "keras-h5";
    /** How to obtain them (we never download). */
    obtain: string;
    /** SHA-256 of the official file; null: not recorded here (no copy was available to hash). */
    sha256: string | null;
  } | null;
  provenance: { paper: string; sourceFile: string; notes: string };
}

const PAPER =
  "Zhou et al., Models Genesis: Generic Autodidactic Models for 3D Medical Image Analysis, MICCAI 2019; Models Genesis, Medical Image Analysis 2021";
const OBTAIN =
  "see 'Pre-trained Models Genesis' in the reference README (github.com/MrGiovanni/ModelsGenesis)";

function entry(e: Omit<ZooEntry, "params">): ZooEntry {
  return { ...e, params: countParamsOfConfig(e.config) };
}

const ZOO: ZooEntry[] = [
  entry({
    id: "genesis-unet3d",
    aliases: ["genesis-chest-ct-3d/torch"],
    description: "Genesis Chest CT 3-D U-Net, PyTorch variant (transposed-conv decoder, ContBatchNorm3d)",
    config: resolveConfig({ variant: "torch", spatialDims: 3 }),
    input: { layout: "NDHWC", channels: 1, spatialMultiple: SPATIAL_MULTIPLE, referenceSize: [64, 64, 32] },
    preprocessing: TORCH_WEIGHTS_RECORD,
    bnModes: ["batch-statistics", "running-statistics"],
    officialWeights: { file: "Genesis_Chest_CT.pt", format: "torch", obtain: OBTAIN, sha256: null },
    provenance: {
      paper: PAPER,
      sourceFile: "pytorch/unet3d.py",
      notes:
        "ContBatchNorm3d always normalises with batch statistics (also in eval); the checkpoint was written by PyTorch 1.3 (legacy serialisation) as {epoch, state_dict, optimizer_state_dict} with module. keys.",
    },
  }),
  entry({
    id: "genesis-unet3d-keras",
    aliases: ["genesis-chest-ct-3d/keras"],
    description: "Genesis Chest CT 3-D U-Net, Keras variant (nearest x2 up-sampling decoder)",
    config: resolveConfig({ variant: "keras", spatialDims: 3 }),
    input: { layout: "NDHWC", channels: 1, spatialMultiple: SPATIAL_MULTIPLE, referenceSize: [64, 64, 32] },
    preprocessing: KERAS_WEIGHTS_RECORD,
    bnModes: ["running-statistics", "batch-statistics"],
    officialWeights: { file: "Genesis_Chest_CT.h5", format: "keras-h5", obtain: OBTAIN, sha256: null },
    provenance: {
      paper: PAPER,
      sourceFile: "keras/unet3d.py",
      notes:
        "unet_model_3d(batch_normalization=True); layers depth_{0..13}_{conv,bn,relu}; Keras 2.2.4 HDF5.",
    },
  }),
  entry({
    id: "genesis-unet2d",
    aliases: ["genesis-chest-ct-2d"],
    description: "Slice-wise 2-D U-Net with the Genesis plan (2-D/2.5-D baselines), PyTorch-style decoder",
    config: resolveConfig({ variant: "torch", spatialDims: 2 }),
    input: { layout: "NHWC", channels: 1, spatialMultiple: SPATIAL_MULTIPLE, referenceSize: [64, 64] },
    preprocessing: REFERENCE_CT_RECORD,
    bnModes: ["batch-statistics", "running-statistics"],
    officialWeights: null,
    provenance: {
      paper: PAPER,
      sourceFile: "pytorch/unet3d.py (same plan with 2-D convolutions)",
      notes: "No official weights are imported for this model; train it with @models-genesis/train.",
    },
  }),
];

/** Every zoo entry, in a stable order. */
export function listModels(): ZooEntry[] {
  return ZOO.map((e) => ({ ...e, config: { ...e.config, head: { ...e.config.head } } }));
}

/**
 * The zoo entry for an id or alias.
 * @throws ModelConfigError listing the known ids.
 */
export function getModelInfo(id: string): ZooEntry {
  const e = ZOO.find((z) => z.id === id || z.aliases.includes(id));
  if (!e) {
    throw new ModelConfigError(
      `unknown model id ${JSON.stringify(id)}; known: ${ZOO.map((z) => z.id).join(", ")}`,
    );
  }
  return e;
}

/** Overrides accepted by {@link createModel} on top of a zoo entry. */
export interface ModelOverrides extends CreateModelOptions {
  width?: number;
  bnMode?: BatchNormMode;
  head?: {
    kind: "segmentation" | "classification";
    nClasses?: number;
    activation?: HeadActivation;
    hiddenUnits?: number;
  };
}

/**
 * A freshly initialised model from a zoo id (with overrides: width, head, BN mode, seed) or from a
 * config object (missing fields take defaults).
 * @throws ModelConfigError for an unknown id or an invalid config.
 */
export function createModel(
  idOrConfig: string | GenesisUNetConfigInput,
  overrides: ModelOverrides = {},
): GenesisUNet {
  const base: GenesisUNetConfigInput =
    typeof idOrConfig === "string" ? getModelInfo(idOrConfig).config : idOrConfig;
  const config = resolveConfig({
    ...base,
    ...(overrides.width !== undefined ? { width: overrides.width } : {}),
    ...(overrides.bnMode !== undefined ? { bnMode: overrides.bnMode } : {}),
    ...(overrides.head !== undefined ? { head: overrides.head } : {}),
  });
  return new GenesisUNet(config, { seed: overrides.seed });
}

/**
 * Parameters of a model, a zoo id or a config, computed from the weight shapes (nothing allocated).
 * Default: trainable parameters (torch 19,073,665 and keras 16,320,257 at width 32).
 */
export function countParams(
  what: GenesisUNet | string | GenesisUNetConfigInput,
  opts: CountParamsOptions = {},
): number {
  const config =
    what instanceof GenesisUNet
      ? what.architecture
      : typeof what === "string"
        ? getModelInfo(what).config
        : resolveConfig(what);
  return countParamsOfConfig(config, opts);
}

/** Options of {@link loadPretrained}. */
export interface LoadPretrainedOptions {
  /** Path of the official weights file (`.pt` for torch entries, `.h5` for keras entries). */
  weights: string;
  /** `segmentation` (encoder-decoder, default) or `classification` (encoder → GAP → 1024 → n). */
  head?: "segmentation" | "classification";
  nClasses?: number;
  activation?: HeadActivation;
  bnMode?: BatchNormMode;
  /** Seed of the new head's initial weights. */
  seed?: number;
}

/**
 * Load official pretrained weights into a zoo architecture, with the head chosen for transfer
 * (reference README: fine-tune the encoder-decoder for segmentation, or the encoder with a
 * GAP → Dense 1024 ReLU → Dense n head for classification).
 * @throws ModelConfigError (unknown id / entry without official weights / file of the wrong variant),
 *   CheckpointFormatError, KerasH5FormatError or WeightMismatchError from the importers.
 */
export async function loadPretrained(id: string, opts: LoadPretrainedOptions): Promise<ImportedModel> {
  const info = getModelInfo(id);
  if (!info.officialWeights) throw new ModelConfigError(`${info.id}: this zoo entry has no official weights`);
  const head =
    opts.head === undefined && opts.nClasses === undefined && opts.activation === undefined
      ? undefined
      : { kind: opts.head ?? "segmentation", nClasses: opts.nClasses, activation: opts.activation };
  const importOpts = { head, bnMode: opts.bnMode, seed: opts.seed };
  const imported =
    info.officialWeights.format === "torch"
      ? await importTorchCheckpoint(opts.weights, importOpts)
      : await importKerasH5(opts.weights, importOpts);
  if (imported.model.architecture.spatialDims !== info.config.spatialDims) {
    imported.model.dispose();
    throw new ModelConfigError(
      `${opts.weights}: holds a ${imported.model.architecture.spatialDims}-D model, ${info.id} is ${info.config.spatialDims}-D`,
    );
  }
  return imported;
}
