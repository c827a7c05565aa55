import { type ConnectionOptions, type Job, Queue, UnrecoverableError, Worker } from "bullmq";
import type { RedisOptions } from "ioredis";
import { CellProcess } from "./cell-process.js";
import { validateCubesCell } from "./cubes-jobs.js";
import { type AnyCell, type CellResult, cellLabel, executeCell, writeResult } from "./results.js";
import { JobRejectedError, validateCell } from "./validate.js";

/** Default BullMQ queue name of grids. */
export const DEFAULT_QUEUE = "genesis-grid";

/** A BullMQ queue handle on `name` (inspection, tests); close it after use. */
export function openQueue(name: string, connection: RedisOptions): Queue<AnyCell, CellResult> {
  return new Queue<AnyCell, CellResult>(name, { connection: connection as ConnectionOptions });
}

/** Options shared by the producer and the workers. */
export interface QueueOptions {
  /** ioredis options from `connectionOptions` (URL + environment). */
  readonly connection: RedisOptions;
  /** BullMQ queue name; default {@link DEFAULT_QUEUE}. */
  readonly queueName?: string;
  readonly log?: (line: string) => void;
}

/** A job that ended without a result: rejected by a worker's validation, or failed past its attempts. */
export interface QueueFailure {
  readonly id: string;
  readonly reason: string;
}

/** Options of {@link runQueue}. */
export interface QueueRunOptions extends QueueOptions {
  /** Poll interval in ms for job states; default 500. */
  readonly pollMs?: number;
  /** Give up waiting after this many ms (default: wait for ever). */
  readonly timeoutMs?: number;
  readonly onResult?: (r: CellResult) => void;
}

/**
 * The producer side of a queued grid: add one BullMQ job per cell (job id = cell id, so a cell
 * already in the queue — waiting, running or completed — is not added twice), then wait for every
 * job, writing each completed job's result (its return value) atomically to
 * `OUT/results/<id>.json`. A failed job (or a completed job with a `failed` result) left in Redis
 * by an earlier run of one of `cells` is removed first, so the cell really runs again
 * (`--retry-failed`). A job that failed for good (rejected by a worker, or an internal error
 * past its 3 attempts) is returned in `failures` and written as a `failed` result.
 *
 * Workers (`runQueueWorker`, `genesis worker --queue …`) may run anywhere that reaches Redis.
 */
export async function runQueue(
  out: string,
  cells: readonly AnyCell[],
  o: QueueRunOptions,
): Promise<{ results: CellResult[]; failures: QueueFailure[] }> {
  const log = o.log ?? (() => {});
  const queue = openQueue(o.queueName ?? DEFAULT_QUEUE, o.connection);
  const results: CellResult[] = [];
  const failures: QueueFailure[] = [];
  try {
    // A cell asked to run again (`--retry-failed`) may still have its old job in Redis under the
    // same id (= cell id): a failed job (rejected, or failed past its attempts) or a completed one
    // whose result is `failed`. BullMQ would not add it again, so the stale failure would come
    // straight back: remove those jobs first. Waiting, running and done jobs are kept.
    let removed = 0;
    for (const c of cells) {
      const old = (await queue.getJob(c.id)) as Job<AnyCell, CellResult> | undefined;
      if (!old) continue;
      const state = await old.getState();
      if (state === "failed" || (state === "completed" && old.returnvalue?.status === "failed")) {
        await old.remove();
        removed++;
      }
    }
    if (removed > 0) log(`removed ${removed} failed jobs of earlier runs from the queue to run them again`);
    await queue.addBulk(
      cells.map((c) => ({
        name: c.kind === "cubes" ? "cubes" : "cell",
        data: c,
        opts: { jobId: c.id, attempts: 3, backoff: { type: "exponential", delay: 1000 } },
      })),
    );
    log(`queued ${cells.length} cells on ${o.queueName ?? DEFAULT_QUEUE}`);
    const waiting = new Map(cells.map((c) => [c.id, c]));
    const t0 = Date.now();
    while (waiting.size > 0) {
      const ids = [...waiting.keys()];
      const jobs = await Promise.all(ids.map((id) => queue.getJob(id)));
      for (let k = 0; k < ids.length; k++) {
        const id = ids[k];
        const job = jobs[k] as Job<AnyCell, CellResult> | undefined;
        if (!job) {
          // removed by someone (e.g. a queue clean): add it again
          const c = waiting.get(id)!;
          await queue.add(c.kind === "cubes" ? "cubes" : "cell", c, {
            jobId: id,
            attempts: 3,
            backoff: { type: "exponential", delay: 1000 },
          });
          continue;
        }
        if (job.finishedOn && job.returnvalue) {
          const r = job.returnvalue;
          await writeResult(out, r);
          results.push(r);
          o.onResult?.(r);
          waiting.delete(id);
          log(
            `${r.task} ${r.init} run ${r.run}: ${r.status === "done" ? r.value?.toFixed(4) : `failed: ${r.error}`}`,
          );
        } else if (job.finishedOn && job.failedReason && (await job.isFailed())) {
          const c = waiting.get(id)!;
          const reason = job.failedReason;
          failures.push({ id, reason });
          const r: CellResult = {
            ...cellLabel(c),
            status: "failed",
            error: `job failed: ${reason}`,
            seconds: 0,
            host: "",
            pid: 0,
            finishedAt: new Date(job.finishedOn).toISOString(),
          };
          await writeResult(out, r);
          results.push(r);
          waiting.delete(id);
          log(`${r.task} ${r.init} run ${r.run}: job failed: ${reason}`);
        }
      }
      if (waiting.size === 0) break;
      if (o.timeoutMs !== undefined && Date.now() - t0 > o.timeoutMs)
        throw new Error(
          `${waiting.size} cells still unfinished after ${o.timeoutMs} ms (are workers running?)`,
        );
      await new Promise((r) => setTimeout(r, o.pollMs ?? 500));
    }
    return { results, failures };
  } finally {
    await queue.close();
  }
}

