/**
 * The ONE file of this package that calls the target-task code (`@models-genesis/tasks`: each task's
 * preparation and the runner's `finetuneTask`) and the cube extraction: everything else in the grid
 * imports from here.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { DatasetError } from "@models-genesis/datasets";
import {
  INITS,
  type Init,
  locateSampleData,
  PAPER_RESULTS,
  type PreparedTask,
  prepareBms,
  prepareEcc,
  prepareLcs,
  prepareNcc,
  prepareNcs,
  TASK_CONFIGS,
  type TaskName,
} from "@models-genesis/tasks";
import { collectVolumeInputs } from "@models-genesis/volume-io";

export { DatasetError };

/**
 * The shared sample data of cells planned without `--data`: `locateSampleData` searched from this
 * package's own location (then the working directory), as the apps do from theirs, so a grid runs
 * from any folder. `GENESIS_SHARED_DIR` still wins.
 * @throws DatasetError listing what was tried when no sample data is found.
 */
export function sampleDataRoot(): string {
  return locateSampleData(dirname(fileURLToPath(import.meta.url)));
}

/** The five target tasks, in the paper's order. */
export const TASK_NAMES: readonly TaskName[] = Object.keys(TASK_CONFIGS) as TaskName[];
/** Every initialisation a task cell accepts (`scratch`, `genesis`, `official`, `scratch-2d`, `genesis-2d`). */
export const TASK_INITS: readonly Init[] = INITS;
export type { Init, TaskName };

/** The paper's mean ± s.d. (percent) for Genesis and scratch, and the name of its metric. */
export function paperNumbers(
  task: string,
): { metric: string; values: Record<string, { mean: number; sd: number }> } | undefined {
  const p = PAPER_RESULTS[task as TaskName];
  if (!p) return undefined;
  return { metric: p.metric, values: { genesis: p.genesis, scratch: p.scratch } };
}

/** The headline metric of a task: `AUC` (NCC, ECC) or `IoU (paper)` (NCS, LCS, BMS). */
export function taskMetric(task: string): string {
  return TASK_CONFIGS[task as TaskName]?.metric === "auc" ? "AUC" : "IoU (paper)";
}

/** What a task cell needs (a validated {@link GridCell} of kind `task`, see plan.ts). */
export interface TaskCellInput {
  readonly task: TaskName;
  readonly init: Init;
  readonly run: number;
  /** Training seed of this cell. */
  readonly seed: number;
  /** Seed of the data split (the grid's seed: the same split for every cell of a task). */
  readonly splitSeed: number;
  /** Dataset root in its native layout; absent = the sample layout from the shared data. */
  readonly data?: string;
  readonly weights?: string;
  readonly weights2d?: string;
  readonly quick: boolean;
  readonly epochs?: number;
  readonly stepsPerEpoch?: number;
  readonly scratchWidth?: number;
  readonly batchSize?: number;
  readonly threads?: number;
}

/** A task cell's test-set result: the headline metric (fraction) and the others (Dice, IoU). */
export interface TaskCellResult {
  readonly value: number;
  readonly metrics: Record<string, number>;
}

const prepared = new Map<string, Promise<PreparedTask>>();
let backend: Promise<string> | undefined;

/**
 * Run one task cell: prepare the task's arrays (once per process and (task, data, quick, split
 * seed); the split file and any sample layout go to `workDir/prep`), then fine-tune and test one
 * model with the task's reference recipe (`finetuneTask`) into `workDir/model`. Cross-validated
 * tasks (ECC) give the mean over their folds, as the apps do.
 *
 * @throws DatasetError for missing or malformed data (the grid marks the cell failed), TrainError
 *   for a bad `--weights` folder.
 */
