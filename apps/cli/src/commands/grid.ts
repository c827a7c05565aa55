import { resolve } from "node:path";
import {
  type AnyCell,
  buildReport,
  type CellBudget,
  type CellResult,
  checkConnection,
  connectionOptions,
  DEFAULT_QUEUE,
  makePlan,
  parseShard,
  pending,
  planCubes,
  readPlan,
  readResults,
  redactUrl,
  reportMarkdown,
  runLocal,
  runQueue,
  shardCells,
  writeCubesManifest,
  writePlan,
  writeReport,
} from "@models-genesis/grid";
import { writeFileAtomic } from "@models-genesis/volume-io";
import type { Command } from "commander";
import { ExitCodeError } from "../lib/exit.js";

const log = (line: string) => process.stderr.write(`genesis grid: ${line}\n`);

const list = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");

/** A positive integer option value. @throws Error naming the flag. */
function posInt(flag: string, v: string | undefined, min = 1): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new Error(`${flag}: "${v}" is not an integer ≥ ${min}`);
  return n;
}

/** `--data ncs=DIR` (repeatable), or `--data DIR` with a single task. @throws Error on a bad entry. */
function parseData(entries: readonly string[], tasks: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of entries) {
    const m = /^([a-z]+)=(.+)$/.exec(e);
    if (m) out[m[1]] = resolve(m[2]);
    else if (tasks.length === 1) out[tasks[0]] = resolve(e);
    else throw new Error(`--data "${e}": with several tasks, give TASK=DIR (e.g. ncs=/data/lidc)`);
  }
  return out;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** `--patch-size XxYxZ` (voxels). @throws Error naming the bad value. */
function parsePatchSize(v: string): [number, number, number] {
  const p = v.split(/[x×,]/).map((s) => Number(s.trim()));
  if (p.length !== 3 || p.some((n) => !Number.isInteger(n) || n < 1))
    throw new Error(`--patch-size "${v}": expected XxYxZ voxels, e.g. 64x64x32`);
  return p as [number, number, number];
}

/** Shared `run` options: local workers / queue / shard. */
interface RunFlags {
  workers?: string;
  gpus?: string;
  shard?: string;
  queue?: string;
  queueName?: string;
  retryFailed?: boolean;
}

/**
 * Run `cells` (those without a result in `out`) in the mode the flags choose: static shard
 * filter, then the queue (`--queue`) or local worker processes (`--workers`).
 */
async function runCells(
  out: string,
  all: readonly AnyCell[],
  o: RunFlags,
): Promise<{ results: CellResult[]; cells: number; failed: number }> {
  // options first: a bad --queue URL or --shard is refused before anything runs
  const connection = o.queue ? connectionOptions(o.queue) : undefined;
  const shard = o.shard ? parseShard(o.shard) : undefined;
  const workers = posInt("--workers", o.workers ?? "1") as number;
  let cells = [...all];
  if (shard) {
    cells = shardCells(cells, shard.index, shard.count);
    log(`shard ${shard.index}/${shard.count}: ${cells.length} of ${all.length} cells`);
  }
  const toRun = await pending(out, cells, o.retryFailed ?? false);
  const before = await readResults(out);
  const toRunIds = new Set(toRun.map((c) => c.id));
  const oldFailed = cells.filter((c) => !toRunIds.has(c.id) && before.get(c.id)?.status === "failed").length;
  log(
    `${cells.length - toRun.length} of ${cells.length} cells already have results${oldFailed ? `, ${oldFailed} failed (rerun them with --retry-failed)` : ""}; ${toRun.length} to run`,
  );
  let results: CellResult[];
  if (toRun.length === 0) {
    // nothing to run: no queue connection, no worker processes
    results = [];
  } else if (connection) {
    await checkConnection(connection);
    log(
      `queue mode: ${redactUrl(o.queue as string)} queue ${o.queueName}; start workers with genesis worker --queue …`,
    );
    ({ results } = await runQueue(out, toRun, { connection, queueName: o.queueName, log }));
  } else {
    results = await runLocal(out, toRun, { workers, gpus: o.gpus ? list(o.gpus) : undefined, log });
  }
  const failed = results.filter((r) => r.status === "failed").length;
  log(`ran ${results.length} cells: ${results.length - failed} done, ${failed} failed`);
  const after = await readResults(out);
  const failedNow = cells.filter((c) => after.get(c.id)?.status === "failed").length;
  return { results, cells: cells.length, failed: failedNow };
}

