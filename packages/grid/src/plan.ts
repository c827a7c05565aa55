import { readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { writeFileAtomic } from "@models-genesis/volume-io";
import { TASK_INITS, TASK_NAMES } from "./cell-runner.js";
import { canonicalJson, cellSeed, contentId } from "./ids.js";

/** Format tag of `plan.json`. */
export const PLAN_FORMAT = "genesis-grid-plan/1";

/**
 * What a cell may run for: the reference budget (early stopping decides) or `quick`, and overrides.
 * Synthetic cells (tests and benchmarks) use `steps` × `sleepMs` instead.
 */
export interface CellBudget {
  /** The task's short schedule (`--quick` of the apps: 2 epochs × 4 steps, batch ≤ 2, width 4). */
  readonly quick: boolean;
  /** Maximum epochs (1 … 100000). */
  readonly epochs?: number;
  /** Steps per epoch cap (1 … 1000000). */
  readonly stepsPerEpoch?: number;
  /** Width of a from-scratch model (1 … 512). */
  readonly scratchWidth?: number;
  /** Batch size (1 … 4096). */
  readonly batchSize?: number;
  /** Training threads of the process that runs the cell (1 … 256). */
  readonly threads?: number;
  /** Synthetic cells: steps (1 … 100000), each checkpointed. */
  readonly steps?: number;
  /** Synthetic cells: milliseconds slept per step (0 … 3600000). */
  readonly sleepMs?: number;
  /** Synthetic cells: milliseconds of busy waiting per step, blocking the thread like a training step (0 … 3600000). */
  readonly blockMs?: number;
}

/**
 * One cell of a grid: one fine-tuning run of `task` from `init`, run index `run`.
 * `kind: "synthetic"` is a stand-in task for tests and benchmarks (a seeded number after
 * `steps` checkpointed sleeps; see synthetic.ts).
 */
export interface GridCell {
  /** Content-derived id: {@link contentId} of every other field (see {@link cellContent}). */
  readonly id: string;
  readonly kind: "task" | "synthetic";
  readonly task: string;
  readonly init: string;
  readonly run: number;
  /** Training seed, {@link cellSeed}(grid seed, task, init, run). */
  readonly seed: number;
  /** Seed of the data split: the grid seed, so every cell of a task sees the same split. */
  readonly splitSeed: number;
  /** Absolute dataset root (native layout); absent = the sample layout from the shared data. */
  readonly data?: string;
  /** Absolute path of the pretrained weights (our model directory or Genesis_Chest_CT.pt/.h5). */
  readonly weights?: string;
  /** Absolute path of a 2-D model directory (for `genesis-2d`). */
  readonly weights2d?: string;
  readonly budget: CellBudget;
}

/** The plan of a grid (`plan.json`). */
export interface GridPlan {
  readonly format: typeof PLAN_FORMAT;
  /** Grid seed: every cell seed is derived from it. */
  readonly seed: number;
  readonly tasks: readonly string[];
  readonly inits: readonly string[];
  readonly runs: number;
  readonly cells: readonly GridCell[];
}

/** Options of {@link makePlan}. Paths are made absolute against `cwd` (default `process.cwd()`). */
export interface PlanOptions {
  readonly tasks: readonly string[];
  readonly inits: readonly string[];
  /** Runs per task × init (1 … 1000). */
  readonly runs: number;
  /** Grid seed (integer ≥ 0); default 0. */
  readonly seed?: number;
  /** Dataset root per task (`{ ncs: "/data/lidc" }`); a task without one uses the sample layout. */
  readonly data?: Readonly<Record<string, string>>;
  readonly weights?: string;
  readonly weights2d?: string;
  readonly budget?: CellBudget;
  /** `synthetic` for test/benchmark grids (any task name of the five; nothing is trained). */
  readonly kind?: "task" | "synthetic";
  readonly cwd?: string;
}

/** The fields a cell id is derived from (everything but the id). */
export function cellContent(c: Omit<GridCell, "id"> | GridCell): Omit<GridCell, "id"> {
  const { id: _id, ...rest } = c as GridCell;
  return JSON.parse(canonicalJson(rest)) as Omit<GridCell, "id">;
}

/**
 * Make a plan: one cell per task × init × run (in that order), each with its derived seed and id.
 * @throws Error naming the bad option: an unknown task or init, `genesis`/`official` without
 *   `weights`, `genesis-2d` without `weights2d`, runs/seed out of range.
 */
export function makePlan(o: PlanOptions): GridPlan {
  const cwd = o.cwd ?? process.cwd();
  const abs = (p: string | undefined) => (p === undefined ? undefined : isAbsolute(p) ? p : resolve(cwd, p));
  const seed = o.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0 || seed > 2 ** 31 - 1)
    throw new Error(`--seed must be an integer in [0, 2^31), got ${seed}`);
  if (!Number.isInteger(o.runs) || o.runs < 1 || o.runs > 1000)
    throw new Error(`--runs must be an integer in 1…1000, got ${o.runs}`);
  if (o.tasks.length === 0) throw new Error("--tasks: no task given");
  if (o.inits.length === 0) throw new Error("--init: no initialisation given");
  for (const t of o.tasks)
    if (!TASK_NAMES.includes(t as never))
      throw new Error(`--tasks: unknown task "${t}" (${TASK_NAMES.join(", ")})`);
  for (const i of o.inits)
    if (!TASK_INITS.includes(i as never))
      throw new Error(`--init: unknown initialisation "${i}" (${TASK_INITS.join(", ")})`);
  const kind = o.kind ?? "task";
  if (kind === "task") {
    for (const i of o.inits) {
      if ((i === "genesis" || i === "official") && !o.weights)
        throw new Error(`--init ${i} needs --weights (our model directory or Genesis_Chest_CT.pt/.h5)`);
      if (i === "genesis-2d" && !o.weights2d) throw new Error("--init genesis-2d needs --weights-2d DIR");
    }
  }
  for (const t of Object.keys(o.data ?? {}))
    if (!o.tasks.includes(t)) throw new Error(`--data ${t}=…: task ${t} is not in --tasks`);
  const budget: CellBudget = JSON.parse(canonicalJson(o.budget ?? { quick: false }));
  checkBudget(budget);
  const cells: GridCell[] = [];
  for (const task of [...new Set(o.tasks)])
    for (const init of [...new Set(o.inits)])
      for (let run = 0; run < o.runs; run++) {
        const content: Omit<GridCell, "id"> = cellContent({
          kind,
          task,
          init,
          run,
          seed: cellSeed(seed, task, init, run),
          splitSeed: seed,
          data: abs(o.data?.[task]),
          weights:
            init === "genesis" || init === "official" || init === "scratch" ? abs(o.weights) : undefined,
          weights2d: init === "genesis-2d" || init === "scratch-2d" ? abs(o.weights2d) : undefined,
          budget,
        });
        cells.push({ id: contentId(content), ...content });
      }
  return {
    format: PLAN_FORMAT,
    seed,
    tasks: [...new Set(o.tasks)],
    inits: [...new Set(o.inits)],
    runs: o.runs,
    cells,
  };
}

