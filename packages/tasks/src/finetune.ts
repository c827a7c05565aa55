import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { defaultMetadata, loadModel } from "@models-genesis/models";
import { chooseEngine, type EngineChoice, openModelEngine } from "@models-genesis/onnx";
import {
  type FinetuneInit,
  type FinetuneMetrics,
  type FinetuneOptions,
  resolveThreads,
  runFinetuning,
  type TestEngineFactory,
  TrainError,
} from "@models-genesis/train";
import type { FinetuneRequest, FinetuneResult } from "./app.js";

/** Budget of {@link finetuneTask}: the reference's (early stopping decides) or a quick one. */
export interface TaskBudget {
  /** Maximum epochs; default 10000 (early stopping ends the run), quick 2. */
  epochs?: number;
  /** Steps per epoch cap; default none, quick 4. */
  stepsPerEpoch?: number;
  /** Width of a from-scratch model when no pretrained model fixes it; default 32, quick 4. */
  scratchWidth?: number;
  /** Batch size override (quick runs use at most 2). */
  batchSize?: number;
}

/** Width and spatial dimensions of a saved model directory, or undefined for official weight files. */
async function describeDir(
  weights: string | undefined,
): Promise<{ width: number; spatialDims: number; id?: string } | undefined> {
  if (!weights || !existsSync(weights) || !statSync(weights).isDirectory()) return undefined;
  const { model, metadata } = await loadModel(weights);
  const spatialDims = model.architecture.spatialDims;
  model.dispose();
  return { width: metadata.width, spatialDims, id: metadata.id };
}

/** `dir` as a pretrained model directory of `dims` spatial dimensions. @throws TrainError naming the flag and the problem. */
async function pretrainedDir(
  dir: string | undefined,
  dims: 2 | 3,
  init: string,
  flag: string,
): Promise<string> {
  const cmd = dims === 2 ? "genesis pretrain --model genesis-unet2d" : "genesis pretrain";
  if (!dir || !existsSync(join(dir, "model.json"))) {
    throw new TrainError(
      `--init ${init} needs ${flag} <model directory> written by ${cmd} (no model.json in ${dir ?? "(none)"})`,
    );
  }
  const d = await describeDir(dir);
  if (d && d.spatialDims !== dims) {
    throw new TrainError(
      `--init ${init}: ${dir} holds a ${d.spatialDims}-D model (${d.id ?? "no zoo id"}); ${init} needs a ${dims}-D model written by ${cmd}`,
    );
  }
  return dir;
}

/**
 * Fine-tune and test one model for a target task with the task's reference recipe (optimiser Adam,
 * lr, batch, early-stopping patience, ReduceLROnPlateau — `keras/downstream_tasks/config.py`):
 * `scratch` = random init (the width of `weights`' model when a model directory is given, so the
 * comparison is like for like), `genesis` = our pretrained model directory (`genesis pretrain`'s
 * `OUT/model`), `official` = `Genesis_Chest_CT.pt` / `.h5`.
 *
 * 2-D (the paper's slice-wise 2-D approaches; no official 2-D weights exist): `scratch-2d` = a
 * random `genesis-unet2d` (the width of `weights2d`'s model when given), `genesis-2d` = our 2-D
 * Genesis model directory in `weights2d` (`genesis pretrain --model genesis-unet2d`'s `OUT/model`).
 * Both train on the patches' axial slices; segmentation patches are predicted slice by slice and
 * stacked back, so the 3-D metrics are computed exactly as for 3-D; a classification patch scores
 * the mean of its slices' probabilities (see `runFinetuning`). The batch size counts slices.
 *
 * Test engine: the test set is predicted on the engine `genesis predict` runs — `req.engine`
 * (`--engine onnx|tfjs`), by default ONNX Runtime when onnxruntime-node loads, else tfjs
 * ({@link chooseEngine}); the onnx engine runs the fine-tuned model exported in memory with its
 * metadata ({@link testEngineFactory}). The BatchNorm mode is the tfjs evaluation's (the model's own).
 *
 * Preprocessing: the model is saved with `req.preprocessing`, the record the task's preparation
 * returned (window, modality, resize/crop, patch size; never guessed from the window), as
 * `FinetuneOptions.preprocessing`, so whole-volume prediction applies it.
 *
 * @returns `value`: the paper's metric on the test split (AUC, or the paper's IoU = Keras mean IoU);
 *   `metrics`: the others (Dice, foreground IoU).
 * @throws TrainError when `genesis` / `genesis-2d` is asked for without a model directory of the
 *   right dimensionality in `weights` / `weights2d`.
 */