/** Add the shared run-mode options to a command. */
function runOptions(cmd: Command): Command {
  return cmd
    .option("--workers <n>", "local mode: concurrent worker processes (one per GPU or core group)", "1")
    .option(
      "--gpus <list>",
      "local mode: GPU index per worker process, round robin (CUDA_VISIBLE_DEVICES, GENESIS_GPU_INDEX)",
    )
    .option(
      "--shard <i/N>",
      "run only static shard i of N (cells k with k mod N = i); env/N reads JOB_COMPLETION_INDEX",
    )
    .option(
      "--queue <url>",
      "queue mode: redis://HOST:PORT or rediss://HOST:PORT (password: GENESIS_REDIS_PASSWORD or GENESIS_REDIS_PASSWORD_FILE)",
    )
    .option("--queue-name <name>", "BullMQ queue name", DEFAULT_QUEUE)
    .option(
      "--retry-failed",
      "run failed cells again (their old results and, in queue mode, their failed jobs are replaced)",
      false,
    );
}

/**
 * `genesis grid plan|run|report`: the paper's protocol (task × init × runs, mean ± s.d. and
 * significance) as a grid of independent fine-tuning runs, run locally on N processes, on a
 * BullMQ/Redis queue served by `genesis worker`, or as static shards (`--shard i/N`).
 */
