import {
  BinarySegmentationAccumulator,
  type EmptyPolicy,
  KerasMeanIoUAccumulator,
  REFERENCE_DICE_EMPTY_POLICY,
  RocAucAccumulator,
} from "@models-genesis/metrics";
import type { Callback } from "./callback.js";
import { bceLoss, type LossFn, mseLoss, softDiceLoss } from "./losses.js";
import { Adam, type Optimizer, SGD } from "./optimizers.js";
import { EarlyStopping, ReduceLROnPlateau, StepLR } from "./schedules.js";
import type { ValidationMetric } from "./trainer.js";

/**
 * Reference pretraining recipe (`pytorch/config.py`, `pytorch/Genesis_Chest_CT.py`; Keras variant
 * `keras/Genesis_Chest_CT.py`): batch 6, SGD lr 1.0 momentum 0.9, MSE, StepLR(40, 0.5) (PyTorch) or
 * ReduceLROnPlateau(0.5, patience 10, min_delta 1e-4, min_lr 1e-6) (Keras), early stop after 50 epochs
 * without validation improvement, `nb_epoch` 10000.
 */
export const REFERENCE_PRETRAIN = Object.freeze({
  batchSize: 6,
  lr: 1,
  momentum: 0.9,
  stepSize: 40,
  gamma: 0.5,
  patience: 50,
  epochs: 10000,
  plateau: Object.freeze({ factor: 0.5, patience: 10, minDelta: 1e-4, minLr: 1e-6 }),
});

/**
 * ReduceLROnPlateau of the fine-tuning callbacks (`keras/downstream_tasks/utils.py`, `model_setup`):
 * the same for every target task. The per-task recipes (lr, batch, patience) live in
 * `@models-genesis/tasks` (one config per task).
 */
export const FINETUNE_PLATEAU = Object.freeze({ factor: 0.5, patience: 6, minDelta: 1e-4, minLr: 1e-6 });

/**
 * Defaults of {@link finetuneRecipe} when the caller gives none: Adam lr 1e-3 and early-stopping
 * patience 50 for segmentation / 10 for classification (the reference's NCS and NCC values,
 * `keras/downstream_tasks/config.py`).
 */
export const FINETUNE_DEFAULTS = Object.freeze({
  lr: 1e-3,
  patience: Object.freeze({ segmentation: 50, classification: 10 }),
});

/** What a recipe returns: spread it into `new Trainer({...recipe, model, train, validation, epochs})`. */
export interface Recipe {
  optimizer: Optimizer;
  loss: LossFn;
  callbacks: Callback[];
  metrics?: Record<string, ValidationMetric>;
}

/** Options of {@link pretrainRecipe}; each defaults to {@link REFERENCE_PRETRAIN}. */
export interface PretrainRecipeOptions {
  lr?: number;
  momentum?: number;
  /** `"step"` = PyTorch StepLR (default), `"plateau"` = Keras ReduceLROnPlateau, `"none"`. */
  schedule?: "step" | "plateau" | "none";
  stepSize?: number;
  gamma?: number;
  patience?: number;
}

/** Restoration pretraining: SGD + MSE + schedule + early stopping, reference defaults. */
export function pretrainRecipe(o: PretrainRecipeOptions = {}): Recipe {
  const R = REFERENCE_PRETRAIN;
  const callbacks: Callback[] = [];
  const schedule = o.schedule ?? "step";
  if (schedule === "step")
    callbacks.push(new StepLR({ stepSize: o.stepSize ?? R.stepSize, gamma: o.gamma ?? R.gamma }));
  else if (schedule === "plateau") callbacks.push(new ReduceLROnPlateau({ ...R.plateau }));
  callbacks.push(new EarlyStopping({ patience: o.patience ?? R.patience }));
  return {
    optimizer: new SGD({ lr: o.lr ?? R.lr, momentum: o.momentum ?? R.momentum }),
    loss: mseLoss,
    callbacks,
  };
}

