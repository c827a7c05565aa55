import { TrainError } from "./errors.js";
import type { Rng } from "./rng.js";

/**
 * One mini-batch as plain arrays. `x` is the network input, `y` the target (restoration: the original
 * cube; segmentation: the mask; classification: labels), both C-order over their shapes —
 * NDHWC (N, rows, cols, deps, C) for 3-D data, (N, classes) for classification targets.
 */
export interface Batch {
  x: Float32Array;
  y: Float32Array;
  xShape: number[];
  yShape: number[];
}

/**
 * What the trainer consumes: a source that yields an epoch's batches. It must be deterministic given
 * `(epoch, rng)` — resuming in the middle of an epoch replays the epoch with the same `rng` and skips
 * the batches already trained on. The trainer passes a fresh child generator per epoch for training
 * data, and the same fixed-seed generator every epoch for validation data (so validation pairs can
 * stay identical across epochs).
 */
export interface BatchSource {
  batches(epoch: number, rng: Rng): AsyncIterable<Batch> | Iterable<Batch>;
  /** Number of batches per epoch, when known (progress bars, ETA). */
  readonly length?: number;
}

/** Options of {@link arrayBatchSource}. */
export interface ArrayBatchSourceOptions {
  /** All inputs, C order, sample after sample: (N, …sampleShapeX). */
  x: Float32Array;
  /** All targets: (N, …sampleShapeY). */
  y: Float32Array;
  /** Shape of one input sample, e.g. [64, 64, 32, 1]. */
  sampleShapeX: number[];
  /** Shape of one target sample, e.g. [64, 64, 32, 1] or [1]. */
  sampleShapeY: number[];
  batchSize: number;
  /** Shuffle the sample order each epoch with the epoch's rng. Default true. */
  shuffle?: boolean;
  /**
   * Drop a last incomplete batch. Default true: the reference runs len(train) // batch steps per
   * epoch (`pytorch/Genesis_Chest_CT.py`).
   */
  dropLast?: boolean;
  /**
   * Optional per-sample transform run when the batch is assembled, e.g. Genesis pair generation
   * `(original) → {x: transformed, y: original}`: receives the sample's input and target views and
   * the epoch rng (draw order is sample order, so it is deterministic), returns new arrays of the
   * same sizes.
   */
  transform?: (x: Float32Array, y: Float32Array, rng: Rng) => { x: Float32Array; y: Float32Array };
  /**
   * Asynchronous per-sample transform, e.g. a {@link WorkerPool} call, run for all samples of a
   * batch at once (so the pool's threads work in parallel, and — with the trainer's prefetch — beside
   * the training step). Receives copies of the sample's input and target and a 32-bit seed drawn from
   * the epoch rng in sample order, so the result does not depend on completion order. Used instead of
   * `transform` when both are given.
   */
  transformAsync?: (
    x: Float32Array,
    y: Float32Array,
    seed: number,
  ) => Promise<{ x: Float32Array; y: Float32Array }>;
}

/**
 * A {@link BatchSource} over in-memory arrays with seeded shuffling.
 * @throws TrainError if the array sizes do not match the sample shapes or batchSize < 1
 */
