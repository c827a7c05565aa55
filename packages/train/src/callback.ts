import type { GenesisModule } from "@models-genesis/models";
import type { Optimizer } from "./optimizers.js";

/** One epoch's record: a JSONL log line and an entry of the history. */
export interface EpochLog {
  /** 0-based epoch index. */
  epoch: number;
  /** Mean training loss over the epoch's steps. */
  trainLoss: number;
  /** Mean validation loss (absent without a validation source). */
  valLoss?: number;
  /** Validation metrics by name (e.g. `dice`, `iou`, `paperIoU`, `auc`). */
  metrics: Record<string, number>;
  /** Learning rate used during the epoch. */
  lr: number;
  /** Wall-clock seconds of the epoch (training + validation). */
  seconds: number;
  /** Training steps run in the epoch. */
  steps: number;
}

/** How a run ended. */
export type StopReason = "completed" | "early-stopping" | "interrupted" | "stopped";

/** What {@link Trainer.run} resolves to. */
export interface TrainResult {
  stopReason: StopReason;
  /** Epochs completed (including those before a resume). */
  epochsCompleted: number;
  bestValLoss: number;
  /** Epoch of the best monitored loss, −1 if none. */
  bestEpoch: number;
  history: EpochLog[];
  /** Paths of the checkpoints written last (absent without `checkpointDir`). */
  checkpoints?: { last?: string; best?: string };
}

/** First validation batch of an epoch with the model's prediction, for sample sheets. */
export interface SampleBatch {
  epoch: number;
  /** Network input, shape `xShape` (NDHWC). */
  x: Float32Array;
  xShape: number[];
  /** Target, shape `yShape`. */
  y: Float32Array;
  yShape: number[];
  /** Prediction, shape `yShape`. */
  pred: Float32Array;
}

/** What callbacks see of the trainer. */
export interface TrainContext {
  readonly model: GenesisModule;
  readonly optimizer: Optimizer;
  /** Maximum epoch count of the run. */
  readonly epochs: number;
  /** First epoch this process runs (> 0 after a resume). */
  readonly startEpoch: number;
  /** History so far (including epochs before a resume). */
  readonly history: readonly EpochLog[];
  /** Training steps per epoch when the source knows it. */
  readonly stepsPerEpoch?: number;
  /** Ask the loop to stop after the current epoch (early stopping) with this reason. */
  stop(reason: StopReason): void;
}

/** Per-step information for progress displays. */
export interface StepInfo {
  epoch: number;
  /** 1-based step within the epoch. */
  step: number;
  loss: number;
  totalSteps?: number;
}

/**
 * A training callback (tfjs `BaseCallback` + nnU-Net hooks): every method optional and may be async.
 * Callbacks with state (schedules, early stopping) implement `getState`/`setState` and a unique
 * `name`, and the trainer stores that state in checkpoints so a resume continues them exactly.
 * Called in list order.
 */
export interface Callback {
  /** Key of this callback's state in checkpoints; required with `getState`. */
  readonly name?: string;
  /** Set to ask the trainer for the first validation batch and its prediction each epoch. */
  readonly wantsSample?: boolean;
  onTrainStart?(ctx: TrainContext): void | Promise<void>;
  /** Before the epoch's first step; schedules set `ctx.optimizer.lr` here. */
  onEpochStart?(ctx: TrainContext, epoch: number): void | Promise<void>;
  onBatchEnd?(ctx: TrainContext, info: StepInfo): void | Promise<void>;
  /** After validation; `log` is final except that later callbacks may still read it. */
  onEpochEnd?(ctx: TrainContext, log: EpochLog, sample?: SampleBatch): void | Promise<void>;
  onTrainEnd?(ctx: TrainContext, result: TrainResult): void | Promise<void>;
  getState?(): unknown;
  setState?(state: unknown): void;
}
