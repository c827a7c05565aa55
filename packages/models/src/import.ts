import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { BatchNormMode } from "@models-genesis/kernels";
import type { PreprocessingRecord } from "@models-genesis/volume-io";
import { type GenesisUNetConfigInput, type HeadActivation, resolveConfig } from "./config.js";
import { type KerasWeightsFile, readKerasH5 } from "./io/keras.js";
import {
  CheckpointFormatError,
  extractStateDict,
  readTorchCheckpoint,
  type TorchTensor,
} from "./io/torch.js";
import { copyRecord, KERAS_WEIGHTS_RECORD, TORCH_WEIGHTS_RECORD } from "./preprocessing.js";
import type { WeightLayout, WeightSpec } from "./specs.js";
import { GenesisUNet, type NamedArray, WeightMismatchError } from "./unet.js";

/** Where imported weights came from (stored in saved model metadata). */
export interface WeightProvenance {
  file: string;
  format: "torch-zip" | "torch-legacy" | "keras-h5-weights-only" | "keras-h5-whole-model";
  /** SHA-256 of the file's bytes, hex. */
  sha256: string;
  /** Torch: the wrapper key (`state_dict`) or null; removed prefixes (`module.`); wrapper epoch. */
  wrapperKey?: string | null;
  strippedPrefixes?: string[];
  epoch?: number | null;
  /** Keras: `keras_version` attribute. */
  kerasVersion?: string | null;
}

/** Options shared by the importers. */
export interface ImportOptions {
  /**
   * Head of the resulting model. Default: what the file holds (segmentation with the file's class
   * count; classification when the file has `dense_1`/`dense_2`). Asking for `classification`
   * on a segmentation checkpoint loads the encoder and initialises the Dense layers from `seed`
   * (the reference transfer mode); asking for `segmentation` with another class count re-initialises
   * the final 1×1×1 conv.
   */
  head?: {
    kind: "segmentation" | "classification";
    nClasses?: number;
    activation?: HeadActivation;
    hiddenUnits?: number;
  };
  /** BatchNorm statistics at inference; default `batch-statistics` (torch, official) / `running-statistics` (keras). */
  bnMode?: BatchNormMode;
  /** Seed for weights the file does not provide (new heads). */
  seed?: number;
}

/** Result of an import: the model (owned by the caller) and where its weights came from. */
export interface ImportedModel {
  model: GenesisUNet;
  provenance: WeightProvenance;
  /** The reference's preprocessing of these weights ({@link TORCH_WEIGHTS_RECORD} / {@link KERAS_WEIGHTS_RECORD}); save it with the model. */
  preprocessing: PreprocessingRecord;
}

/**
 * Permute a C-ordered array. `perm[i]` = source axis of output axis i (NumPy `transpose` semantics).
 */
export function permuteArray(
  data: Float32Array,
  shape: number[],
  perm: number[],
): { data: Float32Array; shape: number[] } {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const srcStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    srcStrides[i] = s;
    s *= shape[i];
  }
  const stepOf = perm.map((p) => srcStrides[p]);
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    for (let a = rank - 1; a >= 0; a--) {
      idx[a]++;
      src += stepOf[a];
      if (idx[a] < outShape[a]) break;
      src -= stepOf[a] * outShape[a];
      idx[a] = 0;
    }
  }
  return { data: out, shape: outShape };
}

/**
 * PyTorch → ours permutation for a layout of rank r (reference-facts "Axis convention"):
 * conv (out, in, k…) → (k…, in, out) and ConvTranspose (in, out, k…) → (k…, out, in) are both
 * `[2, …, r−1, 1, 0]`; Linear (out, in) → (in, out) is `[1, 0]`.
 */
export function torchPermutation(layout: WeightLayout, rank: number): number[] {
  if (layout === "vector") return [0];
  if (layout === "linear") return [1, 0];
  const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 2);
  return [...spatial, 1, 0];
}

/** The PyTorch shape of one of our weights. */
function torchShapeOf(spec: WeightSpec): number[] {
  const perm = torchPermutation(spec.layout, spec.shape.length);
  const out = new Array<number>(perm.length);
  perm.forEach((src, i) => {
    out[src] = spec.shape[i];
  });
  return out;
}

async function sha256(path: string | Uint8Array): Promise<{ bytes: Uint8Array; hex: string }> {
  const bytes = typeof path === "string" ? new Uint8Array(await readFile(path)) : path;
  return { bytes, hex: createHash("sha256").update(bytes).digest("hex") };
}

const isDecoderKey = (k: string, variant: "torch" | "keras") =>
  variant === "torch"
    ? k.startsWith("up_tr") || k.startsWith("out_tr.")
    : /^depth_(8|9|1[0-3])_/.test(k) || k.startsWith("final_conv/");
const isHeadKey = (k: string) =>
  k.startsWith("dense_") || k.startsWith("out_tr.") || k.startsWith("final_conv/");

