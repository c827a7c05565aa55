import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { GenesisModule } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import type { Batch } from "./data.js";
import { TrainError } from "./errors.js";
import type { ReplicaStep, ReplicaStepResult } from "./replica-worker.js";

/**
 * How many threads training uses by default: `GENESIS_THREADS` when set, else 1. `"auto"` (see
 * {@link resolveThreads}) is what the CLI passes.
 */
export function defaultThreads(): number {
  const env = Number(process.env.GENESIS_THREADS);
  return Number.isInteger(env) && env >= 1 ? env : 1;
}

/** Backends that run on a GPU: data-parallel worker threads (wasm replicas) never help there. */
export const GPU_BACKENDS: ReadonlySet<string> = new Set(["webgpu", "webgl"]);

/**
 * Threads for data-parallel training on this machine and backend: `"auto"` gives min(cores, 4) on
 * the single-threaded `wasm` and `cpu` backends and 1 on `tensorflow` (tfjs-node runs its own
 * thread pool inside each kernel); on a GPU backend (`webgpu`) it is always 1. An explicit count is
 * kept elsewhere.
 * @throws TrainError for a count that is not a positive integer.
 */
export function resolveThreads(threads: number | "auto", backend: string = tf.getBackend()): number {
  if (GPU_BACKENDS.has(backend)) {
    if (threads !== "auto" && (!Number.isInteger(threads) || threads < 1))
      throw new TrainError(`threads must be a positive integer or "auto", got ${threads}`);
    return 1;
  }
  if (threads === "auto")
    return backend === "tensorflow" ? 1 : Math.max(1, Math.min(4, availableParallelism()));
  if (!Number.isInteger(threads) || threads < 1)
    throw new TrainError(`threads must be a positive integer or "auto", got ${threads}`);
  return threads;
}

/**
 * Cut a batch into `parts` contiguous shards along the batch axis (sizes differ by at most one, larger
 * first); fewer shards when the batch is smaller than `parts`. Shards are views, not copies.
 * @param batch x (N, …) and y (N, …) flat C-order arrays with their shapes
 */
export function splitBatch(batch: Batch, parts: number): Batch[] {
  const n = batch.xShape[0];
  if (batch.yShape[0] !== n) throw new TrainError(`splitBatch: x has ${n} samples, y ${batch.yShape[0]}`);
  const k = Math.max(1, Math.min(parts, n));
  const px = batch.x.length / n;
  const py = batch.y.length / n;
  const out: Batch[] = [];
  let start = 0;
  for (let i = 0; i < k; i++) {
    const m = Math.floor(n / k) + (i < n % k ? 1 : 0);
    out.push({
      x: batch.x.subarray(start * px, (start + m) * px),
      y: batch.y.subarray(start * py, (start + m) * py),
      xShape: [m, ...batch.xShape.slice(1)],
      yShape: [m, ...batch.yShape.slice(1)],
    });
    start += m;
  }
  return out;
}

