import { rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import {
  BinarySegmentationAccumulator,
  KerasMeanIoUAccumulator,
  REFERENCE_DICE_EMPTY_POLICY,
  RocAucAccumulator,
} from "@models-genesis/metrics";
import {
  copyRecord,
  createModel,
  type GenesisUNet,
  type HeadActivation,
  loadModel,
  loadPretrained,
  REFERENCE_CT_RECORD,
  saveModel,
} from "@models-genesis/models";
import { type PreprocessingRecord, validateRecord } from "@models-genesis/volume-io";
import * as tf from "@tensorflow/tfjs-core";
import { type AugmentSpec, augmentSamples, defaultAugment } from "../augment.js";
import type { Callback, TrainResult } from "../callback.js";
import { ProgressLogger } from "../callbacks.js";
import { loadModelWeights, readCheckpoint } from "../checkpoint.js";
import { arrayBatchSource } from "../data.js";
import { TrainError } from "../errors.js";
import { assertWritableDir } from "../outputs.js";
import { meanOverSlices, repeatPerSlice, sliceAxial, stackSlices } from "../slices.js";
import { finetuneRecipe } from "../tasks.js";
import { Trainer } from "../trainer.js";
import { OFFICIAL_PRETRAINING_SHAPE, pretrainingShapeOf, warnPatchShapeOnce } from "./patch-shape.js";

/** One split as arrays: `x` NDHWC (N, X, Y, Z, 1) in [0, 1]; `y` (N, X, Y, Z, 1) 0/1 masks or (N, 1) 0/1 labels. */
export interface SplitArrays {
  readonly x: Float32Array;
  readonly xShape: readonly number[];
  readonly y: Float32Array;
  readonly yShape: readonly number[];
}

/**
 * Where the fine-tuned network starts. A 2-D network (`modelId: "genesis-unet2d"`, or a model
 * directory holding one) on 3-D patches is trained slice-wise: see {@link runFinetuning}.
 */
export type FinetuneInit =
  /** Random weights (the paper's "train from scratch" baseline; `genesis-unet2d` = its 2-D variant). */
  | { kind: "scratch"; modelId?: string; width?: number }
  /** A model directory written by `saveModel` (e.g. `genesis pretrain`'s `model/`, 3-D or 2-D). */
  | { kind: "model"; dir: string }
  /** Official weights (`Genesis_Chest_CT.pt` → `genesis-unet3d`, `.h5` → `genesis-unet3d-keras`). */
  | { kind: "official"; weights: string };

/**
 * A forward-pass engine for the test predictions (structurally `@models-genesis/inference`'s
 * `ForwardEngine` plus `dispose`): `forward(batch, shape)` takes float32 C-order batches NDHWC
 * (N, X, Y, Z, C) — NHWC for 2-D networks — and returns the network's float32 output in the same
 * order ((N, …spatial, K) for segmentation, (N, K) for classification).
 */
export interface TestEngine {
  /** `tfjs` or `onnx`. */
  readonly name: string;
  /** One line for logs, e.g. `onnxruntime-node 1.30.0 (cpu)`. */
  readonly description: string;
  forward(batch: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  /** Frees the engine (not the model); awaited once the test set is predicted. */
  dispose?(): void | Promise<void>;
}

/**
 * Opens the engine that predicts the test set from the fine-tuned model (best weights loaded):
 * `bnMode` is the BatchNorm mode the tfjs evaluation uses (`forward({training: false})` = the
 * model's `architecture.bnMode`), `preprocessing` the record the model is saved with.
 */
export type TestEngineFactory = (
  model: GenesisUNet,
  ctx: { bnMode: GenesisUNet["architecture"]["bnMode"]; preprocessing: PreprocessingRecord },
) => Promise<TestEngine>;

/** Options of {@link runFinetuning}. Defaults follow `keras/downstream_tasks/config.py` (NCS). */
export interface FinetuneOptions {
  task: "segmentation" | "classification";
  data: { train: SplitArrays; val: SplitArrays; test: SplitArrays };
  init: FinetuneInit;
  /** Adam learning rate (1e-3 for NCS/NCC/ECC/BMS, 1e-2 for LCS). */
  lr?: number;
  batchSize?: number;
  epochs?: number;
  /** Early-stopping patience on validation loss. */
  patience?: number;
  /** ReduceLROnPlateau patience (reference 6). */
  plateauPatience?: number;
  stepsPerEpoch?: number;
  seed?: number;
  /**
   * Threads for data-parallel training steps (the batch is split across model replicas on worker
   * threads, see `ReplicaPool`); default `GENESIS_THREADS` or 1. `resolveThreads("auto")` picks one per core.
   */
  threads?: number;
  /** Where the best fine-tuned model is saved (a directory `genesis predict` accepts). */
  modelDir: string;
  /** Checkpoint folder (default `<modelDir>.ckpt`, removed after a successful run unless `keepCheckpoints`). */
  checkpointDir?: string;
  keepCheckpoints?: boolean;
  /**
   * What preparation did to `data` (window, modality, spacing or resize, crop, orientation): saved
   * as the fine-tuned model's `metadata.preprocessing` and applied again by whole-volume prediction.
   * Its `patchSize` is set to the training patches' (x, y, z); a different one is refused.
   * Default: the reference CT record (HU [-1000, 1000] → [0, 1], no resampling).
   */
  preprocessing?: PreprocessingRecord;
  /**
   * Training-sample augmentations, drawn per sample from the epoch generator (validation and test
   * samples are never augmented): registered transform names (`@models-genesis/transforms`
   * registry) with optional options, applied identically to image and mask (`augmentSamples`).
   * Default: the registry's augmentations of the task (`defaultAugment(task)`: `randFlip` and
   * `randRot90`). `false` or `[]` = none.
   */
  augment?: AugmentSpec;
  /** Extra facts stored in the saved model's metadata (task name, data). */
  extra?: Record<string, unknown>;
  /**
   * Engine of the test predictions (3-D and slice-wise 2-D alike), e.g. ONNX Runtime on the
   * exported model; disposed after use. Default: the model's tfjs `forward` ({@link predictArrays}).
   */
  testEngine?: TestEngineFactory;
  plainProgress?: boolean;
  callbacks?: Callback[];
  log?: (line: string) => void;
}

/** Test-set metrics of a fine-tuned model. */
export interface FinetuneMetrics {
  /** Segmentation: Dice at threshold 0.5 over the whole test set (both-empty = 1, the reference's rule). */
  dice?: number;
  /** Segmentation: foreground IoU at threshold 0.5 over the whole test set. */
  iou?: number;
  /** Segmentation: the paper's IoU (Keras two-class mean IoU averaged over thresholds 0.50…0.95). */
  paperIoU?: number;
  /** Classification: ROC AUC of the first output (NaN when the test labels hold one class). */
  auc?: number;
  /** Classification: why `auc` is NaN, with the class counts (`"only one class (0 positive, 9 negative)"`). */
  aucUndefined?: string;
}

/** What {@link runFinetuning} returns. */
export interface FinetuneSummary {
  test: FinetuneMetrics;
  result: TrainResult;
  seconds: number;
  modelDir: string;
  /** True when a 2-D network was trained and tested slice-wise on 3-D patches. */
  slicewise: boolean;
  /** The engine that predicted the test set: its `description`, or `tfjs <backend>` by default. */
  testEngine: string;
}

/**
 * One split of 3-D patches as the slice-wise 2-D network sees it: images (N, X, Y, Z, C) → axial
 * slices (N·Z, X, Y, C); segmentation masks the same way; classification labels (N, k) repeated per
 * slice (N·Z, k) — every slice carries its patch's label.
 *
 * @throws TrainError when `x` is not (N, X, Y, Z, C) NDHWC.
 */
export function sliceSplit(s: SplitArrays, task: FinetuneOptions["task"]): SplitArrays {
  if (s.xShape.length !== 5) {
    throw new TrainError(`sliceSplit: expected 3-D patches x (N, X, Y, Z, C), got x [${s.xShape}]`);
  }
  const [n, X, Y, Z, C] = s.xShape;
  const shape: [number, number, number] = [X, Y, Z];
  const x = sliceAxial(s.x, n, shape, C);
  if (task === "segmentation") {
    const K = s.yShape[4];
    return { x, xShape: [n * Z, X, Y, C], y: sliceAxial(s.y, n, shape, K), yShape: [n * Z, X, Y, K] };
  }
  const k = s.yShape.length > 1 ? s.yShape[s.yShape.length - 1] : 1;
  return { x, xShape: [n * Z, X, Y, C], y: repeatPerSlice(s.y, n, k, Z), yShape: [n * Z, k] };
}

/**
 * Predict 3-D patches with a 2-D network slice by slice (evaluation mode): each patch's axial slices
 * are predicted ({@link predictArrays}); segmentation maps are stacked back into (N, X, Y, Z, K);
 * a classification patch's score is the mean of its slices' probabilities ({@link meanOverSlices}),
 * (N, k).
 *
 * @param x float32 (N, X, Y, Z, C) NDHWC patches.
 * @param batchSize slices per forward pass.
 * @param engine runs the slices instead of the model's tfjs `forward` (see {@link predictArrays}).
 * @throws TrainError when the model is not 2-D or `x` is not rank 5.
 */
export async function predictSlicewise(
  model: GenesisUNet,
  x: Float32Array,
  xShape: readonly number[],
  batchSize: number,
  engine?: Pick<TestEngine, "forward">,
): Promise<Float32Array> {
  if (model.architecture.spatialDims !== 2 || xShape.length !== 5) {
    throw new TrainError(
      `predictSlicewise: needs a 2-D model and patches (N, X, Y, Z, C); got a ${model.architecture.spatialDims}-D model and x [${xShape}]`,
    );
  }
  const [n, X, Y, Z, C] = xShape;
  const shape: [number, number, number] = [X, Y, Z];
  const out = await predictArrays(model, sliceAxial(x, n, shape, C), [n * Z, X, Y, C], batchSize, engine);
  const head = model.architecture.head;
  if (head.kind === "classification") return meanOverSlices(out, n, Z, head.nClasses);
  return stackSlices(out, n, shape, head.nClasses);
}

function checkSplit(name: string, s: SplitArrays, task: FinetuneOptions["task"]): void {
  const nx = s.xShape.reduce((a, b) => a * b, 1);
  const ny = s.yShape.reduce((a, b) => a * b, 1);
  if (s.x.length !== nx || s.y.length !== ny || s.xShape[0] !== s.yShape[0]) {
    throw new TrainError(
      `fine-tuning: ${name} arrays do not match their shapes (x [${s.xShape}] ${s.x.length} values, y [${s.yShape}] ${s.y.length} values)`,
    );
  }
  if (s.xShape[0] === 0) throw new TrainError(`fine-tuning: the ${name} split is empty`);
  if (task === "segmentation" && s.yShape.length !== s.xShape.length) {
    throw new TrainError(
      `fine-tuning: segmentation needs ${name} masks shaped like the images, got y [${s.yShape}]`,
    );
  }
}

/** Build the network for `init` with the task's head (1 output, sigmoid — the reference's binary tasks). */
async function initialModel(
  o: FinetuneOptions,
  nClasses: number,
  activation: HeadActivation,
): Promise<GenesisUNet> {
  const head = { kind: o.task, nClasses, activation } as const;
  const seed = o.seed ?? 0;
  const patch = o.data.train.xShape.slice(1, 4);
  switch (o.init.kind) {
    case "scratch":
      return createModel(o.init.modelId ?? "genesis-unet3d", { width: o.init.width ?? 32, seed, head });
    case "official": {
      const id = o.init.weights.toLowerCase().endsWith(".h5") ? "genesis-unet3d-keras" : "genesis-unet3d";
      warnPatchShapeOnce(
        OFFICIAL_PRETRAINING_SHAPE,
        patch,
        3,
        "the official Genesis Chest CT weights",
        o.log,
      );
      return (await loadPretrained(id, { weights: o.init.weights, head: o.task, nClasses, activation, seed }))
        .model;
    }
    case "model": {
      const { model: pre, metadata } = await loadModel(o.init.dir);
      const a = pre.architecture;
      warnPatchShapeOnce(pretrainingShapeOf(metadata), patch, a.spatialDims, o.init.dir, o.log);
      if (a.head.kind === o.task && a.head.nClasses === nClasses && a.head.activation === activation)
        return pre;
      // transfer: the encoder (classification) or encoder + decoder (segmentation) by name, a fresh head
      const model = createModel(
        { ...a, head: { ...head, ...(o.task === "classification" ? { hiddenUnits: 1024 } : {}) } },
        { seed },
      );
      const weights = await pre.getWeights();
      pre.dispose();
      const own = new Set(model.weights.keys());
      const shared = new Map(
        [...weights].filter(([k, v]) => {
          const mine = model.weights.get(k);
          return mine !== undefined && tf.util.arraysEqual(mine.shape, v.shape);
        }),
      );
      model.setWeights(shared, {
        source: o.init.dir,
        allowMissing: (k) => !shared.has(k),
        allowUnexpected: (k) => !own.has(k),
      });
      o.log?.(`fine-tuning: ${shared.size} of ${own.size} weights transferred from ${o.init.dir}`);
      return model;
    }
  }
}

/**
 * Predict `x` (N, …spatial, C) channels-last in batches of `batchSize` (evaluation mode:
 * `forward({training: false})`, the model's own BatchNorm mode); returns the outputs concatenated
 * in sample order. With `engine`, each batch runs through `engine.forward` instead (same batches,
 * so batch-statistics BatchNorm sees the same samples).
 */
export async function predictArrays(
  model: GenesisUNet,
  x: Float32Array,
  xShape: readonly number[],
  batchSize: number,
  engine?: Pick<TestEngine, "forward">,
): Promise<Float32Array> {
  const n = xShape[0];
  const per = x.length / n;
  const parts: Float32Array[] = [];
  for (let i = 0; i < n; i += batchSize) {
    const m = Math.min(batchSize, n - i);
    if (engine) {
      parts.push(await engine.forward(x.subarray(i * per, (i + m) * per), [m, ...xShape.slice(1)]));
      continue;
    }
    const out = tf.tidy(() =>
      model.forward(tf.tensor(x.subarray(i * per, (i + m) * per), [m, ...xShape.slice(1)], "float32"), {
        training: false,
      }),
    );
    parts.push((await out.data()) as Float32Array);
    out.dispose();
  }
  const total = parts.reduce((a, p) => a + p.length, 0);
  const res = new Float32Array(total);
  let o = 0;
  for (const p of parts) {
    res.set(p, o);
    o += p.length;
  }
  return res;
}

/**
 * Test-set metrics of predictions: segmentation → dataset-level Dice and IoU at 0.5 and the paper's
 * IoU; classification → ROC AUC of the first column (NaN for one-class test labels: then
 * `aucUndefined` says why and `warn` gets one line).
 */
export function evaluatePredictions(
  task: FinetuneOptions["task"],
  pred: Float32Array,
  target: Float32Array,
  targetShape: readonly number[],
  warn?: (message: string) => void,
): FinetuneMetrics {
  if (task === "segmentation") {
    const dice = new BinarySegmentationAccumulator({ emptyPolicy: REFERENCE_DICE_EMPTY_POLICY });
    const iou = new BinarySegmentationAccumulator({ emptyPolicy: "nan" });
    const paper = new KerasMeanIoUAccumulator();
    dice.update(pred, target);
    iou.update(pred, target);
    paper.update(pred, target);
    return { dice: dice.compute().dice, iou: iou.compute().iou, paperIoU: paper.compute() };
  }
  const cols = targetShape.length > 1 ? targetShape[targetShape.length - 1] : 1;
  const n = target.length / cols;
  const s = new Float32Array(n);
  const l = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s[i] = pred[i * cols];
    l[i] = target[i * cols];
  }
  const auc = new RocAucAccumulator({ singleClass: "nan" });
  auc.update(s, l);
  const r = auc.summary();
  if (r.undefinedReason) {
    warn?.(`test AUC is NaN: the test labels hold ${r.undefinedReason}; ROC AUC is undefined`);
    return { auc: r.auc, aucUndefined: r.undefinedReason };
  }
  return { auc: r.auc };
}

/**
 * The record saved with the fine-tuned model: `o.preprocessing` (default the reference CT record)
 * with `patchSize` = the training patches' (x, y, z).
 * @throws TrainError for an invalid record or one whose patch size differs from the data's.
 */
function recordOfRun(o: FinetuneOptions): PreprocessingRecord {
  const s = o.data.train.xShape;
  const patch: [number, number, number] = [s[1], s[2], s.length === 5 ? s[3] : 1];
  let r: PreprocessingRecord;
  try {
    r = validateRecord(o.preprocessing ?? copyRecord(REFERENCE_CT_RECORD), "fine-tuning options");
  } catch (e) {
    throw new TrainError((e as Error).message);
  }
  if (o.preprocessing?.patchSize.some((v, i) => v !== patch[i]))
    throw new TrainError(
      `fine-tuning options: preprocessing.patchSize ${o.preprocessing.patchSize.join("×")} differs from the training patches ${patch.join("×")}`,
    );
  return { ...r, patchSize: patch };
}

/**
 * Fine-tune a Genesis network on a target task and evaluate it on the held-out test split
 * (reference `keras/downstream_tasks/`): Adam, 1 − soft Dice (segmentation) or BCE
 * (classification), ReduceLROnPlateau(0.5, 6), early stopping on validation loss; the weights of
 * the best validation epoch are tested and saved to `modelDir`.
 *
 * Slice-wise 2-D (the paper's 2-D approaches, MedIA 2021 §4): when the initial network is 2-D
 * (`genesis-unet2d`) and the data are 3-D patches (N, X, Y, Z, 1), training and validation run on
 * the patches' axial slices ({@link sliceSplit}: image slice → mask slice, or slice → its patch's
 * label; `batchSize` counts slices; the validation loss is the slices'), and the test patches are
 * predicted slice by slice ({@link predictSlicewise}): segmentation slices are stacked back into
 * 3-D patches so Dice, IoU and the paper's IoU are computed on the 3-D patches exactly as for a 3-D
 * network; a classification patch scores the mean of its slices' probabilities. The saved model
 * records the 3-D `preprocessing.patchSize` (X, Y, Z) and `finetuning.slicewise: true`.
 *
 * Patches of another shape than the pretraining cubes (recorded by `runPretraining`, or 64×64×32 for
 * the official weights) are trained on with one warning naming both shapes (`warnPatchShapeOnce`).
 *
 * @throws TrainError for arrays that do not match their shapes, an empty split, a 3-D network
 *   given 2-D data, or an output or checkpoint folder that is not writable (checked before training).
 */
export async function runFinetuning(o: FinetuneOptions): Promise<FinetuneSummary> {
  for (const k of ["train", "val", "test"] as const) checkSplit(k, o.data[k], o.task);
  const preprocessing = recordOfRun(o);
  const batchSize = o.batchSize ?? 16;
  const nClasses =
    o.task === "segmentation" ? o.data.train.yShape[o.data.train.yShape.length - 1] : o.data.train.yShape[1];
  const model = await initialModel(o, nClasses, "sigmoid");
  const nd = model.architecture.spatialDims;
  const dataDims = o.data.train.xShape.length - 2;
  if (nd !== 2 && dataDims !== nd) {
    model.dispose();
    throw new TrainError(
      `fine-tuning: a ${nd}-D network needs ${nd}-D samples, got x [${o.data.train.xShape}]`,
    );
  }
  const slicewise = nd === 2 && dataDims === 3;
  const unit = o.task === "segmentation" ? "patches" : "samples";
  o.log?.(
    `fine-tuning (${o.task}): ${o.data.train.xShape[0]} training / ${o.data.val.xShape[0]} validation / ${o.data.test.xShape[0]} test ${unit} of ${o.data.train.xShape.slice(1, -1).join("×")}`,
  );
  const trainData = slicewise ? sliceSplit(o.data.train, o.task) : o.data.train;
  const valData = slicewise ? sliceSplit(o.data.val, o.task) : o.data.val;
  if (slicewise)
    o.log?.(
      `fine-tuning: 2-D network, slice-wise: ${trainData.xShape[0]} training / ${valData.xShape[0]} validation axial slices of ${trainData.xShape.slice(1, 3).join("×")}`,
    );
  const ckptDir = o.checkpointDir ?? `${o.modelDir}.ckpt`;
  try {
    assertWritableDir(dirname(resolve(o.modelDir)), "fine-tuning output folder");
    assertWritableDir(ckptDir, "fine-tuning checkpoint folder");
  } catch (e) {
    model.dispose();
    throw e;
  }
  let recipe: ReturnType<typeof finetuneRecipe> | undefined;
  try {
    recipe = finetuneRecipe({
      task: o.task,
      lr: o.lr,
      patience: o.patience,
      plateauPatience: o.plateauPatience,
      warn: o.log,
    });
    const augment = o.augment ?? defaultAugment(o.task);
    const transform = augmentSamples(augment, o.task, trainData.xShape.slice(1), trainData.yShape.slice(1));
    if (transform && augment !== false) {
      o.log?.(
        `fine-tuning: augmenting training samples with ${augment.map((a) => (typeof a === "string" ? a : a.transform)).join(", ")}`,
      );
    }
    const src = (s: SplitArrays, train: boolean) =>
      arrayBatchSource({
        x: s.x,
        y: s.y,
        sampleShapeX: s.xShape.slice(1),
        sampleShapeY: s.yShape.slice(1),
        batchSize: Math.min(batchSize, s.xShape[0]),
        shuffle: train,
        dropLast: train,
        ...(train && transform ? { transform } : {}),
      });
    const t0 = performance.now();
    const trainer = new Trainer({
      model,
      optimizer: recipe.optimizer,
      loss: recipe.loss,
      train: src(trainData, true),
      validation: src(valData, false),
      metrics: recipe.metrics,
      epochs: o.epochs ?? 10000,
      seed: o.seed ?? 0,
      stepsPerEpoch: o.stepsPerEpoch,
      callbacks: [
        ...recipe.callbacks,
        new ProgressLogger({ plain: o.plainProgress }),
        ...(o.callbacks ?? []),
      ],
      checkpointDir: ckptDir,
      log: o.log,
      threads: o.threads,
    });
    const result = await trainer.run();
    const best = result.checkpoints?.best;
    if (best) loadModelWeights(model, await readCheckpoint(best), best);
    const engine = o.testEngine
      ? await o.testEngine(model, { bnMode: model.architecture.bnMode, preprocessing })
      : undefined;
    const testEngine = engine?.description ?? `tfjs ${tf.getBackend()}`;
    o.log?.(`fine-tuning: test set evaluated on ${testEngine}`);
    let pred: Float32Array;
    try {
      pred = slicewise
        ? await predictSlicewise(model, o.data.test.x, o.data.test.xShape, batchSize, engine)
        : await predictArrays(model, o.data.test.x, o.data.test.xShape, batchSize, engine);
    } finally {
      await engine?.dispose?.();
    }
    const test = evaluatePredictions(o.task, pred, o.data.test.y, o.data.test.yShape, o.log);
    await saveModel(o.modelDir, model, {
      preprocessing,
      extra: {
        finetuning: {
          task: o.task,
          init: o.init,
          test,
          epochs: result.epochsCompleted,
          ...(slicewise ? { slicewise: true } : {}),
          testEngine,
          ...o.extra,
        },
      },
    });
    if (!o.keepCheckpoints) await rm(ckptDir, { recursive: true, force: true });
    return {
      test,
      result,
      seconds: (performance.now() - t0) / 1000,
      modelDir: o.modelDir,
      slicewise,
      testEngine,
    };
  } finally {
    recipe?.optimizer.dispose();
    model.dispose();
  }
}