const BOUNDS: Record<string, [number, number]> = {
  epochs: [1, 100000],
  stepsPerEpoch: [1, 1000000],
  scratchWidth: [1, 512],
  batchSize: [1, 4096],
  threads: [1, 256],
  steps: [1, 100000],
  sleepMs: [0, 3600000],
  blockMs: [0, 3600000],
};

/** @throws Error naming a budget field that is not an integer within its bounds, or an unknown field. */
export function checkBudget(b: unknown): asserts b is CellBudget {
  if (!b || typeof b !== "object" || Array.isArray(b)) throw new Error("budget: not an object");
  const r = b as Record<string, unknown>;
  if (typeof r.quick !== "boolean") throw new Error("budget.quick: not a boolean");
  for (const [k, v] of Object.entries(r)) {
    if (k === "quick") continue;
    const bound = BOUNDS[k];
    if (!bound) throw new Error(`budget.${k}: unknown field`);
    if (typeof v !== "number" || !Number.isInteger(v) || v < bound[0] || v > bound[1])
      throw new Error(`budget.${k}: ${JSON.stringify(v)} is not an integer in ${bound[0]}…${bound[1]}`);
  }
}

/**
 * The cells of static shard `index` of `count` (`--shard i/N`; Kubernetes Indexed Jobs give `i` as
 * `JOB_COMPLETION_INDEX`): cell k belongs to shard k mod N, so shards are balanced across tasks
 * and inits and together cover every cell exactly once.
 * @throws Error when the shard is not 0 ≤ index < count.
 */
export function shardCells<C>(cells: readonly C[], index: number, count: number): C[] {
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 0 || index >= count)
    throw new Error(`--shard ${index}/${count}: expected i/N with 0 ≤ i < N`);
  return cells.filter((_, k) => k % count === index);
}

/**
 * Parse `--shard i/N`; `i` may be `env` to read `JOB_COMPLETION_INDEX` (Kubernetes Indexed Job).
 * @throws Error naming the bad value.
 */
export function parseShard(
  value: string,
  env: NodeJS.ProcessEnv = process.env,
): { index: number; count: number } {
  const m = /^(\d+|env)\/(\d+)$/.exec(value.trim());
  if (!m) throw new Error(`--shard "${value}": expected i/N (e.g. 0/4) or env/N (JOB_COMPLETION_INDEX)`);
  const raw = m[1] === "env" ? env.JOB_COMPLETION_INDEX : m[1];
  if (raw === undefined || !/^\d+$/.test(raw))
    throw new Error(`--shard ${value}: JOB_COMPLETION_INDEX is not set to an integer`);
  const index = Number(raw);
  const count = Number(m[2]);
  shardCells([], index, count); // range check
  return { index, count };
}

/** `DIR/plan.json`. */
export const planFile = (dir: string) => join(dir, "plan.json");

/** Write `DIR/plan.json` atomically (creating DIR). */
export async function writePlan(dir: string, plan: GridPlan): Promise<string> {
  const file = planFile(dir);
  await writeFileAtomic(file, `${JSON.stringify(plan, null, 2)}\n`, { mkdir: true });
  return file;
}

/**
 * Read `DIR/plan.json` (or a plan file given directly) and check every cell id against its content.
 * @throws Error naming the file and the problem (missing, not JSON, wrong format, a cell whose id
 *   does not match its content).
 */
export async function readPlan(path: string): Promise<GridPlan> {
  const file = path.endsWith(".json") ? path : planFile(path);
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    throw new Error(`${file}: no grid plan (write one with genesis grid plan)`);
  }
  let plan: GridPlan;
  try {
    plan = JSON.parse(text) as GridPlan;
  } catch (e) {
    throw new Error(`${file}: not JSON (${(e as Error).message})`);
  }
  if (plan?.format !== PLAN_FORMAT) throw new Error(`${file}: not a ${PLAN_FORMAT} plan`);
  for (const c of plan.cells)
    if (contentId(cellContent(c)) !== c.id)
      throw new Error(`${file}: cell ${c.id} does not match its content (edited?)`);
  return plan;
}