/** The built worker program (`dist/replica-worker.js`), also when this module runs from `src/`. */
function workerFile(): string {
  const here = new URL(import.meta.url);
  const url = here.pathname.endsWith(".ts")
    ? new URL("../dist/replica-worker.js", here)
    : new URL("./replica-worker.js", here);
  const file = fileURLToPath(url);
  if (!existsSync(file)) {
    throw new TrainError(
      `data-parallel training needs the built worker ${file}; run \`pnpm build\` (or train with threads = 1)`,
    );
  }
  return file;
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

class Replica {
  readonly worker: Worker;
  private pending: Pending | null = null;
  private failure: Error | null = null;

  constructor(file: string) {
    // no inherited flags: a test runner's `--conditions=source` would make the worker resolve the
    // workspace packages to their TypeScript sources, which Node cannot load
    this.worker = new Worker(file, { execArgv: [] });
    this.worker.unref();
    this.worker.on("message", (m: { error?: string }) => {
      const p = this.pending;
      this.pending = null;
      if (!p) return;
      if (m && typeof m === "object" && "error" in m && m.error)
        p.reject(new TrainError(`replica: ${m.error}`));
      else p.resolve(m);
    });
    const fail = (e: Error) => {
      this.failure = e;
      const p = this.pending;
      this.pending = null;
      p?.reject(new TrainError(`replica thread failed: ${e.message}`));
    };
    this.worker.on("error", fail);
    this.worker.on("exit", (code) => {
      if (code !== 0) fail(new Error(`exited with code ${code}`));
    });
  }

  call<T>(msg: unknown, transfer: ArrayBuffer[] = []): Promise<T> {
    if (this.failure) return Promise.reject(new TrainError(`replica thread failed: ${this.failure.message}`));
    if (this.pending) return Promise.reject(new TrainError("replica: a call is already in flight"));
    return new Promise<T>((resolve, reject) => {
      this.pending = { resolve: resolve as (v: unknown) => void, reject };
      this.worker.postMessage(msg, transfer);
    });
  }
}

/** Values of a map of variables as plain arrays (copies), for posting to a replica. */
function snapshot(vars: ReadonlyMap<string, tf.Variable>): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, v] of vars) out[name] = (v.dataSync() as Float32Array).slice();
  return out;
}

/**
 * Data-parallel training over worker threads — PyTorch `DistributedDataParallel` on one machine,
 * for the single-threaded `wasm`/`cpu` backends: each training batch is cut into shards
 * ({@link splitBatch}); the main thread computes the gradient of the first shard while each of
 * `threads − 1` worker threads (one model replica each, on its own backend instance) computes one of
 * the others from the main model's current weights; the gradients are averaged with shard-size weights
 * (= the full-batch gradient of a per-sample mean loss such as MSE or BCE) and the optimizer steps once.
 * BatchNorm normalises each shard with its own statistics (as DDP without SyncBatchNorm); running
 * statistics are averaged with the same weights.
 *
 * The model must be rebuildable from `model.config` by `createModelFromConfig` (every Genesis U-Net
 * is) and the loss must be one of `lossByName`'s.
 */
export class ReplicaPool {
  readonly threads: number;
  private readonly replicas: Replica[] = [];
  private ready: Promise<void> | null = null;

  /**
   * @param threads total threads including the calling one (≥ 2 to be useful)
   * @param model the main thread's model (its config rebuilds the replicas)
   * @param loss a `lossByName` name (`mse`, `dice`, `bce`, `bce+dice`, `bce-dice-reference`)
   */
  constructor(
    threads: number,
    private readonly model: GenesisModule,
    private readonly loss: string,
  ) {
    this.threads = threads;
  }

  /** Worker threads started so far (only as many as the largest batch seen needs). */
  get started(): number {
    return this.replicas.length;
  }

  /** Start replicas until there are `count` (never more than `threads − 1`: a batch of n uses n − 1). */
  private start(count: number): Promise<void> {
    const want = Math.min(count, this.threads - 1);
    if (this.replicas.length < want) {
      const file = workerFile();
      const init = { kind: "init", config: this.model.config, loss: this.loss, backend: tf.getBackend() };
      const fresh: Replica[] = [];
      while (this.replicas.length < want) {
        const r = new Replica(file);
        this.replicas.push(r);
        fresh.push(r);
      }
      const started = Promise.all(fresh.map((r) => r.call(init))).then(() => undefined);
      this.ready = this.ready ? Promise.all([this.ready, started]).then(() => undefined) : started;
    }
    return this.ready ?? Promise.resolve();
  }

