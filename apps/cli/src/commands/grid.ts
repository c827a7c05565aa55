import { resolve } from "node:path";
import {
  buildReport,
  type CellBudget,
  type CellResult,
  checkConnection,
  connectionOptions,
  DEFAULT_QUEUE,
  makePlan,
  parseShard,
  pending,
  readPlan,
  readResults,
  redactUrl,
  reportMarkdown,
  runLocal,
  runQueue,
  shardCells,
  writePlan,
  writeReport,
} from "@models-genesis/grid";
import type { Command } from "commander";

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

  grid
    .command("run")
    .description(
      "Run a plan's unfinished cells: locally on --workers processes, or as jobs on --queue for genesis worker",
    )
    .argument("<dir>", "grid folder written by genesis grid plan")
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
    .option("--retry-failed", "run failed cells again", false)
    .option("--no-report", "do not write the report after the run")
    .action(async (dir: string, o: Record<string, string | boolean | undefined>) => {
      // options first: a bad --queue URL or --shard is refused before anything is read
      const connection = o.queue ? connectionOptions(o.queue as string) : undefined;
      const shard = o.shard ? parseShard(o.shard as string) : undefined;
      const workers = posInt("--workers", o.workers as string) as number;
      const out = resolve(dir);
      const plan = await readPlan(out);
      let cells = [...plan.cells];
      if (shard) {
        const s = shard;
        cells = shardCells(cells, s.index, s.count);
        log(`shard ${s.index}/${s.count}: ${cells.length} of ${plan.cells.length} cells`);
      }
      const todo = await pending(out, cells, o.retryFailed as boolean);
      log(
        `${cells.length - todo.length} of ${cells.length} cells already have results; ${todo.length} to run`,
      );
      let results: CellResult[];
      if (connection) {
        await checkConnection(connection);
        log(
          `queue mode: ${redactUrl(o.queue as string)} queue ${o.queueName}; start workers with genesis worker --queue …`,
        );
        ({ results } = await runQueue(out, todo, { connection, queueName: o.queueName as string, log }));
      } else {
        results = await runLocal(out, todo, {
          workers,
          gpus: o.gpus ? list(o.gpus as string) : undefined,
          log,
        });
      }
      const failed = results.filter((r) => r.status === "failed").length;
      log(`ran ${results.length} cells: ${results.length - failed} done, ${failed} failed`);
      if (o.report !== false) {
        const files = await writeReport(out, buildReport(plan, await readResults(out)));
        log(`wrote ${files.md}, ${files.json}, ${files.png}`);
      }
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
}
