import { existsSync } from "node:fs";
import { appendFile, readFile } from "node:fs/promises";
import cliProgress from "cli-progress";
import { writeFileAtomic } from "./atomic.js";
import type { Callback, EpochLog, SampleBatch, StepInfo, TrainContext, TrainResult } from "./callback.js";
import { type Baseline, lossCurveSvg } from "./plot.js";

/**
 * Appends one JSON line per epoch to `path`: `{epoch, trainLoss, valLoss, metrics, lr, seconds,
 * steps, time}` (NaN/∞ metric values become null), `epoch` counted from 1 as on the console. On a
 * resumed run, lines of the epochs after the checkpoint the run resumed from are dropped first, so
 * the file always matches the checkpointed history.
 */
export class JsonlLogger implements Callback {
  constructor(readonly path: string) {}

  async onTrainStart(ctx: TrainContext): Promise<void> {
    if (!existsSync(this.path)) return;
    const lines = (await readFile(this.path, "utf8")).split("\n").filter((l) => l.trim() !== "");
    const keep = lines.filter((l) => {
      try {
        // 1-based line epochs; startEpoch (0-based) = the number of epochs the checkpoint holds
        return (JSON.parse(l) as { epoch: number }).epoch <= ctx.startEpoch;
      } catch {
        return false;
      }
    });
    await writeFileAtomic(
      this.path,
      keep.map((l) => `${l}\n`),
    );
  }

  async onEpochEnd(_ctx: TrainContext, log: EpochLog): Promise<void> {
    const line = { ...log, epoch: log.epoch + 1, time: new Date().toISOString() };
    await appendFile(this.path, `${JSON.stringify(line)}\n`);
  }
}

/** Options of {@link ProgressLogger}. */
export interface ProgressLoggerOptions {
  /** Where to write; default `process.stderr`. */
  stream?: NodeJS.WriteStream;
  /** Force plain lines even on a TTY. */
  plain?: boolean;
  /**
   * Plain mode: also print `epoch e/E step k/n loss x` when this many seconds have passed since the
   * last line (slow steps — a width-32 network on a CPU — would otherwise print nothing for minutes).
   * Default 30; 0 = a line after every step.
   */
  stepLineSeconds?: number;
}

function fmtLog(log: EpochLog, epochs: number): string {
  const parts = [`epoch ${log.epoch + 1}/${epochs}`, `train ${log.trainLoss.toPrecision(5)}`];
  if (log.valLoss !== undefined) parts.push(`val ${log.valLoss.toPrecision(5)}`);
  for (const [k, v] of Object.entries(log.metrics))
    parts.push(`${k} ${Number.isFinite(v) ? v.toFixed(4) : String(v)}`);
  parts.push(`lr ${log.lr.toPrecision(3)}`, `${log.seconds.toFixed(1)}s`);
  return parts.join("  ");
}

/**
 * Progress display: on a TTY a `cli-progress` bar per epoch with the running loss and ETA, then a
 * summary line; elsewhere (pipes, CI logs) one plain summary line per epoch, plus a step line when
 * steps are slow (`stepLineSeconds`).
 */
export class ProgressLogger implements Callback {
  private readonly stream: NodeJS.WriteStream;
  private readonly tty: boolean;
  private bar?: cliProgress.SingleBar;
  private readonly stepLineMs: number;
  private lastLine = 0;

  constructor(opts: ProgressLoggerOptions = {}) {
    this.stream = opts.stream ?? process.stderr;
    this.tty = !opts.plain && Boolean(this.stream.isTTY);
    this.stepLineMs = 1000 * (opts.stepLineSeconds ?? 30);
  }

  onEpochStart(ctx: TrainContext, epoch: number): void {
    this.lastLine = performance.now();
    if (!this.tty) return;
    this.bar = new cliProgress.SingleBar(
      {
        stream: this.stream,
        format: `epoch ${epoch + 1}/${ctx.epochs} |{bar}| {value}/{total} loss {loss} | ETA {eta_formatted}`,
        hideCursor: true,
        clearOnComplete: true,
        etaBuffer: 20,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(ctx.stepsPerEpoch ?? 0, 0, { loss: "-" });
  }

  onBatchEnd(ctx: TrainContext, info: StepInfo): void {
    if (this.bar) {
      this.bar.update(info.step, { loss: info.loss.toPrecision(4) });
      return;
    }
    const now = performance.now();
    if (now - this.lastLine < this.stepLineMs) return;
    this.lastLine = now;
    const of = info.totalSteps !== undefined ? `/${info.totalSteps}` : "";
    this.stream.write(
      `epoch ${info.epoch + 1}/${ctx.epochs} step ${info.step}${of} loss ${info.loss.toPrecision(5)}\n`,
    );
  }

  onEpochEnd(ctx: TrainContext, log: EpochLog): void {
    this.bar?.stop();
    this.bar = undefined;
    this.stream.write(`${fmtLog(log, ctx.epochs)}\n`);
  }

  onTrainEnd(_ctx: TrainContext, result: TrainResult): void {
    this.bar?.stop();
    this.stream.write(
      `training ${result.stopReason} after ${result.epochsCompleted} epoch${result.epochsCompleted === 1 ? "" : "s"}; best loss ${result.bestValLoss.toPrecision(5)} at epoch ${result.bestEpoch + 1}\n`,
    );
  }
}

/**
 * Per-epoch sample sheet: hands the first validation batch, its prediction and the epoch to `write`
 * every `every` epochs. Plug the PNG sheet writer of `@models-genesis/transforms` in `write`
 * (transformed | restored | original for pretraining).
 */
export class SampleSheetCallback implements Callback {
  readonly wantsSample = true;
  constructor(
    private readonly write: (sample: SampleBatch) => void | Promise<void>,
    private readonly every = 1,
  ) {}

  async onEpochEnd(_ctx: TrainContext, log: EpochLog, sample?: SampleBatch): Promise<void> {
    if (sample && (log.epoch + 1) % this.every === 0) await this.write(sample);
  }
}

/** Writes {@link lossCurveSvg} of the history to `path` (atomically) when training ends. */
export class LossCurvePlot implements Callback {
  constructor(
    readonly path: string,
    private readonly opts: { title?: string; baselines?: Baseline[]; logY?: boolean } = {},
  ) {}

  async onTrainEnd(ctx: TrainContext): Promise<void> {
    await writeFileAtomic(this.path, [lossCurveSvg(ctx.history, this.opts)]);
  }
}

/** Adapts a plain function to a callback for the epoch end (e.g. custom printing). */
export function onEpochEnd(fn: (log: EpochLog, ctx: TrainContext) => void | Promise<void>): Callback {
  return { onEpochEnd: (ctx, log) => fn(log, ctx) };
}