export async function runTaskCell(
  cell: TaskCellInput,
  workDir: string,
  log: (line: string) => void,
): Promise<TaskCellResult> {
  const key = JSON.stringify([cell.task, cell.data ?? null, cell.quick, cell.splitSeed]);
  let prep = prepared.get(key);
  if (!prep) {
    const o = {
      data: cell.data,
      sampleData: cell.data ? undefined : sampleDataRoot(),
      out: join(workDir, "prep"),
      quick: cell.quick,
      seed: cell.splitSeed,
      log,
    };
    const fns = { ncc: prepareNcc, ncs: prepareNcs, ecc: prepareEcc, lcs: prepareLcs, bms: prepareBms };
    prep = fns[cell.task](o);
    prepared.set(key, prep);
    prep.catch(() => prepared.delete(key));
  }
  const p = await prep;
  // tfjs and the training code load only in processes that run real cells
  const { initBackend } = await import("@models-genesis/kernels");
  const { finetuneTask } = await import("@models-genesis/tasks");
  backend ??= initBackend({ log });
  await backend;
  const values: number[] = [];
  const others: Record<string, number[]> = {};
  for (let f = 0; f < p.folds.length; f++) {
    const r = await finetuneTask(
      {
        task: cell.task,
        config: p.config,
        data: p.folds[f],
        preprocessing: p.preprocessing,
        run: cell.run,
        fold: f,
        init: cell.init,
        weights: cell.weights,
        weights2d: cell.weights2d,
        seed: cell.seed,
        quick: cell.quick,
        ...(cell.threads !== undefined ? { threads: cell.threads } : {}),
        modelDir: join(workDir, p.folds.length > 1 ? `model-fold${f}` : "model"),
        log,
      },
      {
        epochs: cell.epochs,
        stepsPerEpoch: cell.stepsPerEpoch,
        scratchWidth: cell.scratchWidth,
        batchSize: cell.batchSize,
      },
    );
    values.push(r.value);
    for (const [k, v] of Object.entries(r.metrics ?? {})) others[k] = [...(others[k] ?? []), v];
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  return {
    value: mean(values),
    metrics: Object.fromEntries(Object.entries(others).map(([k, v]) => [k, mean(v)])),
  };
}

// ---------------------------------------------------------------------------------------------
// Preprocessing as jobs: pretraining cubes of one scan (`genesis cubes`' extraction).

/** Cube extraction settings of a cubes job (`genesis cubes` flags). */
export interface ScanCubesOptions {
  readonly scale: number;
  readonly borderXY: number;
  readonly borderZ: number;
  readonly lungMax: number;
  /** Cube (pretraining patch) size, x/y/z voxels. */
  readonly patchSize: readonly [number, number, number];
}

/** Volume files under `inputs` (folders searched; a LUNA16 root's `subset*` folders, `folds` of them), sorted. */
export async function listScans(inputs: readonly string[], folds?: readonly number[]): Promise<string[]> {
  const found = await collectVolumeInputs(inputs, { ...(folds ? { folds: [...folds] } : {}) });
  return found.map((v) => v.path).sort();
}

/**
 * Extract the pretraining cubes of one scan with the reference generator (`extractCubes`, HU window
 * [-1000, 1000] → [0, 1], content filter) seeded with `seed`, and write them as float32
 * `(N, x, y, z)` to `file` (atomically).
 * @returns the cube count, the crops tried, and why the scan gave none (too small for the borders).
 */
export async function extractScanCubes(
  scan: string,
  seed: number,
  o: ScanCubesOptions,
  file: string,
): Promise<{ count: number; attempts: number; skipped?: string }> {
  const { extractCubes, Rng } = await import("@models-genesis/transforms");
  const { readVolume, writeNpy } = await import("@models-genesis/volume-io");
  const vol = await readVolume(scan);
  const r = extractCubes(vol, new Rng(seed), {
    scale: o.scale,
    borderXY: o.borderXY,
    borderZ: o.borderZ,
    lungMax: o.lungMax,
    patchSize: [...o.patchSize],
  });
  await writeNpy(file, { data: r.cubes, shape: [r.count, ...o.patchSize] });
  return { count: r.count, attempts: r.attempts, ...(r.skipped ? { skipped: r.skipped } : {}) };
}
