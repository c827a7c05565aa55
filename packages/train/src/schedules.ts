import type { Callback, EpochLog, StopReason, TrainContext } from "./callback.js";

/** Options of {@link StepLR}; defaults are the reference's (`pytorch/Genesis_Chest_CT.py`). */
export interface StepLROptions {
  /** Epochs between decays; reference 40. */
  stepSize?: number;
  /** Multiplicative decay; reference 0.5. */
  gamma?: number;
}

/**
 * PyTorch `StepLR`: lr(epoch) = lr₀ · γ^⌊epoch / stepSize⌋, set at the start of every epoch (the
 * reference calls `scheduler.step(epoch)` at the top of its epoch loop). lr₀ is the optimizer's lr
 * when training starts, kept in the checkpoint.
 */
export class StepLR implements Callback {
  readonly name = "StepLR";
  readonly stepSize: number;
  readonly gamma: number;
  private baseLr: number | null = null;

  constructor(opts: StepLROptions = {}) {
    this.stepSize = opts.stepSize ?? 40;
    this.gamma = opts.gamma ?? 0.5;
    if (!(this.stepSize >= 1)) throw new Error(`StepLR: stepSize must be ≥ 1, got ${this.stepSize}`);
  }

  /** Learning rate for `epoch` given the base rate. */
  lrAt(epoch: number, baseLr: number): number {
    return baseLr * this.gamma ** Math.floor(epoch / this.stepSize);
  }

  onTrainStart(ctx: TrainContext): void {
    if (this.baseLr === null) this.baseLr = ctx.optimizer.lr;
  }

  onEpochStart(ctx: TrainContext, epoch: number): void {
    ctx.optimizer.lr = this.lrAt(epoch, this.baseLr ?? ctx.optimizer.lr);
  }

  getState(): unknown {
    return { baseLr: this.baseLr };
  }

  setState(state: unknown): void {
    this.baseLr = (state as { baseLr: number | null }).baseLr;
  }
}

/** Options of {@link ReduceLROnPlateau}; defaults are the reference fine-tuning values. */
export interface ReduceLROnPlateauOptions {
  /** Reference: 0.5 (pretraining, `keras/Genesis_Chest_CT.py`, and fine-tuning, `keras/downstream_tasks/utils.py`). */
  factor?: number;
  /** Reference: 10 for Keras pretraining, 6 for fine-tuning (default here). */
  patience?: number;
  /** Reference: 1e-4 (Keras `min_delta`, absolute). */
  minDelta?: number;
  /** Reference: 1e-6. */
  minLr?: number;
  /** Keras `cooldown`, default 0. */
  cooldown?: number;
  /** Which value to watch: `"valLoss"` (default; falls back to the train loss without validation). */
  monitor?: "valLoss" | "trainLoss";
}

/**
 * Keras `ReduceLROnPlateau` (mode min), step for step: at each epoch end, if the monitored loss
 * < best − minDelta it becomes the best and the wait resets; otherwise (outside cooldown) the wait
 * grows, and when it reaches `patience` and lr > minLr, lr ← max(lr·factor, minLr), the cooldown
 * starts and the wait resets.
 */
export class ReduceLROnPlateau implements Callback {
  readonly name = "ReduceLROnPlateau";
  readonly factor: number;
  readonly patience: number;
  readonly minDelta: number;
  readonly minLr: number;
  readonly cooldown: number;
  readonly monitor: "valLoss" | "trainLoss";
  private best = Number.POSITIVE_INFINITY;
  private wait = 0;
  private cooldownCounter = 0;

  constructor(opts: ReduceLROnPlateauOptions = {}) {
    this.factor = opts.factor ?? 0.5;
    this.patience = opts.patience ?? 6;
    this.minDelta = opts.minDelta ?? 1e-4;
    this.minLr = opts.minLr ?? 1e-6;
    this.cooldown = opts.cooldown ?? 0;
    this.monitor = opts.monitor ?? "valLoss";
    if (!(this.factor < 1 && this.factor > 0))
      throw new Error(`ReduceLROnPlateau: factor must be in (0, 1), got ${this.factor}`);
  }

  /** Apply one epoch's loss; returns the new lr. */
  step(current: number, lr: number): number {
    if (this.cooldownCounter > 0) {
      this.cooldownCounter--;
      this.wait = 0;
    }
    if (current < this.best - this.minDelta) {
      this.best = current;
      this.wait = 0;
    } else if (this.cooldownCounter <= 0) {
      this.wait++;
      if (this.wait >= this.patience && lr > this.minLr) {
        lr = Math.max(lr * this.factor, this.minLr);
        this.cooldownCounter = this.cooldown;
        this.wait = 0;
      }
    }
    return lr;
  }

  onEpochEnd(ctx: TrainContext, log: EpochLog): void {
    const v = monitored(log, this.monitor);
    if (Number.isFinite(v)) ctx.optimizer.lr = this.step(v, ctx.optimizer.lr);
  }

  getState(): unknown {
    return { best: finiteOrNull(this.best), wait: this.wait, cooldownCounter: this.cooldownCounter };
  }

  setState(state: unknown): void {
    const s = state as { best: number | null; wait: number; cooldownCounter: number };
    this.best = s.best ?? Number.POSITIVE_INFINITY;
    this.wait = s.wait;
    this.cooldownCounter = s.cooldownCounter;
  }
}

/** Options of {@link EarlyStopping}. */
export interface EarlyStoppingOptions {
  /**
   * Epochs without improvement before stopping: pretraining 50 (`pytorch/config.py`), fine-tuning per
   * task 10/50/20/30/38 (NCC/NCS/LCS/BMS/ECC, `keras/downstream_tasks/config.py`).
   */
  patience: number;
  /** Improvement must exceed this (Keras `min_delta`, default 0 as in the reference). */
  minDelta?: number;
  monitor?: "valLoss" | "trainLoss";
}

/**
 * Stop when the monitored loss has not improved (strictly, by more than `minDelta`) for `patience`
 * epochs — Keras `EarlyStopping(monitor='val_loss', mode='min')` and the reference PyTorch loop's
 * `num_epoch_no_improvement == patience`.
 */
export class EarlyStopping implements Callback {
  readonly name = "EarlyStopping";
  readonly patience: number;
  readonly minDelta: number;
  readonly monitor: "valLoss" | "trainLoss";
  private best = Number.POSITIVE_INFINITY;
  private wait = 0;

  constructor(opts: EarlyStoppingOptions) {
    this.patience = opts.patience;
    this.minDelta = opts.minDelta ?? 0;
    this.monitor = opts.monitor ?? "valLoss";
  }

  /** Epochs since the last improvement. */
  get epochsWithoutImprovement(): number {
    return this.wait;
  }

  onEpochEnd(ctx: TrainContext, log: EpochLog): void {
    const v = monitored(log, this.monitor);
    if (v - this.minDelta < this.best) {
      this.best = v;
      this.wait = 0;
    } else {
      this.wait++;
      if (this.wait >= this.patience) ctx.stop("early-stopping" satisfies StopReason);
    }
  }

  getState(): unknown {
    return { best: finiteOrNull(this.best), wait: this.wait };
  }

  setState(state: unknown): void {
    const s = state as { best: number | null; wait: number };
    this.best = s.best ?? Number.POSITIVE_INFINITY;
    this.wait = s.wait;
  }
}

function monitored(log: EpochLog, monitor: "valLoss" | "trainLoss"): number {
  return monitor === "valLoss" && log.valLoss !== undefined ? log.valLoss : log.trainLoss;
}

function finiteOrNull(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}
