import { existsSync } from "node:fs";
import { copyFile, link, mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { GenesisModule } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
// gradients of the stock ops (tf.variableGrads needs them): @models-genesis/kernels registers them once, bundled,
// because tfjs-core's ESM gradient files cannot be imported by Node directly
import "@models-genesis/kernels";
import type {
  Callback,
  EpochLog,
  SampleBatch,
  StepInfo,
  StopReason,
  TrainContext,
  TrainResult,
} from "./callback.js";
import {
  type Checkpoint,
  loadModelWeights,
  optimizerStateOf,
  readCheckpoint,
  writeCheckpoint,
} from "./checkpoint.js";
import { type Batch, type BatchSource, prefetch } from "./data.js";
import { defaultThreads, GPU_BACKENDS, ReplicaPool } from "./data-parallel.js";
import { CheckpointError, TrainError } from "./errors.js";
import { variableGradsFreeing } from "./grads.js";
import { type LossFn, lossNameOf } from "./losses.js";
import type { Optimizer } from "./optimizers.js";
import { Rng } from "./rng.js";

/**
 * A validation metric fed batch by batch: `update(pred, target, shape)` with the model's prediction
 * and the target (same shape, C order), `compute()` at the end of the validation pass.
 * Adapters over `@models-genesis/metrics` accumulators are in `tasks.ts`.
 */
export interface ValidationMetric {
  update(pred: Float32Array, target: Float32Array, shape: number[]): void;
  compute(): number;
  reset(): void;
}

/** Options of {@link Trainer}. */
export interface TrainerOptions {
  /** The network (`@models-genesis/models` contract). */
  model: GenesisModule;
  optimizer: Optimizer;
  /** `(yTrue, yPred) → scalar`; see `losses.ts`. */
  loss: LossFn;
  /** Training batches; see {@link BatchSource} for the determinism contract. */
  train: BatchSource;
  /** Validation batches (optional); the monitored loss is the validation loss when present. */
  validation?: BatchSource;
  /** Maximum number of epochs (reference pretraining `nb_epoch` = 10000, ended by early stopping). */
  epochs: number;
  /** Seed of the trainer's generator (epoch data order and augmentation). Default 0. */
  seed?: number;
  /** Cap on training steps per epoch (default: the whole source). */
  stepsPerEpoch?: number;
  callbacks?: Callback[];
  /** Validation metrics by name, reported in each {@link EpochLog}. */
  metrics?: Record<string, ValidationMetric>;
  /**
   * Weights to keep fixed (by `trainableWeights` name), e.g. `(n) => !n.startsWith("out_tr")` to train
   * only the head on a frozen pretrained encoder-decoder. Default: train every trainable weight.
   */
  freeze?: (name: string) => boolean;
  /** Directory for `last.ckpt` and `best.ckpt` (created if missing). No checkpoints without it. */
  checkpointDir?: string;
  /**
   * Continue from a checkpoint: `true` = `<checkpointDir>/last.ckpt`, or a path. Model weights,
   * optimizer slots and lr, callback state (schedules, early stopping), the generator state, history
   * and the position inside an interrupted epoch are restored, so the run continues exactly.
   */
  resume?: boolean | string;
  /** How many batches data loading may run ahead of compute. Default 2. */
  prefetch?: number;
  /**
   * Install a SIGINT (Ctrl-C) handler for the run: the current step finishes, `last.ckpt` is written
   * (mid-epoch position included) and `run()` resolves with `stopReason: "interrupted"`. A second
   * Ctrl-C exits at once with code 130. Default false (libraries should not own signals; the CLI sets it).
   */
  handleSigint?: boolean;
  /** Messages (resume, interrupt, checkpoint paths). Default: none. */
  log?: (message: string) => void;
  /**
   * Threads for data-parallel training steps ({@link ReplicaPool}): batches are split across this many
   * model replicas (the main thread + worker threads) and the gradients averaged. Needs a model that
   * `createModelFromConfig(model.config)` rebuilds (every Genesis U-Net) and a loss of `lossByName`;
   * otherwise, or for a batch of one, the step runs on the main thread. Default `GENESIS_THREADS` or 1.
   */
  threads?: number;
}

/** The loop state saved in checkpoints. */
interface LoopState {
  /** Epoch in progress, or the next one at an epoch boundary. */
  epoch: number;
  /** Training steps done in `epoch`. */
  step: number;
  /** Seed of the epoch in progress (null at a boundary). */
  epochSeed: number | null;
  /** Sum of the training losses of `epoch`'s finished steps. */
  lossSum: number;
  /** Seconds spent on `epoch` before an interrupt. */
  epochSeconds: number;
  /** Trainer generator state. */
  rng: number[];
  globalStep: number;
  bestLoss: number | null;
  bestEpoch: number;
  history: EpochLog[];
}

const yieldToEventLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * The training loop shared by restoration pretraining and fine-tuning (segmentation, classification).
 * `run()` only sequences named async hooks — subclass and override any of them to customise
 * (nnU-Net's `run_training`); callbacks observe them (tfjs `BaseCallback`):
 *
 * ```
 * onTrainStart
 * per epoch: onEpochStart → trainStep(batch)* → onTrainEpochEnd → validationStep(batch)*
 *            → onValidationEpochEnd → onEpochEnd (callbacks, then best/last checkpoints)
 * onTrainEnd
 * ```
 *
 * Tensors: each step runs in `tf.tidy`; `tf.memory().numTensors` stays flat across epochs.
 */
export class Trainer {
  readonly model: GenesisModule;
  readonly optimizer: Optimizer;
  readonly loss: LossFn;
  readonly opts: TrainerOptions;
  readonly callbacks: Callback[];
  protected state: LoopState;
  protected rng: Rng;
  protected startEpoch = 0;
  private stopRequest: StopReason | null = null;
  private readonly valSeed: number;
  private lastCkpt?: string;
  private bestCkpt?: string;
  private pool: ReplicaPool | null = null;
  private warnedSerial = false;

  constructor(opts: TrainerOptions) {
    if (!(opts.epochs >= 0) || !Number.isInteger(opts.epochs))
      throw new TrainError(`Trainer: epochs must be an integer ≥ 0, got ${opts.epochs}`);
    if (opts.model.trainableWeights.size === 0)
      throw new TrainError("Trainer: the model has no trainable weights");
    const names = new Set<string>();
    for (const c of opts.callbacks ?? []) {
      if (c.getState && !c.name) throw new TrainError("Trainer: a callback with getState() needs a name");
      if (c.name && c.getState) {
        if (names.has(c.name)) throw new TrainError(`Trainer: two stateful callbacks are named "${c.name}"`);
        names.add(c.name);
      }
    }
    if (opts.resume && typeof opts.resume !== "string" && !opts.checkpointDir) {
      throw new TrainError("Trainer: resume: true needs checkpointDir (or pass the checkpoint path)");
    }
    this.opts = opts;
    this.model = opts.model;
    this.optimizer = opts.optimizer;
    this.loss = opts.loss;
    this.callbacks = opts.callbacks ?? [];
    const seed = opts.seed ?? 0;
    this.rng = new Rng(seed);
    this.valSeed = (seed ^ 0x5bd1e995) | 0;
    this.state = {
      epoch: 0,
      step: 0,
      epochSeed: null,
      lossSum: 0,
      epochSeconds: 0,
      rng: this.rng.getState(),
      globalStep: 0,
      bestLoss: null,
      bestEpoch: -1,
      history: [],
    };
  }

  /** Epoch logs so far. */
  get history(): readonly EpochLog[] {
    return this.state.history;
  }

  /** Ask the loop to stop: `"interrupted"` stops after the current step and writes `last.ckpt`; other reasons stop after the epoch. */
  requestStop(reason: StopReason = "interrupted"): void {
    if (this.stopRequest !== "interrupted") this.stopRequest = reason;
  }

  /**
   * Path of `last.ckpt`, `best.ckpt` or `last.prev.ckpt` (the `last.ckpt` before the latest one,
   * kept for `resume` to fall back on) when `checkpointDir` is set.
   */
  checkpointPath(kind: "last" | "best" | "prev"): string | undefined {
    if (!this.opts.checkpointDir) return undefined;
    return join(this.opts.checkpointDir, kind === "prev" ? "last.prev.ckpt" : `${kind}.ckpt`);
  }

  protected get context(): TrainContext {
    const self = this;
    return {
      get model() {
        return self.model;
      },
      get optimizer() {
        return self.optimizer;
      },
      get epochs() {
        return self.opts.epochs;
      },
      get startEpoch() {
        return self.startEpoch;
      },
      get history() {
        return self.state.history;
      },
      get stepsPerEpoch() {
        const n = self.opts.train.length;
        const cap = self.opts.stepsPerEpoch;
        return n === undefined ? cap : cap === undefined ? n : Math.min(n, cap);
      },
      stop(reason: StopReason) {
        self.requestStop(reason);
      },
    };
  }

  /** Run the loop until `epochs`, early stopping or an interrupt. */
  async run(): Promise<TrainResult> {
    if (typeof this.opts.resume === "string") await this.restore(this.opts.resume);
    else if (this.opts.resume) await this.restoreLatest();
    this.startEpoch = this.state.epoch;
    if (this.opts.checkpointDir) await mkdir(this.opts.checkpointDir, { recursive: true });
    let onSigint: (() => void) | undefined;
    if (this.opts.handleSigint) {
      onSigint = () => {
        if (this.stopRequest === "interrupted") process.exit(130);
        this.opts.log?.(
          "interrupt: finishing the current step and writing a checkpoint (Ctrl-C again to quit now)",
        );
        this.requestStop("interrupted");
      };
      process.on("SIGINT", onSigint);
    }
    let stopReason: StopReason = "completed";
    try {
      await this.onTrainStart();
      while (this.state.epoch < this.opts.epochs) {
        const epoch = this.state.epoch;
        if (this.state.epochSeed === null) {
          this.state.epochSeed = this.rng.seed();
          this.state.rng = this.rng.getState();
        }
        await this.onEpochStart(epoch);
        const lr = this.optimizer.lr;
        const t0 = performance.now();
        const finished = await this.trainEpoch(epoch);
        if (!finished) {
          this.state.epochSeconds += (performance.now() - t0) / 1000;
          await this.writeCheckpoints(false);
          stopReason = "interrupted";
          break;
        }
        const trainLoss = this.state.lossSum / this.state.step;
        await this.onTrainEpochEnd(epoch, trainLoss);
        let valLoss: number | undefined;
        let metrics: Record<string, number> = {};
        let sample: SampleBatch | undefined;
        if (this.opts.validation) {
          ({ valLoss, metrics, sample } = await this.validationEpoch(epoch));
          await this.onValidationEpochEnd(epoch, valLoss, metrics);
        }
        const log: EpochLog = {
          epoch,
          trainLoss,
          ...(valLoss !== undefined ? { valLoss } : {}),
          metrics,
          lr,
          seconds: this.state.epochSeconds + (performance.now() - t0) / 1000,
          steps: this.state.step,
        };
        await this.onEpochEnd(log, sample);
        if (this.stopRequest) {
          stopReason = this.stopRequest;
          break;
        }
      }
    } finally {
      if (onSigint) process.off("SIGINT", onSigint);
      await this.pool?.close();
      this.pool = null;
    }
    const result: TrainResult = {
      stopReason,
      epochsCompleted: this.state.history.length,
      bestValLoss: this.state.bestLoss ?? Number.NaN,
      bestEpoch: this.state.bestEpoch,
      history: [...this.state.history],
      ...(this.opts.checkpointDir ? { checkpoints: { last: this.lastCkpt, best: this.bestCkpt } } : {}),
    };
    await this.onTrainEnd(result);
    return result;
  }

  // ---------------------------------------------------------------- hooks

  /** Hook: before the first epoch (after a resume has been applied). Calls `callbacks[].onTrainStart`. */
  async onTrainStart(): Promise<void> {
    for (const c of this.callbacks) await c.onTrainStart?.(this.context);
  }

  /** Hook: before an epoch's first step (also when resuming inside it). Schedules set the lr here. */
  async onEpochStart(epoch: number): Promise<void> {
    for (const c of this.callbacks) await c.onEpochStart?.(this.context, epoch);
  }

  /**
   * Hook: one optimisation step — forward in training mode, loss, gradients of the trainable
   * weights, optimizer update — inside `tf.tidy`. Returns the batch loss.
   *
   * A step that throws (a forward pass, loss or gradient that fails, e.g. out of memory) frees every
   * tensor it allocated — `tf.memory().numTensors` is where it was before the step — and puts the
   * non-trainable weights (BatchNorm running statistics, which the forward pass updates) back, so the
   * model is as before the step and the exception propagates out of `run()`; calling `run()` again
   * continues from that step. Only an exception from the optimizer update itself may leave the
   * weights partly updated.
   * @throws TrainError when every trainable weight is frozen, or what the step threw
   */
  async trainStep(batch: Batch): Promise<number> {
    const freeze = this.opts.freeze;
    const names = [...this.model.trainableWeights.keys()].filter((n) => !freeze?.(n));
    if (names.length === 0) throw new TrainError("trainStep: every trainable weight is frozen");
    const pool = batch.xShape[0] >= 2 ? this.replicaPool() : null;
    // values before the step: a clone shares the buffer, and `assign` gives the variable a new one
    const stats = [...this.model.nonTrainableWeights].map(([, v]) => [v, tf.clone(v)] as const);
    let grads: Map<string, tf.Tensor> | undefined;
    try {
      let loss: number;
      if (pool) {
        ({ loss, grads } = await pool.gradients(batch, names, (shard) => this.gradients(shard, names)));
      } else {
        const g = this.gradients(batch, names);
        grads = g.grads;
        try {
          loss = (await g.loss.data())[0];
        } finally {
          g.loss.dispose();
        }
      }
      const update = grads;
      tf.tidy(() => this.optimizer.applyGradients(update, this.model.trainableWeights));
      return loss;
    } catch (e) {
      for (const [v, before] of stats) v.assign(before);
      throw e;
    } finally {
      for (const g of grads?.values() ?? []) g.dispose();
      for (const [, before] of stats) before.dispose();
    }
  }

  /**
   * Loss and gradients of `names` for one batch (forward in training mode); weights the loss does
   * not reach (e.g. an unused branch) get no entry. The caller disposes the tensors.
   */
  protected gradients(batch: Batch, names: string[]): { loss: tf.Scalar; grads: Map<string, tf.Tensor> } {
    const vars = names.map((n) => this.model.trainableWeights.get(n)!);
    const { value, grads } = tf.tidy(() => {
      const x = tf.tensor(batch.x, batch.xShape, "float32");
      const y = tf.tensor(batch.y, batch.yShape, "float32");
      return variableGradsFreeing(() => {
        const pred = this.model.forward(x, { training: true });
        if (!tf.util.arraysEqual(pred.shape, y.shape)) {
          throw new TrainError(
            `trainStep: the model output has shape [${pred.shape}] but the target has [${y.shape}]`,
          );
        }
        return this.loss(y, pred);
      }, vars);
    });
    const named = new Map<string, tf.Tensor>();
    names.forEach((n, i) => {
      const g = grads[vars[i].name];
      if (g) named.set(n, g);
    });
    return { loss: value, grads: named };
  }

  /** The data-parallel pool when `threads` > 1 and the model and loss can be replicated, else null. */
  private replicaPool(): ReplicaPool | null {
    if (this.pool) return this.pool;
    const threads = this.opts.threads ?? defaultThreads();
    if (threads <= 1) return null;
    if (GPU_BACKENDS.has(tf.getBackend())) {
      // the replicas would run on wasm worker threads beside one GPU: one thread is the fast path
      if (!this.warnedSerial) {
        this.warnedSerial = true;
        this.opts.log?.(
          `threads = ${threads} ignored on the ${tf.getBackend()} backend (a GPU): training on one thread`,
        );
      }
      return null;
    }
    const lossName = lossNameOf(this.loss);
    if (!lossName || typeof this.model.config.variant !== "string") {
      if (!this.warnedSerial) {
        this.warnedSerial = true;
        this.opts.log?.(
          `threads = ${threads} ignored: ${lossName ? "the model cannot be rebuilt from its config" : "the loss is not one of lossByName's"}; training on one thread`,
        );
      }
      return null;
    }
    this.pool = new ReplicaPool(threads, this.model, lossName);
    return this.pool;
  }

  /** Hook: after the epoch's training steps, with their mean loss. */
  async onTrainEpochEnd(_epoch: number, _trainLoss: number): Promise<void> {}

  /**
   * Hook: one validation batch — forward in evaluation mode and loss; returns the prediction too
   * when `withPrediction` (metrics or sample sheets need it).
   */
  async validationStep(
    batch: Batch,
    withPrediction: boolean,
  ): Promise<{ loss: number; pred?: Float32Array }> {
    const out = tf.tidy(() => {
      const x = tf.tensor(batch.x, batch.xShape, "float32");
      const y = tf.tensor(batch.y, batch.yShape, "float32");
      const pred = this.model.forward(x, { training: false });
      if (!tf.util.arraysEqual(pred.shape, y.shape)) {
        throw new TrainError(
          `validationStep: the model output has shape [${pred.shape}] but the target has [${y.shape}]`,
        );
      }
      const loss = this.loss(y, pred);
      return withPrediction ? { loss, pred } : { loss };
    }) as { loss: tf.Scalar; pred?: tf.Tensor };
    try {
      const loss = (await out.loss.data())[0];
      const pred = out.pred ? ((await out.pred.data()) as Float32Array) : undefined;
      return { loss, pred };
    } finally {
      out.loss.dispose();
      out.pred?.dispose();
    }
  }

  /** Hook: after the validation pass, with the mean validation loss and metrics. */
  async onValidationEpochEnd(
    _epoch: number,
    _valLoss: number,
    _metrics: Record<string, number>,
  ): Promise<void> {}

  /**
   * Hook: the epoch is over. Records the log, advances the loop state, runs `callbacks[].onEpochEnd`
   * (schedules, early stopping, loggers), then writes `best.ckpt` when the monitored loss (validation,
   * else training) improved and `last.ckpt` always.
   */
  async onEpochEnd(log: EpochLog, sample?: SampleBatch): Promise<void> {
    const s = this.state;
    s.history.push(log);
    s.epoch = log.epoch + 1;
    s.step = 0;
    s.epochSeed = null;
    s.lossSum = 0;
    s.epochSeconds = 0;
    s.rng = this.rng.getState();
    const monitored = log.valLoss ?? log.trainLoss;
    const improved = s.bestLoss === null || monitored < s.bestLoss;
    if (improved) {
      s.bestLoss = monitored;
      s.bestEpoch = log.epoch;
    }
    for (const c of this.callbacks) await c.onEpochEnd?.(this.context, log, sample);
    await this.writeCheckpoints(improved);
  }

  /** Hook: after the loop, with the result. Calls `callbacks[].onTrainEnd`. */
  async onTrainEnd(result: TrainResult): Promise<void> {
    for (const c of this.callbacks) await c.onTrainEnd?.(this.context, result);
  }

  // ---------------------------------------------------------------- internals

  /** Returns false when interrupted mid-epoch. */
  private async trainEpoch(epoch: number): Promise<boolean> {
    const s = this.state;
    const total = this.context.stepsPerEpoch;
    const skip = s.step;
    const source = this.opts.train.batches(epoch, new Rng(s.epochSeed!));
    let i = 0;
    for await (const batch of prefetch(source, this.opts.prefetch ?? 2)) {
      if (this.opts.stepsPerEpoch !== undefined && i >= this.opts.stepsPerEpoch) break;
      if (i++ < skip) continue;
      const loss = await this.trainStep(batch);
      if (!Number.isFinite(loss)) throw new TrainError(`epoch ${epoch} step ${i}: training loss is ${loss}`);
      s.step++;
      s.globalStep++;
      s.lossSum += loss;
      const info: StepInfo = {
        epoch,
        step: s.step,
        loss,
        ...(total !== undefined ? { totalSteps: total } : {}),
      };
      for (const c of this.callbacks) await c.onBatchEnd?.(this.context, info);
      await yieldToEventLoop(); // lets SIGINT and timers run between synchronous CPU steps
      if (this.stopRequest === "interrupted") return false;
    }
    if (s.step === 0) throw new TrainError(`epoch ${epoch}: the training source yielded no batches`);
    return true;
  }

  private async validationEpoch(
    epoch: number,
  ): Promise<{ valLoss: number; metrics: Record<string, number>; sample?: SampleBatch }> {
    const metrics = this.opts.metrics ?? {};
    for (const m of Object.values(metrics)) m.reset();
    const wantsSample = this.callbacks.some((c) => c.wantsSample);
    const needPred = Object.keys(metrics).length > 0 || wantsSample;
    let sum = 0;
    let n = 0;
    let sample: SampleBatch | undefined;
    const source = this.opts.validation!.batches(epoch, new Rng(this.valSeed));
    for await (const batch of prefetch(source, this.opts.prefetch ?? 2)) {
      const { loss, pred } = await this.validationStep(batch, needPred);
      sum += loss;
      n++;
      if (pred) {
        for (const m of Object.values(metrics)) m.update(pred, batch.y, batch.yShape);
        if (wantsSample && !sample)
          sample = { epoch, x: batch.x, xShape: batch.xShape, y: batch.y, yShape: batch.yShape, pred };
      }
      await yieldToEventLoop();
    }
    if (n === 0) throw new TrainError(`epoch ${epoch}: the validation source yielded no batches`);
    const out: Record<string, number> = {};
    for (const [k, m] of Object.entries(metrics)) out[k] = m.compute();
    return { valLoss: sum / n, metrics: out, ...(sample ? { sample } : {}) };
  }

  private callbackStates(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const c of this.callbacks) if (c.name && c.getState) out[c.name] = c.getState();
    return out;
  }

  private async writeCheckpoints(best: boolean): Promise<void> {
    const last = this.checkpointPath("last");
    if (!last) return;
    const content = {
      model: this.model,
      optimizer: await this.optimizer.getState(),
      trainer: { ...this.state, history: this.state.history } as unknown as Record<string, unknown>,
      callbacks: this.callbackStates(),
    };
    // keep the current last.ckpt as last.prev.ckpt (a hard link: no copy), for resume to fall back on
    if (existsSync(last)) await replaceWithLink(last, this.checkpointPath("prev")!);
    try {
      await writeCheckpoint(last, content);
    } catch (e) {
      const kept = existsSync(last) ? `; ${last} still holds the previous checkpoint` : "";
      throw new CheckpointError(`${last}: cannot write the checkpoint (${(e as Error).message})${kept}`);
    }
    this.lastCkpt = last;
    // best = the same bytes: hard-link the fresh last.ckpt (a later rename replaces last.ckpt's
    // name, not this inode), falling back to a copy; then rename into place atomically.
    if (best) {
      const p = this.checkpointPath("best")!;
      await replaceWithLink(last, p);
      this.bestCkpt = p;
    }
  }

  /**
   * `resume: true`: load `last.ckpt`; when it is missing, truncated or corrupt, say so and fall back
   * to `last.prev.ckpt` (the one before it).
   * @throws CheckpointError naming both files when neither can be read
   */
  private async restoreLatest(): Promise<void> {
    const last = this.checkpointPath("last")!;
    const prev = this.checkpointPath("prev")!;
    let ckpt: Checkpoint;
    let from = last;
    try {
      ckpt = await readCheckpointAt(last);
    } catch (e) {
      if (!(e instanceof CheckpointError) || !existsSync(prev)) throw e;
      try {
        ckpt = await readCheckpoint(prev);
      } catch (e2) {
        throw new CheckpointError(
          `no checkpoint to resume from: ${e.message}; the previous one is unusable too: ${(e2 as Error).message}`,
        );
      }
      // out of the way, kept for inspection: the next epoch end must not keep it as last.prev.ckpt
      const moved = existsSync(last) ? ` (moved to ${last}.corrupt)` : "";
      if (moved) await rename(last, `${last}.corrupt`);
      this.opts.log?.(`${e.message}${moved}; falling back to the previous checkpoint ${prev}`);
      from = prev;
    }
    this.apply(ckpt, from);
  }

  /**
   * Load a checkpoint into the model, optimizer, callbacks and loop state.
   * @throws CheckpointError naming the file when it is missing or does not fit
   */
  async restore(path: string): Promise<void> {
    this.apply(await readCheckpointAt(path), path);
  }

  /** Put a checkpoint read from `path` into the model, optimizer, callbacks and loop state. */
  private apply(ckpt: Checkpoint, path: string): void {
    loadModelWeights(this.model, ckpt, path);
    this.optimizer.setState(optimizerStateOf(ckpt));
    const st = ckpt.header.trainer as unknown as LoopState;
    for (const c of this.callbacks) {
      if (c.name && c.setState && ckpt.header.callbacks[c.name] !== undefined)
        c.setState(ckpt.header.callbacks[c.name]);
    }
    // JSON turned NaN metrics (e.g. AUC of a one-class split) into null: turn them back
    const history = st.history.map((h) => ({
      ...h,
      metrics: Object.fromEntries(
        Object.entries(h.metrics).map(([k, v]) => [k, v === null ? Number.NaN : v]),
      ),
    }));
    this.state = { ...st, history };
    this.rng = Rng.fromState(st.rng);
    this.opts.log?.(
      `resumed from ${path}: ${st.epoch} epoch${st.epoch === 1 ? "" : "s"} done, continuing ${st.step > 0 ? `epoch ${st.epoch + 1} after its step ${st.step} (mid-epoch)` : `at epoch ${st.epoch + 1}`}, lr ${this.optimizer.lr}`,
    );
  }
}

/** {@link readCheckpoint}, with "no checkpoint to resume from" for a missing file. */
async function readCheckpointAt(path: string): Promise<Checkpoint> {
  if (!existsSync(path)) throw new CheckpointError(`${path}: no checkpoint to resume from`);
  return readCheckpoint(path);
}

/** Make `to` a hard link to `from` (a copy where links fail), replacing `to` atomically. */
async function replaceWithLink(from: string, to: string): Promise<void> {
  const tmp = `${to}.tmp-${process.pid}`;
  await rm(tmp, { force: true });
  try {
    await link(from, tmp);
  } catch {
    await copyFile(from, tmp);
  }
  await rename(tmp, to);
}
