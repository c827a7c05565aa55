import { existsSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { hostname } from "node:os";
import { basename, join } from "node:path";
import { writeFileAtomic } from "@models-genesis/volume-io";
import { runTaskCell, type TaskCellInput } from "./cell-runner.js";
import { type CubesCell, runCubesCell } from "./cubes-jobs.js";
import { CELL_ID_PATTERN } from "./ids.js";
import type { GridCell } from "./plan.js";
import { runSyntheticCell } from "./synthetic.js";

/** Any job of a grid folder: a fine-tuning cell (or its synthetic stand-in), or the cubes of one scan. */
export type AnyCell = GridCell | CubesCell;

/**
 * The outcome of one cell (`results/<id>.json`). Values are fractions, as the metrics return them.
 * Cubes jobs: `task` is `cubes`, `init` the scan's file name, `run` its index, `value` the cube count.
 */
export interface CellResult {
  readonly id: string;
  readonly kind: AnyCell["kind"];
  readonly task: string;
  readonly init: string;
  readonly run: number;
  readonly seed: number;
  /** `done`: `value` holds the headline metric; `failed`: the cell threw (`error` holds its message). */
  readonly status: "done" | "failed";
  readonly value?: number;
  readonly metrics?: Record<string, number>;
  readonly error?: string;
  /** Cubes jobs: why the scan gave no cube (too small for the borders). */
  readonly note?: string;
  /** Synthetic cells: the checkpointed step the last start resumed from (0 = from the beginning). */
  readonly resumedFromStep?: number;
  /** Wall-clock seconds of the last (successful or failing) start. */
  readonly seconds: number;
  readonly host: string;
  readonly pid: number;
  readonly finishedAt: string;
}

/** `OUT/results/<id>.json`. */
export const resultFile = (out: string, id: string) => join(out, "results", `${id}.json`);

/** Write a cell's result atomically under its id (`OUT/results/<id>.json`). */
export async function writeResult(out: string, r: CellResult): Promise<void> {
  if (!CELL_ID_PATTERN.test(r.id)) throw new Error(`result id ${JSON.stringify(r.id)} is not a cell id`);
  await writeFileAtomic(resultFile(out, r.id), `${JSON.stringify(r, null, 2)}\n`, { mkdir: true });
}

/** The result of cell `id` in `out`, or undefined when there is none (or it cannot be read). */
export async function readResult(out: string, id: string): Promise<CellResult | undefined> {
  const f = resultFile(out, id);
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(await readFile(f, "utf8")) as CellResult;
  } catch {
    return undefined;
  }
}

/** Every result in `OUT/results/` by id (files that are not results are ignored). */
export async function readResults(out: string): Promise<Map<string, CellResult>> {
  const dir = join(out, "results");
  const m = new Map<string, CellResult>();
  if (!existsSync(dir)) return m;
  for (const f of await readdir(dir)) {
    const id = f.replace(/\.json$/, "");
    if (!f.endsWith(".json") || !CELL_ID_PATTERN.test(id)) continue;
    const r = await readResult(out, id);
    if (r) m.set(id, r);
  }
  return m;
}

/**
 * Whether a cell still has to run: it has no result in `out`, or its result is `failed` and
 * `retryFailed` is set.
 */
export async function pending<C extends { readonly id: string }>(
  out: string,
  cells: readonly C[],
  retryFailed = false,
): Promise<C[]> {
  const have = await readResults(out);
  return cells.filter((c) => {
    const r = have.get(c.id);
    return !r || (retryFailed && r.status === "failed");
  });
}

/**
 * Run one cell in `workRoot/<id>/` and return its result; the result is also written atomically
 * to `workRoot/<id>/result.json`, and a start that finds a `done` result there returns it without
 * running again (a job whose completion was lost is not computed twice; a `failed` one is rerun). An error thrown by the cell
 * (missing data, bad weights) becomes a `failed` result carrying its message; only a crash of the
 * process leaves no result (the runner or the queue then retries the cell).
 */
export async function executeCell(
  cell: AnyCell,
  workRoot: string,
  log: (line: string) => void,
): Promise<CellResult> {
  if (!CELL_ID_PATTERN.test(cell.id)) throw new Error(`cell id ${JSON.stringify(cell.id)} is not a cell id`);
  const workDir = join(workRoot, cell.id);
  const done = join(workDir, "result.json");
  if (existsSync(done)) {
    try {
      const prev = JSON.parse(await readFile(done, "utf8")) as CellResult;
      // a failed result is not reused: running a failed cell again (`--retry-failed`) must run it
      if (prev.status === "done") return prev;
    } catch {
      // a torn file cannot exist (atomic writes); anything unreadable is recomputed
    }
  }
  const { mkdir } = await import("node:fs/promises");
  await mkdir(workDir, { recursive: true });
  const t0 = performance.now();
  const base = { ...cellLabel(cell), host: hostname(), pid: process.pid };
  let result: CellResult;
  try {
    if (cell.kind === "cubes") {
      const c = await runCubesCell(cell, workDir);
      log(`${cell.scan}: ${c.count} cubes in ${c.attempts} attempts${c.skipped ? ` (${c.skipped})` : ""}`);
      const r: CellResult = {
        ...base,
        status: "done",
        value: c.count,
        metrics: { attempts: c.attempts },
        ...(c.skipped ? { note: c.skipped } : {}),
        seconds: (performance.now() - t0) / 1000,
        finishedAt: new Date().toISOString(),
      };
      await writeFileAtomic(done, `${JSON.stringify(r, null, 2)}\n`);
      return r;
    }
    const r =
      cell.kind === "synthetic"
        ? await runSyntheticCell(cell, workDir, log)
        : await runTaskCell(toTaskInput(cell), workDir, log);
    result = {
      ...base,
      status: "done",
      value: r.value,
      metrics: r.metrics,
      ...("resumedFromStep" in r ? { resumedFromStep: r.resumedFromStep as number } : {}),
      seconds: (performance.now() - t0) / 1000,
      finishedAt: new Date().toISOString(),
    };
  } catch (e) {
    const message = e instanceof Error ? e.message : String(e);
    log(`cell ${cell.id} (${base.task} ${base.init} run ${base.run}) failed: ${message}`);
    result = {
      ...base,
      status: "failed",
      error: message,
      seconds: (performance.now() - t0) / 1000,
      finishedAt: new Date().toISOString(),
    };
  }
  await writeFileAtomic(done, `${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The identifying fields of a result for any cell. */
export function cellLabel(cell: AnyCell): Pick<CellResult, "id" | "kind" | "task" | "init" | "run" | "seed"> {
  if (cell.kind === "cubes")
    return {
      id: cell.id,
      kind: "cubes",
      task: "cubes",
      init: basename(cell.scan),
      run: cell.index,
      seed: cell.seed,
    };
  return { id: cell.id, kind: cell.kind, task: cell.task, init: cell.init, run: cell.run, seed: cell.seed };
}

function toTaskInput(c: GridCell): TaskCellInput {
  const b = c.budget;
  return {
    task: c.task as TaskCellInput["task"],
    init: c.init as TaskCellInput["init"],
    run: c.run,
    seed: c.seed,
    splitSeed: c.splitSeed,
    data: c.data,
    weights: c.weights,
    weights2d: c.weights2d,
    quick: b.quick,
    epochs: b.epochs,
    stepsPerEpoch: b.stepsPerEpoch,
    scratchWidth: b.scratchWidth,
    batchSize: b.batchSize,
    threads: b.threads,
  };
}