/** Options of {@link finetuneRecipe}. */
export interface FinetuneRecipeOptions {
  task: "segmentation" | "classification";
  /** Default 1e-3. */
  lr?: number;
  /** Early-stopping patience; default 50 (NCS) for segmentation, 10 (NCC) for classification. */
  patience?: number;
  /** Override the loss (default soft Dice loss for segmentation, BCE for classification). */
  loss?: LossFn;
  /** ReduceLROnPlateau patience, default 6. */
  plateauPatience?: number;
  /** Where a validation metric says it is undefined (e.g. one-class validation labels for AUC). */
  warn?: (message: string) => void;
}

/**
 * Fine-tuning (`keras/downstream_tasks/utils.py`, `model_setup`): Adam, 1 − soft Dice (segmentation)
 * or BCE (classification), ReduceLROnPlateau(0.5, 6, 1e-4, 1e-6), early stopping, and validation
 * metrics — segmentation: `dice`, `iou` (foreground), `paperIoU` (Keras mean IoU); classification: `auc`.
 */
export function finetuneRecipe(o: FinetuneRecipeOptions): Recipe {
  const seg = o.task === "segmentation";
  return {
    optimizer: new Adam({ lr: o.lr ?? FINETUNE_DEFAULTS.lr }),
    loss: o.loss ?? (seg ? softDiceLoss : bceLoss),
    callbacks: [
      new ReduceLROnPlateau({
        ...FINETUNE_PLATEAU,
        patience: o.plateauPatience ?? FINETUNE_PLATEAU.patience,
      }),
      new EarlyStopping({ patience: o.patience ?? FINETUNE_DEFAULTS.patience[o.task] }),
    ],
    metrics: seg ? segmentationMetrics() : classificationMetrics(o.warn),
  };
}

/**
 * Validation metrics for binary segmentation, dataset-level over the validation pass:
 * `dice` (empty policy `"one"`, the reference's), `iou` (foreground; `emptyPolicy`, default `"nan"`),
 * `paperIoU` (Keras `mean_iou`, the paper's IoU).
 */
export function segmentationMetrics(iouEmptyPolicy: EmptyPolicy = "nan"): Record<string, ValidationMetric> {
  const dice = new BinarySegmentationAccumulator({ emptyPolicy: REFERENCE_DICE_EMPTY_POLICY });
  const iou = new BinarySegmentationAccumulator({ emptyPolicy: iouEmptyPolicy });
  const paper = new KerasMeanIoUAccumulator();
  return {
    dice: {
      update: (p, t) => dice.update(p, t),
      compute: () => dice.compute().dice,
      reset: () => dice.reset(),
    },
    iou: { update: (p, t) => iou.update(p, t), compute: () => iou.compute().iou, reset: () => iou.reset() },
    paperIoU: {
      update: (p, t) => paper.update(p, t),
      compute: () => paper.compute(),
      reset: () => paper.reset(),
    },
  };
}

/**
 * Validation metrics for binary classification: `auc` (ROC AUC of the first output column against the
 * first label column; NaN when the validation labels hold one class, and then `warn` gets one line
 * with the class counts — once, not every epoch).
 */
export function classificationMetrics(warn?: (message: string) => void): Record<string, ValidationMetric> {
  let warned = false;
  const acc = new RocAucAccumulator({
    singleClass: "nan",
    warn: (m) => {
      if (warned) return;
      warned = true;
      warn?.(`validation AUC is NaN: ${m.replace(/^rocAuc: /, "")}`);
    },
  });
  return {
    auc: {
      update: (p, t, shape) => {
        const cols = shape.length > 1 ? shape[shape.length - 1] : 1;
        const n = p.length / cols;
        const s = new Float32Array(n);
        const l = new Float32Array(n);
        for (let i = 0; i < n; i++) {
          s[i] = p[i * cols];
          l[i] = t[i * cols];
        }
        acc.update(s, l);
      },
      compute: () => acc.compute(),
      reset: () => acc.reset(),
    },
  };
}