  /**
   * One data-parallel gradient computation.
   * @param batch the whole batch
   * @param names trainable weights to differentiate
   * @param local computes loss and gradients of a shard on the main thread (the trainer's own path)
   * @returns the shard-weighted mean loss and the averaged gradients by name (the caller disposes them)
   * @throws what `local` threw, or TrainError `replica: …` with a worker's error; in both cases after
   *   every worker's call has settled, with the tensors of the step freed and the replicas' running
   *   statistics not applied (the main thread's own forward pass may have updated them: the trainer
   *   puts them back)
   */
  async gradients(
    batch: Batch,
    names: string[],
    local: (shard: Batch) => { loss: tf.Scalar; grads: Map<string, tf.Tensor> },
  ): Promise<{ loss: number; grads: Map<string, tf.Tensor> }> {
    const shards = splitBatch(batch, this.threads);
    await this.start(shards.length - 1);
    const n = batch.xShape[0];
    const weights = snapshot(this.model.trainableWeights);
    const nonTrainable = snapshot(this.model.nonTrainableWeights);
    const remote = shards.slice(1).map((s, i) => {
      const msg: ReplicaStep = {
        kind: "step",
        names,
        weights,
        nonTrainable,
        x: s.x.slice(),
        xShape: s.xShape,
        y: s.y.slice(),
        yShape: s.yShape,
      };
      return this.replicas[i].call<ReplicaStepResult>(msg, [
        msg.x.buffer as ArrayBuffer,
        msg.y.buffer as ArrayBuffer,
      ]);
    });
    // every replica's call settles before this returns or throws: a call left in flight would make
    // the next step fail ("a call is already in flight") and its rejection go unhandled
    let mine: { loss: tf.Scalar; grads: Map<string, tf.Tensor> };
    try {
      mine = local(shards[0]);
    } catch (e) {
      await Promise.allSettled(remote);
      throw e;
    }
    const settled = await Promise.allSettled(remote);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
    const w0 = shards[0].xShape[0] / n;
    let loss: number;
    const grads = new Map<string, tf.Tensor>();
    try {
      if (failed) throw failed.reason;
      const results = settled.map((r) => (r as PromiseFulfilledResult<ReplicaStepResult>).value);
      loss = (await mine.loss.data())[0] * w0;
      results.forEach((r, i) => {
        loss += r.loss * (shards[i + 1].xShape[0] / n);
      });
      tf.tidy(() => {
        names.forEach((name, k) => {
          const g0 = mine.grads.get(name);
          const shape = this.model.trainableWeights.get(name)!.shape;
          let acc: tf.Tensor | null = g0 ? tf.mul(g0, w0) : null;
          results.forEach((r, i) => {
            const a = r.grads[k];
            if (!a) return;
            const t = tf.mul(tf.tensor(a, shape, "float32"), shards[i + 1].xShape[0] / n);
            acc = acc ? tf.add(acc, t) : t;
          });
          if (acc) grads.set(name, tf.keep(acc));
        });
      });
      this.averageRunningStatistics(results, shards, w0);
    } catch (e) {
      for (const g of grads.values()) g.dispose();
      throw e;
    } finally {
      mine.loss.dispose();
      for (const g of mine.grads.values()) g.dispose();
    }
    return { loss, grads };
  }

  /** Running statistics: the shard-weighted mean of the replicas' updates and the main thread's. */
  private averageRunningStatistics(results: ReplicaStepResult[], shards: Batch[], w0: number): void {
    const n = shards.reduce((a, s) => a + s.xShape[0], 0);
    if (this.model.nonTrainableWeights.size > 0) {
      tf.tidy(() => {
        for (const [name, v] of this.model.nonTrainableWeights) {
          let acc: tf.Tensor = tf.mul(v, w0);
          results.forEach((r, i) => {
            acc = tf.add(
              acc,
              tf.mul(tf.tensor(r.nonTrainable[name], v.shape, "float32"), shards[i + 1].xShape[0] / n),
            );
          });
          v.assign(acc);
        }
      });
    }
  }

  /** Stop the worker threads. */
  async close(): Promise<void> {
    await Promise.all(this.replicas.map((r) => r.worker.terminate()));
    this.replicas.length = 0;
    this.ready = null;
  }
}