export function register(program: Command): void {
  const grid = program
    .command("grid")
    .description(
      "Experiment grids (task × init × run): plan, run locally / on a Redis queue / as shards, report",
    );

  grid
    .command("plan")
    .description(
      "Write DIR/plan.json: every cell (task, init, run, derived seed, data, budget) with a content-derived id",
    )
    .requiredOption("--out <dir>", "grid folder (plan.json, results/, work/, report.*)")
    .requiredOption("--tasks <list>", "target tasks, comma-separated: ncc, ncs, ecc, lcs, bms")
    .option(
      "--init <list>",
      "initialisations: scratch, genesis, official, scratch-2d, genesis-2d",
      "scratch,genesis",
    )
    .option("--runs <n>", "runs per task × init (the paper: 10)", "10")
    .option("--seed <n>", "grid seed: cell seeds are derived from it; also the data-split seed", "0")
    .option(
      "--data <task=dir>",
      "dataset root of a task in its native layout (repeatable; DIR alone with one task); default: the sample layout",
      collect,
      [],
    )
    .option(
      "--weights <path>",
      "pretrained weights for genesis/official: our model directory or Genesis_Chest_CT.pt/.h5",
    )
    .option("--weights-2d <dir>", "2-D model directory for genesis-2d")
    .option("--quick", "the apps' short schedule (2 epochs × 4 steps, batch ≤ 2, scratch width 4)", false)
    .option("--epochs <n>", "maximum epochs per run")
    .option("--steps-per-epoch <n>", "steps per epoch cap")
    .option("--width <n>", "width of from-scratch models (default: the weights' width, else 32; quick 4)")
    .option("--batch-size <n>", "batch size")
    .option("--threads <n>", "training threads per cell process")
    .option(
      "--synthetic",
      "synthetic cells (a seeded number after --steps checkpointed sleeps) to try the machinery",
      false,
    )
    .option("--steps <n>", "synthetic cells: steps (default 5)")
    .option("--sleep-ms <n>", "synthetic cells: ms per step (default 50)")
    .action(async (o: Record<string, string | boolean | string[] | undefined>) => {
      const tasks = list(o.tasks as string);
      const budget: Record<string, number | boolean | undefined> = {
        quick: o.quick as boolean,
        epochs: posInt("--epochs", o.epochs as string | undefined),
        stepsPerEpoch: posInt("--steps-per-epoch", o.stepsPerEpoch as string | undefined),
        scratchWidth: posInt("--width", o.width as string | undefined),
        batchSize: posInt("--batch-size", o.batchSize as string | undefined),
        threads: posInt("--threads", o.threads as string | undefined),
        steps: posInt("--steps", o.steps as string | undefined),
        sleepMs: posInt("--sleep-ms", o.sleepMs as string | undefined, 0),
      };
      const plan = makePlan({
        tasks,
        inits: list(o.init as string),
        runs: posInt("--runs", o.runs as string) as number,
        seed: posInt("--seed", o.seed as string, 0),
        data: parseData(o.data as string[], tasks),
        weights: o.weights as string | undefined,
        weights2d: o.weights2d as string | undefined,
        budget: budget as unknown as CellBudget,
        kind: o.synthetic ? "synthetic" : "task",
      });
      const file = await writePlan(resolve(o.out as string), plan);
      process.stdout.write(
        `${file}: ${plan.cells.length} cells (${plan.tasks.join(", ")} × ${plan.inits.join(", ")} × ${plan.runs} runs, grid seed ${plan.seed})\n`,
      );
    });

  runOptions(
    grid
      .command("run")
      .description(
        "Run a plan's unfinished cells: locally on --workers processes, or as jobs on --queue for genesis worker",
      )
      .argument("<dir>", "grid folder written by genesis grid plan"),
  )
    .option("--no-report", "do not write the report after the run")
    .action(async (dir: string, o: RunFlags & { report?: boolean }) => {
      const out = resolve(dir);
      const plan = await readPlan(out);
      const ran = await runCells(out, plan.cells, o);
      if (o.report !== false) {
        const files = await writeReport(out, buildReport(plan, await readResults(out)));
        log(`wrote ${files.md}, ${files.json}, ${files.png}`);
      }
      // a grid with failed cells is not a success: exit code 1 (after the report is written)
      if (ran.failed > 0)
        throw new ExitCodeError(
          `${ran.failed} of ${ran.cells} cells failed (errors: report.md, results/; rerun them with --retry-failed)`,
          1,
        );
    });

  grid
    .command("report")
    .description(
      "Print and write DIR/report.md, report.json and report.png: mean ± s.d. per task × init beside the paper, significance against scratch",
    )
    .argument("<dir>", "grid folder")
    .option("--json", "print report.json instead of the Markdown")
    .action(async (dir: string, o: { json?: boolean }) => {
      const out = resolve(dir);
      const report = buildReport(await readPlan(out), await readResults(out));
      const files = await writeReport(out, report);
      process.stdout.write(o.json ? `${JSON.stringify(report, null, 2)}\n` : reportMarkdown(report));
      log(`wrote ${files.md}, ${files.json}, ${files.png}`);
    });

  runOptions(
    grid
      .command("cubes")
      .description(
        "Pretraining cubes as jobs: one job per scan writes DIR/work/<id>/cubes.npy, then DIR/manifest.json lists the shards",
      )
      .argument("<inputs...>", "CT volumes or folders (a LUNA16 root: subset0…subset9)")
      .requiredOption(
        "--out <dir>",
        "cubes folder (plan.json, results/, work/<id>/cubes.npy, manifest.json)",
      ),
  )
    .option("--scale <n>", "cubes per scan (paper: 32)", "32")
    .option("--seed <n>", "corpus seed: each scan's seed is derived from it and the scan's path", "1")
    .option("--border-xy <n>", "in-plane border in voxels (reference 100)", "100")
    .option("--border-z <n>", "border in slices (reference 30)", "30")
    .option(
      "--lung-max <f>",
      "content filter: reject crops whose tissue score exceeds this fraction (reference 0.15)",
      "0.15",
    )
    .option("--patch-size <XxYxZ>", "cube size in voxels", "64x64x32")
    .option("--folds <list>", "LUNA16 subsets to read, e.g. 0,1,2,3,4")
    .action(async (inputs: string[], o: RunFlags & Record<string, string>) => {
      const out = resolve(o.out);
      const plan = await planCubes({
        inputs,
        seed: posInt("--seed", o.seed, 0),
        folds: o.folds ? list(o.folds).map(Number) : undefined,
        options: {
          scale: posInt("--scale", o.scale),
          borderXY: posInt("--border-xy", o.borderXy, 0),
          borderZ: posInt("--border-z", o.borderZ, 0),
          lungMax: Number(o.lungMax),
          patchSize: parsePatchSize(o.patchSize),
        },
      });
      // the plan is rewritten every time: it is a function of the inputs and options (ids included)
      await writeFileAtomic(`${out}/plan.json`, `${JSON.stringify(plan, null, 2)}\n`, { mkdir: true });
      await runCells(out, plan.cells, o);
      const { manifest, file, missing } = await writeCubesManifest(out, plan, await readResults(out));
      log(
        `${file}: ${manifest.cubes} cubes in ${manifest.shards.length} shards${manifest.failed.length ? `, ${manifest.failed.length} scans failed` : ""}${missing ? `; ${missing} scans not done yet (other shards)` : ""}`,
      );
    });
}
