import { type ChildProcess, fork } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { type AnyCell, type CellResult, cellLabel, writeResult } from "./results.js";

/**
 * A built program of this package by name (`child` = `dist/child.js`, the local runner's worker
 * process; `worker-main` = `dist/worker-main.js`, a queue worker process), also when this module
 * runs from `src/` (tests).
 * @throws Error when the package is not built.
 */
export function gridProgram(name: "child" | "worker-main"): string {
  const here = new URL(".", import.meta.url);
  const beside = fileURLToPath(new URL(`./${name}.js`, here));
  const path = existsSync(beside) ? beside : fileURLToPath(new URL(`../dist/${name}.js`, here));
  if (!existsSync(path)) throw new Error(`${path}: the grid's ${name} program is not built (run pnpm build)`);
  return path;
}

/** Options of {@link runLocal}. */
export interface LocalRunOptions {
  /** Concurrent worker processes (≥ 1). */
  readonly workers: number;
  /**
   * GPU per worker process: worker k gets `gpus[k mod gpus.length]` as `CUDA_VISIBLE_DEVICES` and
   * `GENESIS_GPU_INDEX`; none by default.
   */
  readonly gpus?: readonly string[];
  /** Starts of one cell before it is recorded as failed when its process keeps dying; default 3. */
  readonly maxAttempts?: number;
  readonly log?: (line: string) => void;
  /** Extra environment of the worker processes. */
  readonly env?: NodeJS.ProcessEnv;
  /** Called with each worker process when it starts (tests kill one). */
  readonly onSpawn?: (child: ChildProcess, index: number) => void;
  /** Called with each result after it is written. */
  readonly onResult?: (r: CellResult) => void;
}

/**
 * Run `cells` on `workers` concurrent worker processes on this machine (no Redis): every line a
 * worker process logs or prints goes to `log` (else stderr) prefixed `[w0]`, `[w1]`, …; each process
 * takes the next cell when it is free, runs it in `OUT/work/<id>/` and the result is written
 * atomically to `OUT/results/<id>.json` (see `executeCell`). A process that dies mid-cell (killed,
 * out of memory) is replaced and its cell started again — resuming from the cell's checkpoint —
 * up to `maxAttempts` starts; after that the cell is recorded as failed with the exit reason.
 *
 * @returns the results of `cells` in the order they finished.
 */
export async function runLocal(
  out: string,
  cells: readonly AnyCell[],
  o: LocalRunOptions,
): Promise<CellResult[]> {
  if (!Number.isInteger(o.workers) || o.workers < 1)
    throw new Error(`--workers must be a positive integer, got ${o.workers}`);
  const log = o.log ?? (() => {});
  const maxAttempts = o.maxAttempts ?? 3;
  const queue = [...cells];
  const attempts = new Map<string, number>();
  const results: CellResult[] = [];
  const workRoot = join(out, "work");
  const program = gridProgram("child");
  let spawned = 0;
  return new Promise<CellResult[]>((resolveAll, rejectAll) => {
    let live = 0;
    let failed: Error | undefined;
    const finishIfDone = () => {
      if (live === 0) failed ? rejectAll(failed) : resolveAll(results);
    };
    const start = () => {
      const index = spawned++;
      const gpu = o.gpus?.length ? o.gpus[index % o.gpus.length] : undefined;
      const child = fork(program, [], {
        env: {
          ...process.env,
          ...o.env,
          ...(gpu !== undefined ? { CUDA_VISIBLE_DEVICES: gpu, GENESIS_GPU_INDEX: gpu } : {}),
        },
        // the process's own output (libraries, warnings) is piped and prefixed [wN] like its log lines
        stdio: ["ignore", "pipe", "pipe", "ipc"],
        // not the parent's flags (a test runner's loader conditions would point it at sources)
        execArgv: [],
        serialization: "json",
      });
      live++;
      for (const stream of [child.stdout, child.stderr])
        if (stream)
          createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY }).on("line", (line) =>
            o.log ? o.log(`[w${index}] ${line}`) : process.stderr.write(`[w${index}] ${line}\n`),
          );
      o.onSpawn?.(child, index);
      let current: AnyCell | undefined;
      let ready = false;
      const next = () => {
        current = queue.shift();
        if (!current) {
          child.send({ type: "stop" });
          return;
        }
        attempts.set(current.id, (attempts.get(current.id) ?? 0) + 1);
        const l = cellLabel(current);
        log(`[w${index}] ${l.task} ${l.init} run ${l.run} (${current.id})`);
        child.send({ type: "run", cell: current, workRoot });
      };
      child.on("message", (m: { type: string; line?: string; result?: CellResult; message?: string }) => {
        if (m.type === "ready") {
          ready = true;
          next();
        } else if (m.type === "log") log(`[w${index}] ${m.line}`);
        else if (m.type === "result" && m.result) {
          const r = m.result;
          writeResult(out, r)
            .then(() => {
              results.push(r);
              o.onResult?.(r);
              log(
                `[w${index}] ${r.task} ${r.init} run ${r.run}: ${r.status === "done" ? r.value?.toFixed(4) : `failed: ${r.error}`}`,
              );
              next();
            })
            .catch((e: Error) => {
              failed ??= e;
              child.kill();
            });
        } else if (m.type === "error") {
          failed ??= new Error(m.message);
          child.kill();
        }
      });
      child.on("exit", async (code, signal) => {
        const lost = current;
        current = undefined;
        if (!ready)
          failed ??= new Error(
            `${program}: worker process exited before it was ready (${signal ?? `exit code ${code}`})`,
          );
        if (lost && !failed) {
          const why = signal ? `signal ${signal}` : `exit code ${code}`;
          if ((attempts.get(lost.id) ?? 0) < maxAttempts) {
            log(`[w${index}] worker process died (${why}) during ${lost.id}; starting the cell again`);
            queue.unshift(lost);
          } else {
            const r: CellResult = {
              ...cellLabel(lost),
              status: "failed",
              error: `worker process died ${maxAttempts} times (last: ${why})`,
              seconds: 0,
              host: "",
              pid: child.pid ?? 0,
              finishedAt: new Date().toISOString(),
            };
            try {
              await writeResult(out, r);
              results.push(r);
            } catch (e) {
              failed ??= e as Error;
            }
          }
        }
        live--;
        if (queue.length > 0 && !failed && live < o.workers) start();
        finishIfDone();
      });
    };
    for (let k = 0; k < Math.min(o.workers, Math.max(queue.length, 0)); k++) start();
    if (queue.length === 0) resolveAll(results);
  });
}
