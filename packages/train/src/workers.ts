import { Worker } from "node:worker_threads";
import { TrainError } from "./errors.js";

// The worker's whole program: load the user's module, then answer {id, args} messages with the
// result of its exported function, transferring the typed arrays of the result (no copy back).
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const ready = import(workerData.module).then((m) => {
  const fn = m[workerData.exportName];
  if (typeof fn !== "function") throw new Error(workerData.module + " exports no function named " + workerData.exportName);
  return fn;
});
function buffers(v, acc) {
  if (ArrayBuffer.isView(v)) { if (v.buffer instanceof ArrayBuffer && !acc.includes(v.buffer)) acc.push(v.buffer); }
  else if (v && typeof v === "object") for (const k of Object.keys(v)) buffers(v[k], acc);
  return acc;
}
parentPort.on("message", async ({ id, args }) => {
  try {
    const fn = await ready;
    const out = await fn(...args);
    parentPort.postMessage({ id, out }, buffers(out, []));
  } catch (e) {
    parentPort.postMessage({ id, error: (e && e.stack) || String(e) });
  }
});
`;

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /**
   * The module the workers import — an absolute path or `file:` URL of a JavaScript ES module (the
   * built `dist/…js` of a package, or an `.mjs` file; worker threads cannot load TypeScript sources).
   */
  module: string | URL;
  /** Name of the exported function to call. */
  exportName: string;
  /** Number of worker threads; default 2. */
  size?: number;
}

interface Task {
  id: number;
  args: unknown[];
  transfer: ArrayBuffer[];
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
}

/**
 * A fixed pool of worker threads that run one exported function of a JavaScript module — for
 * CPU-heavy, pure per-sample transforms (e.g. Genesis pair generation) that should run beside the
 * training step. Arguments are structured-cloned (pass copies, not views of a large buffer); typed
 * arrays in the result are transferred back. Results arrive in any order; callers that need
 * determinism pass explicit seeds (see `arrayBatchSource`'s `transformAsync`).
 */
export class WorkerPool<Args extends unknown[] = unknown[], Out = unknown> {
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Task[] = [];
  private readonly running = new Map<Worker, Task>();
  private nextId = 0;
  private closed = false;
  readonly module: string;

  /** @throws TrainError when size < 1 */
  constructor(opts: WorkerPoolOptions) {
    const size = opts.size ?? 2;
    if (!(size >= 1)) throw new TrainError(`WorkerPool: size must be ≥ 1, got ${size}`);
    const m = opts.module instanceof URL ? opts.module.href : opts.module;
    this.module = m.startsWith("file:") ? m : new URL(`file://${m}`).href;
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module: this.module, exportName: opts.exportName },
      });
      w.on("message", (msg: { id: number; out?: unknown; error?: string }) => this.onMessage(w, msg));
      w.on("error", (e) => this.onFailure(w, e));
      w.unref();
      this.workers.push(w);
      this.idle.push(w);
    }
  }

  /**
   * Run the function on the next free worker.
   * @param transfer buffers to move (not copy) into the worker; they become unusable here
   * @returns the function's result; rejects with a TrainError naming the module on a worker error
   */
  run(args: Args, transfer: ArrayBuffer[] = []): Promise<Out> {
    if (this.closed) return Promise.reject(new TrainError(`WorkerPool(${this.module}): the pool is closed`));
    return new Promise<Out>((resolve, reject) => {
      this.queue.push({
        id: this.nextId++,
        args,
        transfer,
        resolve: resolve as (v: unknown) => void,
        reject,
      });
      this.pump();
    });
  }

  /** Terminate every worker; pending calls reject. */
  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.reject(new TrainError(`WorkerPool(${this.module}): closed`));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private pump(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const w = this.idle.shift()!;
      const t = this.queue.shift()!;
      this.running.set(w, t);
      w.ref();
      w.postMessage({ id: t.id, args: t.args }, t.transfer);
    }
  }

  private onMessage(w: Worker, msg: { id: number; out?: unknown; error?: string }): void {
    const t = this.running.get(w);
    this.running.delete(w);
    w.unref();
    this.idle.push(w);
    if (t) {
      if (msg.error !== undefined) t.reject(new TrainError(`WorkerPool(${this.module}): ${msg.error}`));
      else t.resolve(msg.out);
    }
    this.pump();
  }

  private onFailure(w: Worker, e: Error): void {
    const t = this.running.get(w);
    this.running.delete(w);
    t?.reject(new TrainError(`WorkerPool(${this.module}): worker failed: ${e.message}`));
  }
}