/** Options of {@link runQueueWorker}. */
export interface QueueWorkerOptions extends QueueOptions {
  /** Where cells run (`WORK/<id>/`: checkpoints, models, `result.json`). */
  readonly workRoot: string;
  /** Folders a job's paths must lie in (see `validateCell`). */
  readonly dataRoots: readonly string[];
  /** Jobs this process runs at once; default 1 (run several processes for several GPUs). */
  readonly concurrency?: number;
  /** BullMQ lock duration in ms (a job whose lock is not renewed this long is stalled); default 30000. */
  readonly lockDuration?: number;
  /** How often this worker checks for stalled jobs, ms; default 30000. */
  readonly stalledInterval?: number;
  /** Stalls before a job is failed for good; default 3. */
  readonly maxStalledCount?: number;
  /**
   * Run cells in this process instead of a child process (default false). Only for cells that never
   * block the event loop longer than the lock duration (synthetic cells in tests).
   */
  readonly inProcess?: boolean;
  /** Called with every rejected job (id and reason), after it is logged. */
  readonly onReject?: (f: QueueFailure) => void;
}

/**
 * A queue worker: takes cells from the BullMQ queue and runs them with `executeCell`. Every job is
 * validated first (`validateCell` against `dataRoots`); a job that fails validation is logged as
 * `rejected job <id>: <reason>` and failed without retry (BullMQ `UnrecoverableError`), so a
 * foreign message cannot make the worker read or write outside its folders. Cells run in a child
 * process (`CellProcess`, one per concurrent job, reused) so that training never blocks the lock
 * renewal of the job; the child dies with the worker. A worker killed
 * mid-job loses its lock; another worker's stalled-job check puts the job back and it resumes from
 * the cell's checkpoint in `workRoot` (shared storage across machines, or the same machine).
 *
 * @returns the BullMQ worker (close it to stop).
 */
export function runQueueWorker(o: QueueWorkerOptions): Worker<AnyCell, CellResult> {
  const log = o.log ?? (() => {});
  // one cell process per concurrent job, reused across jobs (see CellProcess)
  const idle: CellProcess[] = [];
  const all: CellProcess[] = [];
  const worker = new Worker<AnyCell, CellResult>(
    o.queueName ?? DEFAULT_QUEUE,
    async (job) => {
      let cell: AnyCell;
      try {
        const kind = (job.data as { kind?: unknown } | null)?.kind;
        cell =
          kind === "cubes" ? validateCubesCell(job.data, o.dataRoots) : validateCell(job.data, o.dataRoots);
      } catch (e) {
        if (!(e instanceof JobRejectedError)) throw e;
        const f = { id: String(job.id), reason: e.message };
        log(`rejected job ${f.id}: ${f.reason}`);
        o.onReject?.(f);
        throw new UnrecoverableError(`rejected: ${e.message}`);
      }
      if (cell.id !== job.id) {
        const f = { id: String(job.id), reason: `job id ${job.id} is not the cell's id ${cell.id}` };
        log(`rejected job ${f.id}: ${f.reason}`);
        o.onReject?.(f);
        throw new UnrecoverableError(`rejected: ${f.reason}`);
      }
      const l = cellLabel(cell);
      log(`${l.task} ${l.init} run ${l.run} (${cell.id}), attempt ${job.attemptsMade + 1}`);
      if (o.inProcess) return executeCell(cell, o.workRoot, log);
      const proc = idle.pop() ?? new CellProcess();
      if (!all.includes(proc)) all.push(proc);
      try {
        return await proc.run(cell, o.workRoot, log);
      } finally {
        idle.push(proc);
      }
    },
    {
      connection: o.connection as ConnectionOptions,
      concurrency: o.concurrency ?? 1,
      lockDuration: o.lockDuration ?? 30000,
      stalledInterval: o.stalledInterval ?? 30000,
      maxStalledCount: o.maxStalledCount ?? 3,
    },
  );
  worker.on("error", (e) => log(`queue error: ${e.message}`));
  worker.on("closed", () => {
    for (const p of all) p.close();
  });
  return worker;
}
