import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DatasetError, type TaskArrays } from "@models-genesis/datasets";
import type { EngineChoice } from "@models-genesis/onnx";
import type { PreprocessingRecord } from "@models-genesis/volume-io";
import type { TaskConfig } from "./config.js";
import { describeSegmentationResult, type ResultsFile, writeResults } from "./results.js";

/**
 * The shared skeleton of the target-task apps: options, locating the sample data, and the
 * loop over initialisations × runs (× cross-validation folds) that calls the fine-tuning function
 * (`finetuneTask`) and writes `results.json` / `results.md`.
 */

/**
 * How the model is initialised: random weights, our Genesis pretraining, or the official weights
 * (3-D U-Net); or the slice-wise 2-D U-Net (`genesis-unet2d`) from random weights (`scratch-2d`) or
 * from our 2-D Genesis pretraining (`genesis-2d`, `--weights-2d`; no official 2-D weights exist).
 * 2-D runs train on the patches' axial slices; segmentation patches are predicted slice by slice
 * and stacked back (3-D metrics as for 3-D), a classification patch scores the mean of its slices'
 * probabilities.
 */
export type Init = "scratch" | "genesis" | "official" | "scratch-2d" | "genesis-2d";

/** Every {@link Init}, in the order `--help` lists them. */
export const INITS: readonly Init[] = ["scratch", "genesis", "official", "scratch-2d", "genesis-2d"];

/** Parsed app options (`[--data DIR] --out DIR [--quick] [--runs N] [--weights FILE] [--weights-2d DIR] [--init …] [--seed N]`). */
export interface AppOptions {
  /** Dataset root in its native layout; absent = the sample layout built from the shared data. */
  data?: string;
  out: string;
  quick: boolean;
  runs: number;
  /** Pretrained weights: our model directory, or the official `Genesis_Chest_CT.pt` / `.h5`. */
  weights?: string;
  /** A 2-D model directory written by `genesis pretrain --model genesis-unet2d` (for `genesis-2d`). */
  weights2d?: string;
  init: Init[];
  seed: number;
  /** Training threads (data-parallel replicas; `auto` = one per core on wasm/cpu), from `--threads`. */
  threads?: number | "auto";
  /** The tfjs backend named by `--backend` (default: `GENESIS_BACKEND`, else the fastest available). */
  backend?: string;
  /**
   * The engine that predicts the test sets (`--engine onnx|tfjs`; `chooseEngine` of
   * `@models-genesis/onnx`: default onnx when onnxruntime-node loads). Absent: each run chooses the default.
   */
  engine?: EngineChoice;
}

/**
 * Parse `--init`: one of {@link INITS} (`scratch`, `genesis`, `official`, `scratch-2d`,
 * `genesis-2d`), or a comma-separated list.
 * @throws Error naming the bad value.
 */
export function parseInits(value: string): Init[] {
  const out = value.split(",").map((s) => s.trim());
  for (const v of out)
    if (!(INITS as readonly string[]).includes(v))
      throw new Error(`--init: unknown initialisation "${v}" (${INITS.join(", ")})`);
  return [...new Set(out)] as Init[];
}

/**
 * Check option combinations.
 * @throws Error when `genesis`/`official` lacks `--weights`, `genesis-2d` lacks `--weights-2d`, or
 *   runs/seed are not integers ≥ 1 / ≥ 0.
 */
export function checkAppOptions(o: AppOptions): void {
  if (!Number.isInteger(o.runs) || o.runs < 1)
    throw new Error(`--runs must be a positive integer, got ${o.runs}`);
  if (!Number.isInteger(o.seed) || o.seed < 0)
    throw new Error(`--seed must be a non-negative integer, got ${o.seed}`);
  for (const i of o.init) {
    if ((i === "genesis" || i === "official") && !o.weights)
      throw new Error(`--init ${i} needs --weights FILE (our model directory or Genesis_Chest_CT.pt/.h5)`);
    if (i === "genesis-2d" && !o.weights2d)
      throw new Error(
        "--init genesis-2d needs --weights-2d DIR (a 2-D model directory written by genesis pretrain --model genesis-unet2d)",
      );
  }
}

