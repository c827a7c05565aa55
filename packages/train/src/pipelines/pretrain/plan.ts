/**
 * The run plan of a pretraining: every option, the seed and the split, written to `OUT/plan.json`
 * before the first step, so that a run can be reproduced and `--resume` continues the same run
 * instead of recomputing its choices.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { GenesisConfig, Shape3 } from "@models-genesis/transforms";
import { writeFileAtomic } from "../../atomic.js";
import { TrainError } from "../../errors.js";
import type { CubeSet } from "./cubes.js";

/** File name of the plan in a pretraining output folder. */
export const PRETRAIN_PLAN_FILE = "plan.json";
/** Version of the plan's layout; a plan of another version is refused. */
export const PRETRAIN_PLAN_VERSION = 1;

/** What the caller of `runPretraining` knows and the run cannot: where the cubes came from. */
export interface PretrainPlanSource {
  /** The inputs the cubes were collected from (as given; the CLI resolves them to absolute paths). */
  inputs: string[];
  /** The backend the run trains on (kernels' `initBackend` result). */
  backend: string;
  /**
   * The caller's own options as it parsed them (for `genesis pretrain`: every flag, camelCase, with
   * its default filled in); recorded verbatim, `genesis pretrain --resume` reads them back.
   */
  options: Record<string, unknown>;
  /** The split that made `train` and `val`: fraction, seed and the validation cubes' indices. */
  split: { valFraction: number; seed: number; valIndices: number[] };
}

/** The resolved training options of a run (every default filled in; snake_case as `pretrain.json`). */
export interface PretrainTrainingPlan {
  model_id: string;
  width: number;
  batch_size: number;
  epochs: number;
  steps_per_epoch: number | null;
  optimizer: "sgd" | "adam";
  lr: number;
  momentum: number;
  schedule: "step" | "plateau" | "none";
  step_size: number;
  gamma: number;
  patience: number;
  /** 2-D models: axial slices per cube and epoch; null for 3-D models. */
  slices_per_cube: number | null;
  /** Genesis transform overrides (ablations, rates) as given; `{}` = the reference's. */
  genesis: Partial<GenesisConfig>;
  /** Seed of the weights, the data order and the transforms. */
  seed: number;
  /** Data-parallel threads (runtime: a different value on resume is noted, not refused). */
  threads: number | null;
  sample_every: number;
}

/** `OUT/plan.json`: written by `runPretraining` before its first step (see {@link PretrainPlanSource}). */
export interface PretrainPlan {
  version: typeof PRETRAIN_PLAN_VERSION;
  /** ISO 8601 time the plan was written. */
  created: string;
  inputs: string[];
  /** Runtime: a resumed run may use another backend (noted, not refused). */
  backend: string;
  options: Record<string, unknown>;
  cubes: {
    /** Cubes collected before the split. */
    count: number;
    /** Cube (patch) size, x/y/z voxels. */
    patch_size: Shape3;
    /** Cubes per source volume, in the order the sources first appear. */
    per_source: Record<string, number>;
  };
  split: {
    val_fraction: number;
    seed: number;
    /** Source volumes of the training and the validation cubes (patient level: disjoint unless one source). */
    train: string[];
    val: string[];
    train_count: number;
    val_count: number;
    /** Indices of the validation cubes among the `cubes.count` collected ones (ascending). */
    val_cubes: number[];
  };
  training: PretrainTrainingPlan;
}

const uniq = (xs: readonly string[]) => [...new Set(xs)];

/** The plan of a run: the caller's source, the two cube sets and the resolved training options. */
export function makePretrainPlan(
  source: PretrainPlanSource,
  train: CubeSet,
  val: CubeSet,
  training: PretrainTrainingPlan,
): PretrainPlan {
  const perSource: Record<string, number> = {};
  for (const s of [...train.sources, ...val.sources]) perSource[s] = (perSource[s] ?? 0) + 1;
  return {
    version: PRETRAIN_PLAN_VERSION,
    created: new Date().toISOString(),
    inputs: source.inputs,
    backend: source.backend,
    options: source.options,
    cubes: { count: train.count + val.count, patch_size: train.shape, per_source: perSource },
    split: {
      val_fraction: source.split.valFraction,
      seed: source.split.seed,
      train: uniq(train.sources),
      val: uniq(val.sources),
      train_count: train.count,
      val_count: val.count,
      val_cubes: [...source.split.valIndices],
    },
    training,
  };
}

/** Write `OUT/plan.json` atomically (temporary file, then rename). */
export async function writePretrainPlan(out: string, plan: PretrainPlan): Promise<void> {
  await writeFileAtomic(join(out, PRETRAIN_PLAN_FILE), [`${JSON.stringify(plan, null, 2)}\n`]);
}

/**
 * Read `OUT/plan.json`; null when there is none (a run from before plans, or no run).
 * @throws TrainError naming the file when it is not JSON, not an object with the plan's sections, or
 *   of another plan version.
 */
export function readPretrainPlan(out: string): PretrainPlan | null {
  const file = join(out, PRETRAIN_PLAN_FILE);
  if (!existsSync(file)) return null;
  let plan: PretrainPlan;
  try {
    plan = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new TrainError(`${file}: not a readable run plan (${(err as Error).message})`);
  }
  if (plan?.version !== PRETRAIN_PLAN_VERSION)
    throw new TrainError(
      `${file}: run plan version ${JSON.stringify(plan?.version)}, this genesis reads version ${PRETRAIN_PLAN_VERSION}`,
    );
  for (const k of ["inputs", "options", "cubes", "split", "training"] as const)
    if (typeof plan[k] !== "object" || plan[k] === null)
      throw new TrainError(`${file}: run plan without its "${k}" section`);
  return plan;
}

/**
 * Where two values differ, as `path: a → b` lines (objects and arrays compared key by key; numbers
 * exactly). Empty when equal.
 */
export function planDifferences(a: unknown, b: unknown, path = ""): string[] {
  if (a === b) return [];
  const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null;
  if (isObj(a) && isObj(b) && Array.isArray(a) === Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])];
    return keys.flatMap((k) => planDifferences(a[k], b[k], path ? `${path}.${k}` : k));
  }
  const show = (v: unknown) => {
    const s = JSON.stringify(v) ?? "undefined";
    return s.length > 60 ? `${s.slice(0, 57)}…` : s;
  };
  return [`${path || "(plan)"}: ${show(a)} → ${show(b)}`];
}

/**
 * Check that a resumed run is the planned one: the same training options (threads aside, and
 * `epochs`, the maximum, which a resumed run may raise or lower) and the same split (sources, counts,
 * validation cubes).
 * @throws TrainError, one line naming the plan file and the first differences.
 */
export function assertResumeMatchesPlan(out: string, planned: PretrainPlan, now: PretrainPlan): void {
  const strip = (p: PretrainPlan) => ({
    training: { ...p.training, threads: null, epochs: null },
    cubes: p.cubes,
    split: p.split,
  });
  const diff = planDifferences(strip(planned), strip(now));
  if (diff.length > 0)
    throw new TrainError(
      `--resume: this run differs from the plan in ${join(out, PRETRAIN_PLAN_FILE)} (${diff.slice(0, 3).join("; ")}${diff.length > 3 ? `; … ${diff.length} differences` : ""}); resume with the plan's options or start a new --out`,
    );
}
