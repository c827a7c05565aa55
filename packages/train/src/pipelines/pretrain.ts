/**
 * Genesis restoration pretraining: the run ({@link runPretraining}). Each other job lives in its own
 * module under `./pretrain/` and is re-exported here: cube collection (`cubes.ts`), the
 * patient-level split (`split.ts`), the fixed validation pairs and their 2-D slices
 * (`validation.ts`), the training batch sources (`batches.ts`), the sample-sheet layout
 * (`sheet.ts`), the verdict (`verdict.ts`) and the run plan (`plan.ts`).
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  copyRecord,
  createModel,
  type GenesisUNet,
  getModelInfo,
  REFERENCE_CT_RECORD,
  saveModel,
} from "@models-genesis/models";
import { type GenesisConfig, type Shape3, writeSliceSheet } from "@models-genesis/transforms";
import * as tf from "@tensorflow/tfjs-core";
import { writeFileAtomic } from "../atomic.js";
import type { Callback, EpochLog, TrainResult } from "../callback.js";
import { JsonlLogger, LossCurvePlot, ProgressLogger, SampleSheetCallback } from "../callbacks.js";
import { loadModelWeights, readCheckpoint } from "../checkpoint.js";
import { arrayBatchSource } from "../data.js";
import { TrainError } from "../errors.js";
import { Adam } from "../optimizers.js";
import { assertWritableDir } from "../outputs.js";
import { pretrainRecipe, REFERENCE_PRETRAIN } from "../tasks.js";
import { Trainer } from "../trainer.js";
import { genesisCubeSource, genesisSliceSource } from "./pretrain/batches.js";
import type { CubeSet } from "./pretrain/cubes.js";
import { assertNoPretrainRun, clearPretrainRun } from "./pretrain/earlier-run.js";
import {
  assertResumeMatchesPlan,
  makePretrainPlan,
  PRETRAIN_PLAN_FILE,
  type PretrainPlanSource,
  type PretrainTrainingPlan,
  readPretrainPlan,
  writePretrainPlan,
} from "./pretrain/plan.js";
import { SAMPLE_SHEET_COLUMNS, sheetRows } from "./pretrain/sheet.js";
import { VALIDATION_SEED_OFFSET, validationPairs, validationSlicePairs } from "./pretrain/validation.js";
import { outputSpreadMetric, type PretrainVerdict, pretrainVerdict } from "./pretrain/verdict.js";

export {
  type GenesisCubeSourceOptions,
  type GenesisSliceSourceOptions,
  genesisCubeSource,
  genesisSliceSource,
} from "./pretrain/batches.js";
export { type CollectCubesOptions, type CubeSet, collectCubes } from "./pretrain/cubes.js";
export {
  assertNoPretrainRun,
  clearPretrainRun,
  type EarlierPretrainRun,
  findPretrainRun,
  PRETRAIN_RUN_FILES,
} from "./pretrain/earlier-run.js";
export {
  assertResumeMatchesPlan,
  makePretrainPlan,
  PRETRAIN_PLAN_FILE,
  PRETRAIN_PLAN_VERSION,
  type PretrainPlan,
  type PretrainPlanSource,
  type PretrainTrainingPlan,
  planDifferences,
  readPretrainPlan,
  writePretrainPlan,
} from "./pretrain/plan.js";
export { SAMPLE_SHEET_COLUMNS } from "./pretrain/sheet.js";
export { splitCubesByIndices, splitCubesBySource } from "./pretrain/split.js";
export { VALIDATION_SEED_OFFSET, validationPairs, validationSlicePairs } from "./pretrain/validation.js";
export {
  COLLAPSE_STD_RATIO,
  FAILED_PRETRAIN_VERDICTS,
  outputSpreadMetric,
  type PretrainVerdict,
  pretrainVerdict,
} from "./pretrain/verdict.js";

/** Options of {@link runPretraining}; each optimisation default is the reference's ({@link REFERENCE_PRETRAIN}). */
export interface PretrainOptions {
  train: CubeSet;
  val: CubeSet;
  /** Output folder: `plan.json`, `model/`, `checkpoints/`, `log.jsonl`, `samples/`, `loss.svg`, `pretrain.json`. */
  out: string;
  /**
   * Zoo id of the architecture; default `genesis-unet3d` (PyTorch variant). A 2-D model
   * (`genesis-unet2d`) is pretrained on axial slices of the Genesis pairs: see {@link runPretraining}.
   */
  modelId?: string;
  /**
   * 2-D models only: axial slices drawn (without replacement) from each cube's Genesis pair per
   * epoch; default all `deps` slices (an epoch then covers the same voxels as a 3-D epoch).
   */
  slicesPerCube?: number;
  /** Base width; reference 32. */
  width?: number;
  batchSize?: number;
  /** Maximum epochs (reference 10000, ended by early stopping). */
  epochs?: number;
  /**
   * `sgd` (the reference: SGD with momentum, lr 1) or `adam` (Adam, lr default 1e-3): Adam gets a small
   * network to the baselines in far fewer steps, which the short CPU demo needs.
   */
  optimizer?: "sgd" | "adam";
  lr?: number;
  momentum?: number;
  schedule?: "step" | "plateau" | "none";
  stepSize?: number;
  gamma?: number;
  patience?: number;
  /** Cap on steps per epoch (default: len(train) // batch, as the reference). */
  stepsPerEpoch?: number;
  /** Genesis transform rates and switches (ablations); default the reference's. */
  genesis?: Partial<GenesisConfig>;
  /** Seed of the weights, the data order and the transforms. */
  seed?: number;
  /**
   * Threads for data-parallel training steps (the batch is split across model replicas on worker
   * threads, see `ReplicaPool`); default `GENESIS_THREADS` or 1. `resolveThreads("auto")` picks one per core.
   */
  threads?: number;
  /**
   * Continue from `out/checkpoints/last.ckpt`. When `out/plan.json` exists, the run must match it
   * (same training options, cubes and split; threads and backend may differ, and `epochs`, which then
   * updates the plan): see {@link runPretraining}.
   */
  resume?: boolean;
  /**
   * Without `resume`, an `out` that holds an earlier run (`plan.json` or `checkpoints/*.ckpt`) is
   * refused ({@link assertNoPretrainRun}); with `overwrite` that run's files are removed first
   * ({@link clearPretrainRun}: plan, checkpoints including `last.prev.ckpt`, log, model, samples,
   * loss curve, summary). Ignored under `resume`.
   */
  overwrite?: boolean;
  /**
   * Where the cubes came from (inputs, backend, the caller's options, the split), recorded in
   * `out/plan.json`. Without it the plan records the cubes' sources as inputs, the current tfjs
   * backend, no caller options, and the split as given (validation cubes after the training ones).
   */
  plan?: PretrainPlanSource;
  handleSigint?: boolean;
  /** Write a sample sheet every this many epochs (0 = never). Default 1. */
  sampleEvery?: number;
  /** Plain progress lines instead of a bar. */
  plainProgress?: boolean;
  /** Extra callbacks (run after the built-in ones). */
  callbacks?: Callback[];
  log?: (line: string) => void;
}