/**
 * Import an official PyTorch Models Genesis checkpoint (`pytorch/unet3d.py` `UNet3D`, e.g.
 * `Genesis_Chest_CT.pt`) in either serialisation (zip, PyTorch ≥ 1.6; legacy, PyTorch 1.3).
 *
 * Accepts a bare `state_dict` or `{epoch, state_dict, optimizer_state_dict}`, keys with or without
 * `module.` (DataParallel) and the reference classification `TargetNet` (`base_model.` + `dense_1/2`).
 * Width, input channels and class count are read from the weight shapes. Kernels are transposed
 * conv (out, in, k0, k1, k2) → (k0, k1, k2, in, out), ConvTranspose (in, out, k0, k1, k2) →
 * (k0, k1, k2, out, in), Linear (out, in) → (in, out). `num_batches_tracked` is ignored.
 * @param src path or file bytes
 * @throws CheckpointFormatError (unreadable file / not a Genesis UNet3D checkpoint) or
 *   WeightMismatchError listing every missing, unexpected and mis-shaped key (PyTorch shapes).
 */
export async function importTorchCheckpoint(
  src: string | Uint8Array,
  opts: ImportOptions & { name?: string } = {},
): Promise<ImportedModel> {
  const file = opts.name ?? (typeof src === "string" ? src : "<bytes>");
  let hashed: { bytes: Uint8Array; hex: string };
  try {
    hashed = await sha256(src);
  } catch (e) {
    throw new CheckpointFormatError(`${file}: cannot read the checkpoint (${(e as Error).message})`);
  }
  const ckpt = await readTorchCheckpoint(hashed.bytes, file);
  const { tensors, info } = extractStateDict(ckpt);
  for (const k of [...tensors.keys()]) if (k.endsWith(".num_batches_tracked")) tensors.delete(k);
  const first = tensors.get("down_tr64.ops.0.conv1.weight");
  if (!first || (first.shape.length !== 5 && first.shape.length !== 4)) {
    throw new CheckpointFormatError(
      `${file}: not a Models Genesis UNet3D checkpoint (no down_tr64.ops.0.conv1.weight; keys: ${[...tensors.keys()].slice(0, 8).join(", ")}${tensors.size > 8 ? ", …" : ""})`,
    );
  }
  const spatialDims = (first.shape.length - 2) as 2 | 3;
  const width = first.shape[0];
  const inChannels = first.shape[1];
  const head = inferHead(opts, {
    segClasses: tensors.get("out_tr.final_conv.weight")?.shape[0],
    clsClasses: tensors.get("dense_2.weight")?.shape[0],
    hidden: tensors.get("dense_1.weight")?.shape[0],
  });
  const config: GenesisUNetConfigInput = {
    variant: "torch",
    spatialDims,
    width,
    inChannels,
    head,
    bnMode: opts.bnMode,
  };
  const model = new GenesisUNet(resolveConfig(config), { seed: opts.seed });
  try {
    const values = convertTorch(model, tensors, file, opts);
    model.setWeights(values, { source: file, allowMissing: (k) => isHeadKey(k) && opts.head !== undefined });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return {
    model,
    provenance: {
      file,
      format: ckpt.serialization === "zip" ? "torch-zip" : "torch-legacy",
      sha256: hashed.hex,
      wrapperKey: info.wrapperKey,
      strippedPrefixes: info.strippedPrefixes,
      epoch: info.epoch,
    },
    preprocessing: copyRecord(TORCH_WEIGHTS_RECORD),
  };
}

function inferHead(
  opts: ImportOptions,
  found: { segClasses?: number; clsClasses?: number; hidden?: number },
): GenesisUNetConfigInput["head"] {
  if (opts.head) {
    const fromFile = opts.head.kind === "segmentation" ? found.segClasses : found.clsClasses;
    return {
      kind: opts.head.kind,
      nClasses: opts.head.nClasses ?? fromFile ?? 1,
      activation: opts.head.activation,
      ...(opts.head.kind === "classification" ? { hiddenUnits: opts.head.hiddenUnits ?? found.hidden } : {}),
    };
  }
  if (found.clsClasses !== undefined && found.segClasses === undefined) {
    return { kind: "classification", nClasses: found.clsClasses, hiddenUnits: found.hidden };
  }
  return { kind: "segmentation", nClasses: found.segClasses ?? 1 };
}

/** Check names and PyTorch shapes, then transpose into our layout. */
function convertTorch(
  model: GenesisUNet,
  tensors: Map<string, TorchTensor>,
  file: string,
  opts: ImportOptions,
): Map<string, NamedArray> {
  const specs = new Map(model.specs.map((s) => [s.name, s]));
  const headChosen = opts.head !== undefined;
  const isClassifier = model.architecture.head.kind === "classification";
  const missing: string[] = [];
  const unexpected: string[] = [];
  const misShaped: { name: string; expected: number[]; got: number[] }[] = [];
  const values = new Map<string, NamedArray>();
  for (const s of model.specs) {
    const t = tensors.get(s.name);
    if (!t) {
      if (!(headChosen && isHeadKey(s.name))) missing.push(s.name);
      continue;
    }
    const expected = torchShapeOf(s);
    if (t.shape.length !== expected.length || t.shape.some((n, i) => n !== expected[i])) {
      // A requested head with a different class count is re-initialised, not an error.
      if (headChosen && isHeadKey(s.name)) continue;
      misShaped.push({ name: s.name, expected, got: t.shape });
      continue;
    }
    const perm = torchPermutation(s.layout, s.shape.length);
    values.set(s.name, permuteArray(Float32Array.from(t.data), t.shape, perm));
  }
  for (const k of tensors.keys()) {
    if (specs.has(k)) continue;
    const allowed = (isClassifier && isDecoderKey(k, "torch")) || (headChosen && isHeadKey(k));
    if (!allowed) unexpected.push(k);
  }
  if (missing.length || unexpected.length || misShaped.length) {
    throw new WeightMismatchError(file, missing, unexpected, misShaped);
  }
  return values;
}

/**
 * Import an official Keras Models Genesis weights file (`keras/unet3d.py` `unet_model_3d`, e.g.
 * `Genesis_Chest_CT.h5`), weights-only (`layer_names` at the root) or whole-model
 * (`/model_weights`) layout.
 *
 * Layers `depth_{i}_conv` / `depth_{i}_bn` (i = 0..13) map to `depth_{i}_conv/kernel|bias` and
 * `depth_{i}_bn/gamma|beta|moving_mean|moving_variance`; the remaining 1×1×1 conv (auto-named,
 * e.g. `conv3d_1`) to `final_conv/kernel|bias`; Dense layers, in file order, to `dense_1`, `dense_2`.
 * Keras stores kernels (k0, k1, k2, in, out): no transpose.
 * @throws KerasH5FormatError (unreadable file) or WeightMismatchError listing every missing,
 *   unexpected and mis-shaped weight.
 */
export async function importKerasH5(path: string, opts: ImportOptions = {}): Promise<ImportedModel> {
  const h5 = await readKerasH5(path);
  const { hex } = await sha256(path);
  const named = mapKerasLayers(h5);
  const first = named.get("depth_0_conv/kernel");
  if (!first || (first.shape.length !== 5 && first.shape.length !== 4)) {
    throw new CheckpointFormatError(
      `${path}: not a Models Genesis Keras U-Net (no depth_0_conv kernel; layers: ${h5.layers
        .map((l) => l.name)
        .slice(0, 8)
        .join(", ")})`,
    );
  }
  const nd = first.shape.length - 2;
  const head = inferHead(opts, {
    segClasses: named.get("final_conv/kernel")?.shape[nd + 1],
    clsClasses: named.get("dense_2/kernel")?.shape[1],
    hidden: named.get("dense_1/kernel")?.shape[1],
  });
  const config: GenesisUNetConfigInput = {
    variant: "keras",
    spatialDims: nd as 2 | 3,
    width: first.shape[nd + 1],
    inChannels: first.shape[nd],
    head,
    bnMode: opts.bnMode,
  };
  const model = new GenesisUNet(resolveConfig(config), { seed: opts.seed });
  const headChosen = opts.head !== undefined;
  const isClassifier = model.architecture.head.kind === "classification";
  try {
    for (const s of model.specs) {
      const v = named.get(s.name);
      // A requested head whose shape differs from the file's is re-initialised.
      if (headChosen && isHeadKey(s.name) && v?.shape.some((n, i) => n !== s.shape[i])) named.delete(s.name);
    }
    model.setWeights(named, {
      source: path,
      allowMissing: (k) => headChosen && isHeadKey(k),
      allowUnexpected: (k) => (isClassifier && isDecoderKey(k, "keras")) || (headChosen && isHeadKey(k)),
    });
  } catch (e) {
    model.dispose();
    throw e;
  }
  return {
    model,
    provenance: {
      file: path,
      format: h5.layout === "whole-model" ? "keras-h5-whole-model" : "keras-h5-weights-only",
      sha256: hex,
      kerasVersion: h5.kerasVersion,
    },
    preprocessing: copyRecord(KERAS_WEIGHTS_RECORD),
  };
}

/** Map Keras layers to our names (see {@link importKerasH5}); unknown layers keep `layer/weight` names. */
function mapKerasLayers(h5: KerasWeightsFile): Map<string, NamedArray> {
  const out = new Map<string, NamedArray>();
  let dense = 0;
  for (const layer of h5.layers) {
    if (layer.weights.length === 0) continue;
    const kernel = layer.weights.find((w) => w.name === "kernel");
    let prefix = layer.name;
    if (/^depth_\d+_(conv|bn)$/.test(layer.name)) prefix = layer.name;
    else if (kernel && kernel.shape.length === 2) prefix = `dense_${++dense}`;
    else if (kernel && kernel.shape.length >= 4 && kernel.shape.slice(0, -2).every((k) => k === 1))
      prefix = "final_conv";
    for (const w of layer.weights) out.set(`${prefix}/${w.name}`, { shape: w.shape, data: w.data });
  }
  return out;
}