/** The LIDC nodule-VOI sample bundled with the repository (relative to its root), usable as NCS `--data`. */
export const BUNDLED_LIDC_SAMPLE = "apps/cli/sample/lidc-voi";

/**
 * The shared real-data folder used for the sample layouts: `$GENESIS_SHARED_DIR/data`, else
 * `<repository root>/../shared/data`, the repository root being the first folder above `from`
 * (and then above the working directory) that holds `pnpm-workspace.yaml`.
 *
 * @param task the task asking; for NCS the message names the bundled LIDC sample, which is NCS data.
 * @throws DatasetError when none exists (then `--data` must be given); for NCS (or no task given)
 *   its message names the bundled LIDC sample ({@link BUNDLED_LIDC_SAMPLE}, absolute when a
 *   repository root was found).
 */
export function locateSampleData(from: string, task?: string): string {
  const tried: string[] = [];
  const roots: string[] = [];
  if (process.env.GENESIS_SHARED_DIR) {
    const d = join(process.env.GENESIS_SHARED_DIR, "data");
    if (existsSync(d)) return d;
    tried.push(d);
  }
  for (const start of [from, process.cwd()]) {
    let dir = resolve(start);
    for (;;) {
      if (existsSync(join(dir, "pnpm-workspace.yaml"))) {
        roots.push(dir);
        const d = resolve(dir, "../shared/data");
        if (existsSync(d)) return d;
        tried.push(d);
        break;
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  }
  const bundled = roots.map((r) => join(r, BUNDLED_LIDC_SAMPLE)).find((d) => existsSync(join(d, "image")));
  throw new DatasetError(
    tried[0] ?? "../shared/data",
    `no sample data found (tried ${
      [...new Set(tried)].join(", ") ||
      `GENESIS_SHARED_DIR (${process.env.GENESIS_SHARED_DIR ? "no data/ folder in it" : "unset"}), ../shared/data beside a repository root (pnpm-workspace.yaml) above ${from} or ${process.cwd()} (none found)`
    }); pass --data DIR with the dataset in its own layout, or set GENESIS_SHARED_DIR` +
      (task === undefined || task === "ncs"
        ? `. The repository bundles a small LIDC sample usable as --data for ncs: ${bundled ?? BUNDLED_LIDC_SAMPLE} (nodule VOIs, image/ + mask/)`
        : ""),
  );
}

/** A task ready for fine-tuning: its recipe and arrays (one element per cross-validation fold). */
export interface PreparedTask {
  readonly task: string;
  readonly config: TaskConfig;
  readonly folds: TaskArrays[];
  /**
   * What the preparation did to the volumes (window, modality, resize, crop, patch size): the
   * arrays' record, handed to fine-tuning and saved with the model for whole-volume prediction.
   */
  readonly preprocessing: PreprocessingRecord;
  /** Where the split was saved (`OUT/splits.json`). */
  readonly splitsFile: string;
  /** The dataset root that was read (the native layout or the built sample layout). */
  readonly dataRoot: string;
  /** True when the data came from the sample layout. */
  readonly sample: boolean;
  /** Facts for results.json (counts, rules, options). */
  readonly notes: Record<string, unknown>;
}

/** What the fine-tuning function (`finetuneTask`) receives for one (initialisation, run, fold). */
export interface FinetuneRequest {
  readonly task: string;
  readonly config: TaskConfig;
  readonly data: TaskArrays;
  /** The preprocessing record of `data` ({@link PreparedTask.preprocessing}). */
  readonly preprocessing: PreprocessingRecord;
  readonly init: Init;
  readonly weights?: string;
  /** The 2-D model directory for `genesis-2d` (and the width of `scratch-2d`), from `--weights-2d`. */
  readonly weights2d?: string;
  /** Seed of this run (`--seed` + run index). */
  readonly seed: number;
  readonly run: number;
  readonly fold: number;
  readonly quick: boolean;
  /** Training threads for `Trainer` (`auto` = one per core on wasm/cpu). */
  readonly threads?: number | "auto";
  /** The backend `--backend` named; the runner's fine-tuning step starts it (see `runFinetune`). */
  readonly backend?: string;
  /** The test-set engine (`--engine`); absent = the default (onnx when onnxruntime-node loads, else tfjs). */
  readonly engine?: EngineChoice;
  /** Where to save the fine-tuned model (a directory `genesis predict` accepts). */
  readonly modelDir: string;
  readonly log: (line: string) => void;
}

/** The test-set result of one fine-tuning run: the task's headline metric (fraction) and any others. */
export interface FinetuneResult {
  readonly value: number;
  readonly metrics?: Readonly<Record<string, number>>;
  /** The engine that predicted the test set and why, e.g. `onnxruntime-node 1.30.0 (cpu) (default: onnxruntime-node loads)`. */
  readonly testEngine?: string;
}

/**
 * Run `finetune` for every initialisation × run (× fold), writing `results.json` / `results.md`
 * into `opts.out` after every run (atomically, so completed runs survive a crash). For cross-validated tasks (ECC) a run's value is the mean over its folds. Model
 * directories: `OUT/model/<init>-run<r>[-fold<k>]`.
 */
export async function runTaskRuns(
  opts: AppOptions,
  prepared: PreparedTask,
  finetune: (req: FinetuneRequest) => Promise<FinetuneResult>,
  log: (line: string) => void,
): Promise<ResultsFile> {
  const runs: Record<string, number[]> = {};
  const extra: Record<string, Record<string, number[]>> = {};
  const engines = new Set<string>();
  const write = () =>
    writeResults(opts.out, {
      task: prepared.task,
      kind: prepared.config.kind,
      metric: prepared.config.metric === "auc" ? "AUC" : "IoU (paper)",
      runs,
      extra,
      notes: {
        ...prepared.notes,
        quick: opts.quick,
        seed: opts.seed,
        data: prepared.dataRoot,
        sample: prepared.sample,
        folds: prepared.folds.length,
        ...(engines.size > 0 ? { testEngine: [...engines].join("; ") } : {}),
      },
    });
  for (const init of opts.init) {
    runs[init] = [];
    extra[init] = {};
    for (let r = 0; r < opts.runs; r++) {
      const values: number[] = [];
      const others: Record<string, number[]> = {};
      for (let f = 0; f < prepared.folds.length; f++) {
        const suffix = prepared.folds.length > 1 ? `-fold${f}` : "";
        const res = await finetune({
          task: prepared.task,
          config: prepared.config,
          data: prepared.folds[f],
          preprocessing: prepared.preprocessing,
          init,
          weights: opts.weights,
          weights2d: opts.weights2d,
          seed: opts.seed + r,
          run: r,
          fold: f,
          quick: opts.quick,
          ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
          ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
          ...(opts.engine !== undefined ? { engine: opts.engine } : {}),
          modelDir: join(opts.out, "model", `${init}-run${r}${suffix}`),
          log,
        });
        values.push(res.value);
        if (res.testEngine) engines.add(res.testEngine);
        for (const [k, v] of Object.entries(res.metrics ?? {})) others[k] = [...(others[k] ?? []), v];
        const m = res.metrics ?? {};
        const shown =
          prepared.config.kind === "segmentation" && m.dice !== undefined && m.iou !== undefined
            ? describeSegmentationResult(res.value, m.dice, m.iou)
            : `${prepared.config.metric} ${(100 * res.value).toFixed(2)}%`;
        log(`${prepared.task} ${init} run ${r}${suffix}: ${shown}`);
      }
      const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
      runs[init].push(mean(values));
      for (const [k, v] of Object.entries(others)) extra[init][k] = [...(extra[init][k] ?? []), mean(v)];
      await write(); // results so far survive a crash in a later run
    }
  }
  return write();
}