/** What {@link runPretraining} writes to `pretrain.json` and returns. */
export interface PretrainSummary {
  /** MSE between the corrupted validation inputs and their originals: the do-nothing baseline. */
  identity_mse: number;
  /**
   * MSE of predicting each validation sample's own mean (a cube's for 3-D models, an axial slice's
   * for 2-D ones): the collapse-to-constant baseline.
   */
  constant_mse: number;
  /** 3 (cubes) or 2 (axial slices of the Genesis pairs). */
  spatial_dims: 2 | 3;
  /** 2-D models: training slices per epoch (before the steps cap) and validation slices. */
  slices?: { train_per_epoch: number; val: number; per_cube: number };
  /** Validation MSE per epoch. */
  val_mse: number[];
  train_mse: number[];
  cubes: { train: number; val: number; shape: Shape3 };
  /** The epoch of `best_val_mse`, counted from 1 as on the console (0 when no epoch finished). */
  best_epoch: number;
  best_val_mse: number;
  stop_reason: TrainResult["stopReason"];
  epochs: number;
  seconds: number;
  model_dir: string;
  width: number;
  model_id: string;
  /** The tfjs backend the run trained on (as in `plan.json`). */
  backend: string;
  /**
   * Output spread of the best epoch on the validation pairs: √(Σ per-sample variance of the
   * network's output / Σ per-sample variance of the originals). Near 0 = the output collapsed to a
   * constant per sample; ~1 = as much structure as the originals. Null without a finished epoch.
   */
  output_std_ratio: number | null;
  /** Did the pretraining work? See {@link pretrainVerdict}. */
  verdict: PretrainVerdict;
  /** One line saying why (`verdict` with the numbers it rests on). */
  verdict_reason: string;
}