export function arrayBatchSource(opts: ArrayBatchSourceOptions): BatchSource {
  const sx = opts.sampleShapeX.reduce((a, b) => a * b, 1);
  const sy = opts.sampleShapeY.reduce((a, b) => a * b, 1);
  if (!(opts.batchSize >= 1))
    throw new TrainError(`arrayBatchSource: batchSize must be ≥ 1, got ${opts.batchSize}`);
  if (sx === 0 || opts.x.length % sx !== 0) {
    throw new TrainError(
      `arrayBatchSource: x has ${opts.x.length} values, not a multiple of the sample shape [${opts.sampleShapeX}]`,
    );
  }
  const n = opts.x.length / sx;
  if (opts.y.length !== n * sy) {
    throw new TrainError(
      `arrayBatchSource: x holds ${n} samples of [${opts.sampleShapeX}] but y has ${opts.y.length} values, not ${n} × [${opts.sampleShapeY}]`,
    );
  }
  const dropLast = opts.dropLast ?? true;
  const nBatches = dropLast ? Math.floor(n / opts.batchSize) : Math.ceil(n / opts.batchSize);
  if (nBatches === 0) {
    throw new TrainError(`arrayBatchSource: ${n} samples make no full batch of ${opts.batchSize} (dropLast)`);
  }
  const transformAsync = opts.transformAsync;
  if (transformAsync) {
    return {
      length: nBatches,
      async *batches(_epoch: number, rng: Rng) {
        const order = Uint32Array.from({ length: n }, (_, i) => i);
        if (opts.shuffle ?? true) rng.shuffle(order);
        for (let b = 0; b < nBatches; b++) {
          const idx = order.subarray(b * opts.batchSize, Math.min(n, (b + 1) * opts.batchSize));
          const seeds = Array.from(idx, () => rng.childSeed());
          const outs = await Promise.all(
            Array.from(idx, (s, k) =>
              transformAsync(
                opts.x.slice(s * sx, (s + 1) * sx),
                opts.y.slice(s * sy, (s + 1) * sy),
                seeds[k],
              ),
            ),
          );
          const x = new Float32Array(idx.length * sx);
          const y = new Float32Array(idx.length * sy);
          outs.forEach((o, k) => {
            x.set(o.x, k * sx);
            y.set(o.y, k * sy);
          });
          yield {
            x,
            y,
            xShape: [idx.length, ...opts.sampleShapeX],
            yShape: [idx.length, ...opts.sampleShapeY],
          };
        }
      },
    };
  }
  return {
    length: nBatches,
    *batches(_epoch: number, rng: Rng) {
      const order = Uint32Array.from({ length: n }, (_, i) => i);
      if (opts.shuffle ?? true) rng.shuffle(order);
      for (let b = 0; b < nBatches; b++) {
        const idx = order.subarray(b * opts.batchSize, Math.min(n, (b + 1) * opts.batchSize));
        const x = new Float32Array(idx.length * sx);
        const y = new Float32Array(idx.length * sy);
        idx.forEach((s, k) => {
          let xs = opts.x.subarray(s * sx, (s + 1) * sx);
          let ys = opts.y.subarray(s * sy, (s + 1) * sy);
          if (opts.transform) ({ x: xs, y: ys } = opts.transform(xs, ys, rng));
          x.set(xs, k * sx);
          y.set(ys, k * sy);
        });
        yield {
          x,
          y,
          xShape: [idx.length, ...opts.sampleShapeX],
          yShape: [idx.length, ...opts.sampleShapeY],
        };
      }
    },
  };
}

/**
 * Runs a (possibly async) iterable up to `depth` items ahead of its consumer: the next items are
 * requested before the current one is handed out, so an asynchronous producer (file reads, worker
 * threads) works while the consumer computes. With a synchronous producer it only reorders work.
 * The source is closed (`return()`) when the consumer stops early.
 */
export async function* prefetch<T>(source: AsyncIterable<T> | Iterable<T>, depth = 2): AsyncGenerator<T> {
  const it: AsyncIterator<T> | Iterator<T> =
    Symbol.asyncIterator in source
      ? (source as AsyncIterable<T>)[Symbol.asyncIterator]()
      : (source as Iterable<T>)[Symbol.iterator]();
  const queue: Promise<IteratorResult<T>>[] = [];
  let done = false;
  const pull = () => {
    if (!done) queue.push(Promise.resolve(it.next()));
  };
  try {
    for (let i = 0; i < Math.max(1, depth); i++) pull();
    while (queue.length > 0) {
      const r = await queue.shift()!;
      if (r.done) {
        done = true;
        break;
      }
      pull();
      yield r.value;
    }
  } finally {
    if (!done) {
      done = true;
      await Promise.allSettled(queue);
      await it.return?.();
    }
  }
}
