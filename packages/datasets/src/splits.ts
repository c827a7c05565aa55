import { readFile } from "node:fs/promises";
import { DatasetError } from "./errors.js";
import { writeFileAtomic } from "./files.js";
import { PyRandom } from "./random.js";

/**
 * Patient-level splits that are created once from a seed, saved to `splits.json` and reused (the
 * nnU-Net `do_split` pattern): a rerun, or a run with another initialisation, sees the same cases.
 */

/** One train / validation / test partition of case ids. */
export interface Split {
  train: string[];
  val: string[];
  test: string[];
}

/** The content of `splits.json`: how the split was made, and one split (or one per cross-validation fold). */
export interface SplitsFile {
  /** Task name, e.g. `"ncs"`. */
  task: string;
  /** How the split was made, in words (rule, seed, source of fold lists). */
  method: string;
  seed: number;
  /** One element for a fixed split; k elements for k-fold cross-validation. */
  folds: Split[];
}

/**
 * Split case ids so that all cases of one group (patient) land in the same part. Groups are sorted,
 * shuffled with `PyRandom(seed)`, then cut at the cumulative `fractions` (train, val; test gets the
 * rest), each part receiving at least `minPerPart` groups when there are enough groups.
 *
 * @param ids case ids (e.g. `LIDC-IDRI-0003_R_2`).
 * @param groupOf the group (patient) of a case id (e.g. `LIDC-IDRI-0003`).
 * @throws RangeError when the fractions are negative or sum above 1.
 */
export function groupSplit(
  ids: readonly string[],
  groupOf: (id: string) => string,
  opts: { fractions: { train: number; val: number }; seed: number; minPerPart?: number },
): Split {
  const { train: ft, val: fv } = opts.fractions;
  if (ft < 0 || fv < 0 || ft + fv > 1)
    throw new RangeError(`groupSplit: bad fractions train ${ft}, val ${fv}`);
  const groups = [...new Set(ids.map(groupOf))].sort();
  new PyRandom(opts.seed).shuffle(groups);
  const g = groups.length;
  const min = opts.minPerPart ?? 1;
  let nTrain = Math.round(ft * g);
  let nVal = Math.round(fv * g);
  if (g >= 3 * min) {
    nVal = Math.max(nVal, min);
    nTrain = Math.max(min, Math.min(nTrain, g - nVal - min));
  }
  const part = new Map<string, keyof Split>();
  groups.forEach((grp, i) => {
    part.set(grp, i < nTrain ? "train" : i < nTrain + nVal ? "val" : "test");
  });
  const split: Split = { train: [], val: [], test: [] };
  for (const id of [...ids].sort()) split[part.get(groupOf(id))!].push(id);
  return split;
}

/**
 * k-fold cross-validation by group: groups are sorted, shuffled with `PyRandom(seed)` and dealt
 * round-robin into k folds. Fold i tests on part i; of the remaining groups, `valFraction` (at least
 * one group) — taken from the front of the shuffled order — validate, the rest train.
 *
 * @throws RangeError when there are fewer groups than folds.
 */
export function groupKFold(
  ids: readonly string[],
  groupOf: (id: string) => string,
  opts: { k: number; seed: number; valFraction: number },
): Split[] {
  const groups = [...new Set(ids.map(groupOf))].sort();
  if (groups.length < opts.k) {
    throw new RangeError(`groupKFold: ${groups.length} group(s) cannot make ${opts.k} folds`);
  }
  new PyRandom(opts.seed).shuffle(groups);
  const foldOf = new Map(groups.map((g, i) => [g, i % opts.k]));
  const sortedIds = [...ids].sort();
  return Array.from({ length: opts.k }, (_, f) => {
    const rest = groups.filter((g) => foldOf.get(g) !== f);
    const nVal = Math.min(rest.length - 1, Math.max(1, Math.floor(rest.length * opts.valFraction)));
    const valGroups = new Set(rest.slice(0, nVal));
    const split: Split = { train: [], val: [], test: [] };
    for (const id of sortedIds) {
      const g = groupOf(id);
      if (foldOf.get(g) === f) split.test.push(id);
      else if (valGroups.has(g)) split.val.push(id);
      else split.train.push(id);
    }
    return split;
  });
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((s) => typeof s === "string");
}

/**
 * Read `file` if it exists, else create the splits with `create()` and write them there atomically.
 * A saved file is checked: the task must match, every id must be one of `knownIds`, and every known
 * id must be in some split (so a stale `splits.json` from another or a changed dataset — e.g. a
 * `--quick` subset — is refused rather than silently reused).
 *
 * @throws DatasetError when the saved file is malformed, for another task, names unknown ids or misses known ones.
 */
export async function loadOrCreateSplits(
  file: string,
  task: string,
  knownIds: readonly string[],
  create: () => SplitsFile,
): Promise<{ splits: SplitsFile; created: boolean }> {
  let text: string | null = null;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT")
      throw new DatasetError(file, `cannot read (${(err as Error).message})`);
  }
  if (text === null) {
    const splits = create();
    await writeFileAtomic(file, `${JSON.stringify(splits, null, 2)}\n`);
    return { splits, created: true };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new DatasetError(file, `not valid JSON (${(err as Error).message})`);
  }
  const s = parsed as SplitsFile;
  if (typeof s !== "object" || s === null || !Array.isArray(s.folds) || s.folds.length === 0) {
    throw new DatasetError(
      file,
      "not a splits file (expected {task, method, seed, folds: [{train, val, test}]})",
    );
  }
  if (s.task !== task)
    throw new DatasetError(
      file,
      `splits are for task ${JSON.stringify(s.task)}, not ${JSON.stringify(task)}`,
    );
  const known = new Set(knownIds);
  for (const [i, f] of s.folds.entries()) {
    for (const part of ["train", "val", "test"] as const) {
      if (!isStringArray(f[part])) throw new DatasetError(file, `fold ${i}: ${part} is not a list of ids`);
      const unknown = f[part].filter((id) => !known.has(id));
      if (unknown.length > 0) {
        throw new DatasetError(
          file,
          `fold ${i}: ${part} names ${unknown.length} id(s) not in the dataset (first: ${unknown[0]}); delete the file to re-split`,
        );
      }
    }
  }
  const covered = new Set(s.folds.flatMap((f) => [...f.train, ...f.val, ...f.test]));
  const missing = knownIds.filter((id) => !covered.has(id));
  if (missing.length > 0) {
    throw new DatasetError(
      file,
      `${missing.length} case(s) of the dataset are in no split (first: ${missing[0]}); the data changed since the split was made — delete the file to re-split`,
    );
  }
  return { splits: s, created: false };
}