export async function finetuneTask(req: FinetuneRequest, budget: TaskBudget = {}): Promise<FinetuneResult> {
  const quick = req.quick;
  const choice = req.engine ?? (await chooseEngine(undefined));
  let init: FinetuneInit;
  if (req.init === "genesis") {
    init = { kind: "model", dir: await pretrainedDir(req.weights, 3, "genesis", "--weights") };
  } else if (req.init === "genesis-2d") {
    init = { kind: "model", dir: await pretrainedDir(req.weights2d, 2, "genesis-2d", "--weights-2d") };
  } else if (req.init === "official") {
    if (!req.weights) throw new TrainError("--init official needs --weights Genesis_Chest_CT.pt or .h5");
    init = { kind: "official", weights: req.weights };
  } else if (req.init === "scratch-2d") {
    const w = (await describeDir(req.weights2d))?.width ?? budget.scratchWidth ?? (quick ? 4 : 32);
    init = { kind: "scratch", modelId: "genesis-unet2d", width: w };
  } else {
    const w = (await describeDir(req.weights))?.width ?? budget.scratchWidth ?? (quick ? 4 : 32);
    init = { kind: "scratch", width: w };
  }
  const threads = resolveThreads(req.threads ?? "auto");
  req.log(`training threads: ${threads}`);
  const p = req.preprocessing;
  const options: FinetuneOptions = {
    threads,
    task: req.config.kind,
    data: req.data,
    init,
    lr: req.config.lr,
    batchSize: budget.batchSize ?? (quick ? Math.min(2, req.config.batchSize) : req.config.batchSize),
    epochs: budget.epochs ?? (quick ? 2 : 10000),
    stepsPerEpoch: budget.stepsPerEpoch ?? (quick ? 4 : undefined),
    patience: req.config.patience,
    plateauPatience: req.config.reduceLrOnPlateau.patience,
    seed: req.seed,
    modelDir: req.modelDir,
    preprocessing: p, // what preparation recorded (never guessed from the window's sign)
    extra: { task: req.task, init: req.init },
    testEngine: testEngineFactory(choice, req.modelDir),
    plainProgress: true,
    log: req.log,
  };
  const summary = await runFinetuning(options);
  const t: FinetuneMetrics = summary.test;
  const testEngine = `${summary.testEngine} (${choice.note})`;
  if (req.config.metric === "auc") return { value: t.auc ?? Number.NaN, metrics: {}, testEngine };
  return {
    value: t.paperIoU ?? Number.NaN,
    metrics: { dice: t.dice ?? Number.NaN, iou: t.iou ?? Number.NaN },
    testEngine,
  };
}

/**
 * The test-set engine of {@link finetuneTask} for `runFinetuning`'s `testEngine`: `tfjs` →
 * the model's tfjs `forward`; `onnx` → the fine-tuned model exported in memory
 * (`defaultMetadata` with the run's preprocessing record, the given BatchNorm mode) on an
 * ONNX Runtime cpu session (`openModelEngine`, the engine `genesis predict` opens for a model
 * directory). `source` names the model in ONNX Runtime's errors.
 */
export function testEngineFactory(choice: Pick<EngineChoice, "engine">, source: string): TestEngineFactory {
  return (model, { bnMode, preprocessing }) =>
    openModelEngine(model, defaultMetadata(model, { preprocessing, inferenceBnMode: bnMode }), choice, {
      bnMode,
      source,
    });
}