/**
 * Self-supervised restoration pretraining of a Genesis U-Net (Zhou et al. 2021, §2; reference
 * `pytorch/Genesis_Chest_CT.py`): every training cube becomes a fresh Genesis pair each epoch
 * (`genesisPair`), the network restores the original under MSE with SGD (lr 1, momentum 0.9),
 * StepLR(40, 0.5) and early stopping (patience 50) — all overridable. Validation uses a fixed set of
 * pairs so epochs compare; the identity and constant baselines are computed on the same pairs.
 *
 * Genesis 2D (`modelId` a 2-D zoo model, `genesis-unet2d`): the training samples are axial slices
 * (rows × cols; NHWC with H = rows, W = cols) of the 3-D Genesis pairs — each cube is transformed in
 * 3-D once per epoch and `slicesPerCube` of its depth slices are drawn ({@link genesisSliceSource});
 * `batchSize` counts slices. Validation: all slices of the fixed validation pairs, with both
 * baselines on those slices ({@link validationSlicePairs}). Sample sheets show one slice per row.
 * The reference trained its 2-D Genesis on 2-D slices with the same transforms (MedIA 2021 §4);
 * slicing the 3-D pair keeps one implementation of the transforms.
 *
 * Writes into `out`: `checkpoints/{last,best}.ckpt` (resumable), `log.jsonl`, `samples/epoch_NNNN.png`
 * (transformed | restored | original, slices at 2/6…5/6 of depth; headed columns, upscaled to panels
 * of at least 128 px), `loss.svg` (with both
 * baselines), the best model as `model/` (loadable by `loadModel`, `genesis predict`, fine-tuning)
 * and `pretrain.json` ({@link PretrainSummary}). Before the first step it writes `plan.json`
 * ({@link PretrainPlan}: every resolved option, the seed, the cubes per source and the split,
 * the backend), atomically; with `resume` and an existing plan it keeps that plan and refuses a run
 * that differs from it ({@link assertResumeMatchesPlan}).
 *
 * @throws TrainError when either cube set is empty or smaller than one batch, `slicesPerCube` is
 *   out of range, or `out` is not a writable folder (checked before training, one line naming it);
 *   under `resume`, when the run differs from `out/plan.json`; without `resume` or `overwrite`, when
 *   `out` holds an earlier run ({@link assertNoPretrainRun}).
 */
