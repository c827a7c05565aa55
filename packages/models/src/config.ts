import type { BatchNormMode } from "@models-genesis/kernels";

/**
 * Architecture configuration of a Genesis U-Net (JSON-serialisable; `getConfig`-style).
 *
 * Tensors are channels-last: NDHWC (N, rows, cols, deps, C) for `spatialDims: 3`, NHWC
 * (N, rows, cols, C) for the slice-wise 2-D model (`spatialDims: 2`).
 */
export interface GenesisUNetConfig {
  /**
   * `torch`: the PyTorch reference (`pytorch/unet3d.py`): transposed-conv (k 2, s 2) decoder,
   * BatchNorm eps 1e-5, momentum 0.1, variable names = PyTorch `state_dict` keys.
   * `keras`: the Keras reference (`keras/unet3d.py`): nearest ×2 up-sampling decoder, BatchNorm
   * eps 1e-3, momentum 0.99, variable names = Keras weight names (`depth_0_conv/kernel`).
   */
  variant: "torch" | "keras";
  /** 3 for the Genesis 3-D U-Net, 2 for the slice-wise 2-D U-Net with the same plan. */
  spatialDims: 3 | 2;
  /** Base width w: encoder level d has w·2^d then w·2^(d+1) channels (32 in the reference). */
  width: number;
  /** Input channels (1 for CT/MRI cubes). */
  inChannels: number;
  head: HeadConfig;
  /** BatchNorm statistics used by `forward(x, {training: false})`. */
  bnMode: BatchNormMode;
  /** BatchNorm epsilon (1e-5 PyTorch `nn.BatchNorm3d`, 1e-3 Keras `BatchNormalization`). */
  bnEps: number;
  /**
   * Running-average momentum as each framework defines it: PyTorch 0.1 (weight of the new batch),
   * Keras 0.99 (weight of the old value).
   */
  bnMomentum: number;
}

/** Output head. */
export type HeadConfig =
  | {
      /** Encoder-decoder with a 1×1×1 conv to `nClasses` (`out_tr.final_conv`; Keras final `Conv3D(n, 1)`). */
      kind: "segmentation";
      nClasses: number;
      /** `sigmoid` (reference), `softmax` over the channel axis, or `linear` (logits). */
      activation: HeadActivation;
    }
  | {
      /**
       * Encoder only: global average pool of the bottom features (w·16 channels; PyTorch
       * `down_tr512` output, Keras `depth_7_relu`) → Dense `hiddenUnits` + ReLU → Dense `nClasses`
       * (reference README "fine-tune for classification").
       */
      kind: "classification";
      nClasses: number;
      activation: HeadActivation;
      /** 1024 in the reference. */
      hiddenUnits: number;
    };

export type HeadActivation = "sigmoid" | "softmax" | "linear";

/** Partial config accepted by {@link resolveConfig}; missing fields take the variant's defaults. */
export type GenesisUNetConfigInput = Partial<Omit<GenesisUNetConfig, "head">> & {
  head?: Partial<HeadConfig> & { kind?: HeadConfig["kind"] };
};

/** Thrown for an invalid model configuration or input shape. */
export class ModelConfigError extends Error {
  override name = "ModelConfigError";
}

/** The reference width (`pytorch/unet3d.py`, `keras/unet3d.py`: 32 base filters). */
export const REFERENCE_WIDTH = 32;
/** Hidden units of the classification head (reference README, `nn.Linear(512, 1024)`). */
export const REFERENCE_HIDDEN_UNITS = 1024;
/** Each spatial dim must be a multiple of this: three 2×2×2 max-pools. */
export const SPATIAL_MULTIPLE = 8;

/**
 * Fill in defaults and validate a config.
 *
 * Defaults: variant `torch`, 3-D, width 32, one input channel, segmentation head with one sigmoid
 * class, BN mode `batch-statistics` for `torch` (the reference `ContBatchNorm3d` always uses batch
 * statistics) and `running-statistics` for `keras` (Keras inference), eps/momentum of the variant.
 * @throws ModelConfigError naming the offending field.
 */
export function resolveConfig(input: GenesisUNetConfigInput = {}): GenesisUNetConfig {
  const variant = input.variant ?? "torch";
  if (variant !== "torch" && variant !== "keras") {
    throw new ModelConfigError(
      `model config: variant must be "torch" or "keras", got ${JSON.stringify(variant)}`,
    );
  }
  const spatialDims = input.spatialDims ?? 3;
  if (spatialDims !== 2 && spatialDims !== 3) {
    throw new ModelConfigError(`model config: spatialDims must be 2 or 3, got ${String(spatialDims)}`);
  }
  const width = input.width ?? REFERENCE_WIDTH;
  positiveInt("width", width);
  const inChannels = input.inChannels ?? 1;
  positiveInt("inChannels", inChannels);
  const h = input.head ?? {};
  const kind = h.kind ?? "segmentation";
  const nClasses = h.nClasses ?? 1;
  positiveInt("head.nClasses", nClasses);
  const activation = h.activation ?? "sigmoid";
  if (!["sigmoid", "softmax", "linear"].includes(activation)) {
    throw new ModelConfigError(
      `model config: head.activation must be sigmoid, softmax or linear, got ${JSON.stringify(activation)}`,
    );
  }
  let head: HeadConfig;
  if (kind === "segmentation") {
    head = { kind, nClasses, activation };
  } else if (kind === "classification") {
    const hiddenUnits = (h as { hiddenUnits?: number }).hiddenUnits ?? REFERENCE_HIDDEN_UNITS;
    positiveInt("head.hiddenUnits", hiddenUnits);
    head = { kind, nClasses, activation, hiddenUnits };
  } else {
    throw new ModelConfigError(
      `model config: head.kind must be segmentation or classification, got ${JSON.stringify(kind)}`,
    );
  }
  const bnMode = input.bnMode ?? (variant === "torch" ? "batch-statistics" : "running-statistics");
  if (bnMode !== "batch-statistics" && bnMode !== "running-statistics") {
    throw new ModelConfigError(
      `model config: bnMode must be batch-statistics or running-statistics, got ${JSON.stringify(bnMode)}`,
    );
  }
  const bnEps = input.bnEps ?? (variant === "torch" ? 1e-5 : 1e-3);
  const bnMomentum = input.bnMomentum ?? (variant === "torch" ? 0.1 : 0.99);
  if (!(bnEps > 0)) throw new ModelConfigError(`model config: bnEps must be > 0, got ${bnEps}`);
  if (!(bnMomentum >= 0 && bnMomentum <= 1)) {
    throw new ModelConfigError(`model config: bnMomentum must be in [0, 1], got ${bnMomentum}`);
  }
  return { variant, spatialDims, width, inChannels, head, bnMode, bnEps, bnMomentum };
}

function positiveInt(field: string, v: unknown): void {
  if (typeof v !== "number" || !Number.isInteger(v) || v < 1) {
    throw new ModelConfigError(`model config: ${field} must be a positive integer, got ${JSON.stringify(v)}`);
  }
}
