import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  DatasetError,
  describeQuickSubset,
  loadOrCreateSplits,
  quickSubset,
  type Split,
} from "@models-genesis/datasets";

/**
 * Task preparation for the five apps: dataset root (native layout, or the sample layout built from
 * the shared data) → `splits.json` (created once, then reused) → model-ready arrays.
 */
export interface PrepareOptions {
  /** Dataset root in its native layout; absent = build the sample layout under `out/sample-layout`. */
  data?: string;
  /**
   * The shared data folder (`…/shared/data`) the sample layout is built from (needed without
   * `data`), or a function that locates it: called only when a sample layout is built, so a
   * preparation that never needs it never looks (and never fails for want of it).
   */
  sampleData?: SampleDataSource;
  out: string;
  quick: boolean;
  seed: number;
  /**
   * Override the number of cases `quick` keeps: the NCC/NCS sample VOIs (40), and the `--data`
   * subset's size in the task's unit (the config's `quickLimit`).
   */
  sampleLimit?: number;
  log?: (line: string) => void;
}

/** The three parts of a split, in order. */
export const PARTS = ["train", "val", "test"] as const;

/** `OUT/sample-layout`, emptied first so that a layout from an earlier run (e.g. `--quick`) leaves nothing behind. */
export async function freshSampleDir(out: string): Promise<string> {
  const dir = join(out, "sample-layout");
  await rm(dir, { recursive: true, force: true });
  return dir;
}

/** A shared data folder, or a function that locates it (`locateSampleData`), called only when needed. */
export type SampleDataSource = string | (() => string);

/**
 * The shared data folder of a sample-layout run.
 * @throws DatasetError when none was given, or the locating function's error (which says what it tried).
 */
export function needSample(o: Pick<PrepareOptions, "sampleData" | "out">): string {
  const s = o.sampleData;
  if (typeof s === "function") return s();
  if (!s) throw new DatasetError(o.out, "no --data given and no sample data folder located");
  return s;
}

/**
 * `--quick` with `--data`: keep a seeded, whole-group subset of `items` ({@link quickSubset}) and
 * log what was kept; without `--quick` or `--data`, `items` unchanged.
 */
export function quickData<T>(
  o: PrepareOptions,
  items: readonly T[],
  spec: {
    limit: number;
    unit: string;
    groupOf: (item: T) => string;
    groupUnit?: string;
    partOf?: (item: T) => string;
  },
): T[] {
  if (!o.quick || !o.data) return [...items];
  const r = quickSubset(items, { ...spec, limit: o.sampleLimit ?? spec.limit, seed: o.seed });
  o.log?.(
    describeQuickSubset(
      r.items.length,
      items.length,
      spec.unit,
      spec.groupUnit ? { kept: r.groups, total: r.groupsTotal, unit: spec.groupUnit } : undefined,
      o.seed,
    ),
  );
  return r.items;
}

/**
 * `OUT/splits.json`: loaded when it exists and fits `ids`, else made by `make` and saved (logged).
 * @returns the file and its folds.
 */
export async function splitsOf(
  o: PrepareOptions,
  task: string,
  ids: string[],
  method: string,
  make: () => Split[],
) {
  const file = join(o.out, "splits.json");
  const { splits, created } = await loadOrCreateSplits(file, task, ids, () => ({
    task,
    method,
    seed: o.seed,
    folds: make(),
  }));
  o.log?.(`${created ? "wrote" : "reusing"} ${file}`);
  return { file, splits };
}