export async function runPretraining(o: PretrainOptions): Promise<PretrainSummary> {
  const R = REFERENCE_PRETRAIN;
  const shape = o.train.shape;
  const batchSize = o.batchSize ?? R.batchSize;
  const seed = o.seed ?? 0;
  const modelId = o.modelId ?? "genesis-unet3d";
  const width = o.width ?? 32;
  const dims = getModelInfo(modelId).config.spatialDims;
  const per = dims === 3 ? shape[0] * shape[1] * shape[2] : shape[0] * shape[1];
  if (o.val.count === 0) throw new TrainError("pretraining: the validation set has no cube");
  if (dims === 3 && o.train.count < batchSize) {
    throw new TrainError(`pretraining: ${o.train.count} training cubes make no batch of ${batchSize}`);
  }
  assertWritableDir(o.out, "pretraining output folder");
  const log = o.log ?? (() => {});
  if (!o.resume) {
    if (!o.overwrite) assertNoPretrainRun(o.out);
    else {
      const removed = await clearPretrainRun(o.out);
      if (removed.length > 0)
        log(`--overwrite: removed the earlier run's ${removed.join(", ")} from ${o.out}`);
    }
  }
  const genesis = o.genesis ?? {};
  const slicesPerCube = o.slicesPerCube ?? shape[2];
  const train =
    dims === 3
      ? genesisCubeSource({ cubes: o.train, batchSize, genesis })
      : genesisSliceSource({ cubes: o.train, batchSize, slicesPerCube, genesis });
  const lr = o.lr ?? (o.optimizer === "adam" ? 1e-3 : R.lr);
  const training: PretrainTrainingPlan = {
    model_id: modelId,
    width,
    batch_size: batchSize,
    epochs: o.epochs ?? R.epochs,
    steps_per_epoch: o.stepsPerEpoch ?? null,
    optimizer: o.optimizer ?? "sgd",
    lr,
    momentum: o.momentum ?? R.momentum,
    schedule: o.schedule ?? "step",
    step_size: o.stepSize ?? R.stepSize,
    gamma: o.gamma ?? R.gamma,
    patience: o.patience ?? R.patience,
    slices_per_cube: dims === 2 ? slicesPerCube : null,
    genesis,
    seed,
    threads: o.threads ?? null,
    sample_every: o.sampleEvery ?? 1,
  };
  const backend = tf.getBackend();
  const source: PretrainPlanSource = o.plan ?? {
    inputs: [...new Set([...o.train.sources, ...o.val.sources])],
    backend,
    options: {},
    split: {
      valFraction: o.val.count / (o.train.count + o.val.count),
      seed,
      valIndices: Array.from({ length: o.val.count }, (_, i) => o.train.count + i),
    },
  };
  const plan = makePretrainPlan(source, o.train, o.val, training);
  const planned = o.resume ? readPretrainPlan(o.out) : null;
  if (planned) {
    assertResumeMatchesPlan(o.out, planned, plan);
    if (planned.training.epochs !== plan.training.epochs) {
      // the one option a resumed run may change: the maximum number of epochs; the plan follows it
      await writePretrainPlan(o.out, {
        ...planned,
        options: plan.options,
        training: { ...planned.training, epochs: plan.training.epochs },
      });
      log(
        `resuming with at most ${plan.training.epochs} epochs (the plan said ${planned.training.epochs}; ${join(o.out, PRETRAIN_PLAN_FILE)} updated)`,
      );
    }
    if (planned.backend !== plan.backend || planned.training.threads !== plan.training.threads)
      log(
        `resuming on backend ${plan.backend} with ${plan.training.threads ?? "default"} threads (the plan: ${planned.backend}, ${planned.training.threads ?? "default"})`,
      );
  } else {
    await writePretrainPlan(o.out, plan);
    log(`plan: ${join(o.out, PRETRAIN_PLAN_FILE)}`);
  }
  await mkdir(join(o.out, "samples"), { recursive: true });
  const valPairs =
    dims === 3
      ? { ...validationPairs(o.val, seed + VALIDATION_SEED_OFFSET, genesis), count: o.val.count }
      : validationSlicePairs(o.val, seed + VALIDATION_SEED_OFFSET, genesis);
  const unit = dims === 3 ? "cube" : "slice";
  log(
    `pretraining (${modelId}): ${o.train.count} training / ${o.val.count} validation cubes of ${shape.join("×")}${dims === 2 ? `; 2-D: ${slicesPerCube} axial slices of ${shape[0]}×${shape[1]} per cube and epoch, ${valPairs.count} validation slices` : ""}; baselines (per ${unit}): identity MSE ${valPairs.identityMse.toFixed(5)}, constant MSE ${valPairs.constantMse.toFixed(5)}`,
  );
  const sampleShape = dims === 3 ? [shape[0], shape[1], shape[2], 1] : [shape[0], shape[1], 1];
  const validation = arrayBatchSource({
    x: valPairs.input,
    y: valPairs.target,
    sampleShapeX: sampleShape,
    sampleShapeY: sampleShape,
    batchSize,
    shuffle: false,
    dropLast: false,
  });
  const model: GenesisUNet = createModel(modelId, {
    width,
    seed,
    head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
  });
  const recipe = pretrainRecipe({
    lr,
    momentum: o.momentum,
    schedule: o.schedule,
    stepSize: o.stepSize,
    gamma: o.gamma,
    patience: o.patience,
  });
  const optimizer = o.optimizer === "adam" ? new Adam({ lr }) : recipe.optimizer;
  if (optimizer !== recipe.optimizer) recipe.optimizer.dispose();
  const sampleEvery = o.sampleEvery ?? 1;
  const callbacks: Callback[] = [
    ...recipe.callbacks,
    new JsonlLogger(join(o.out, "log.jsonl")),
    new ProgressLogger({ plain: o.plainProgress }),
    ...(sampleEvery > 0
      ? [
          new SampleSheetCallback(
            (s) =>
              writeSliceSheet(
                join(o.out, "samples", `epoch_${String(s.epoch + 1).padStart(4, "0")}.png`),
                sheetRows(s, per),
                {
                  columns: SAMPLE_SHEET_COLUMNS,
                  ...(dims === 3 ? { shape } : { shape: [shape[0], shape[1], 1], fractions: [0] }),
                },
              ),
            sampleEvery,
          ),
        ]
      : []),
    new LossCurvePlot(join(o.out, "loss.svg"), {
      title: `Genesis restoration pretraining (${modelId}, width ${width})`,
      baselines: [
        { label: "identity (corrupted input)", value: valPairs.identityMse },
        { label: `constant (${unit} mean)`, value: valPairs.constantMse },
      ],
    }),
    ...(o.callbacks ?? []),
  ];
  const t0 = performance.now();
  const trainer = new Trainer({
    model,
    optimizer,
    loss: recipe.loss,
    train,
    validation,
    epochs: o.epochs ?? R.epochs,
    seed,
    stepsPerEpoch: o.stepsPerEpoch,
    callbacks,
    checkpointDir: join(o.out, "checkpoints"),
    resume: o.resume,
    handleSigint: o.handleSigint,
    log,
    threads: o.threads,
    metrics: { std_ratio: outputSpreadMetric() },
  });
  try {
    const result = await trainer.run();
    const seconds = (performance.now() - t0) / 1000;
    const best = result.checkpoints?.best;
    if (best) loadModelWeights(model, await readCheckpoint(best), best);
    const modelDir = join(o.out, "model");
    const history: EpochLog[] = result.history;
    const bestLog = history.find((h) => h.epoch === result.bestEpoch);
    const spread = bestLog?.metrics.std_ratio;
    const outputStdRatio = spread !== undefined && Number.isFinite(spread) ? spread : null;
    const judged = pretrainVerdict({
      best_val_mse: result.bestValLoss,
      identity_mse: valPairs.identityMse,
      constant_mse: valPairs.constantMse,
      output_std_ratio: outputStdRatio,
    });
    if (result.stopReason === "interrupted")
      log(
        `pretraining interrupted after ${result.epochsCompleted} epoch${result.epochsCompleted === 1 ? "" : "s"}: no verdict until the run ends (continue it with --resume)`,
      );
    else if (judged.failed) log(`warning: pretraining failed (${judged.verdict}): ${judged.reason}`);
    const summary: PretrainSummary = {
      identity_mse: valPairs.identityMse,
      constant_mse: valPairs.constantMse,
      spatial_dims: dims,
      ...(dims === 2
        ? {
            slices: {
              train_per_epoch: o.train.count * slicesPerCube,
              val: valPairs.count,
              per_cube: slicesPerCube,
            },
          }
        : {}),
      val_mse: history.map((h) => h.valLoss ?? Number.NaN),
      train_mse: history.map((h) => h.trainLoss),
      cubes: { train: o.train.count, val: o.val.count, shape },
      best_epoch: result.bestEpoch + 1,
      best_val_mse: result.bestValLoss,
      stop_reason: result.stopReason,
      epochs: result.epochsCompleted,
      seconds,
      model_dir: modelDir,
      width,
      model_id: modelId,
      backend,
      output_std_ratio: outputStdRatio,
      verdict: judged.verdict,
      verdict_reason: judged.reason,
    };
    await saveModel(modelDir, model, {
      id: modelId,
      preprocessing: {
        ...copyRecord(REFERENCE_CT_RECORD),
        patchSize: [shape[0], shape[1], shape[2]],
        source: `genesis pretrain cubes: HU [-1000, 1000] -> [0, 1] (infinite_generator_3D.py), ${shape.join("x")} voxels`,
      },
      extra: { pretraining: { ...summary, model_dir: undefined } },
    });
    await writeFileAtomic(join(o.out, "pretrain.json"), [`${JSON.stringify(summary, null, 2)}\n`]);
    return summary;
  } finally {
    optimizer.dispose();
    model.dispose();
  }
}
