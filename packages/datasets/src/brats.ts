import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { DatasetError } from "./errors.js";
import { PyRandom } from "./random.js";
import type { Split } from "./splits.js";

/**
 * BraTS-2018 (Brain Tumor Segmentation) as distributed: one folder per case,
 * `<case>/<case>_{flair,t1,t1ce,t2,seg}.nii.gz` (under `HGG/` and `LGG/`). The target task uses FLAIR
 * and the whole tumour (all labels > 0).
 */
export interface BratsCase {
  readonly id: string;
  readonly dir: string;
  readonly flair: string;
  readonly seg: string;
  readonly t1?: string;
  readonly t1ce?: string;
  readonly t2?: string;
}

/**
 * Find every case folder under `root` (recursively): a folder `<case>` holding `<case>_flair.nii[.gz]`
 * and `<case>_seg.nii[.gz]`; `_t1`, `_t1ce`, `_t2` are recorded when present.
 *
 * @throws DatasetError when no case is found or a case id occurs twice.
 */
export async function discoverBrats(root: string): Promise<BratsCase[]> {
  const cases: BratsCase[] = [];
  const seen = new Map<string, string>();
  const visit = async (dir: string, depth: number) => {
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      throw new DatasetError(dir, `cannot list (${(err as Error).message})`);
    }
    const name = dir.slice(dir.lastIndexOf("/") + 1);
    const files = new Set(entries.filter((e) => !e.isDirectory()).map((e) => e.name));
    const find = (mod: string) =>
      [".nii.gz", ".nii"].map((ext) => `${name}_${mod}${ext}`).find((f) => files.has(f));
    const flair = find("flair");
    const seg = find("seg");
    if (flair && seg) {
      if (seen.has(name)) throw new DatasetError(dir, `case ${name} also at ${seen.get(name)}`);
      seen.set(name, dir);
      const opt = (mod: string) => {
        const f = find(mod);
        return f ? { [mod]: join(dir, f) } : {};
      };
      cases.push({
        id: name,
        dir,
        flair: join(dir, flair),
        seg: join(dir, seg),
        ...opt("t1"),
        ...opt("t1ce"),
        ...opt("t2"),
      });
      return;
    }
    if (depth > 4) return;
    for (const e of entries.filter((x) => x.isDirectory()).sort((a, b) => a.name.localeCompare(b.name)))
      await visit(join(dir, e.name), depth + 1);
  };
  await visit(root, 0);
  if (cases.length === 0)
    throw new DatasetError(root, "no BraTS case folders (<case>/<case>_flair.nii.gz + <case>_seg.nii.gz)");
  return cases.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/**
 * Read a reference fold file (`keras/downstream_tasks/data/bms/fold_k.csv`): one case id per line in
 * the first column, no header (a first line reading `id`, `ID`, `case` or `FileName` is skipped).
 *
 * @throws DatasetError when the file cannot be read, is empty, or names a case not in `knownIds`.
 */
export async function readFoldFile(path: string, knownIds?: readonly string[]): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new DatasetError(path, `cannot read fold file (${(err as Error).message})`);
  }
  let ids = text
    .split(/\r?\n/)
    .map((l) => l.split(",")[0].trim())
    .filter((l) => l.length > 0);
  if (ids.length > 0 && ["id", "ID", "case", "FileName"].includes(ids[0])) ids = ids.slice(1);
  if (ids.length === 0) throw new DatasetError(path, "no case ids");
  if (knownIds) {
    const known = new Set(knownIds);
    const missing = ids.filter((i) => !known.has(i));
    if (missing.length > 0)
      throw new DatasetError(path, `${missing.length} case(s) not found in the data (first: ${missing[0]})`);
  }
  return ids;
}

/**
 * The reference BMS split (`keras/downstream_tasks/config.py`, `bms_config.__init__`):
 * `train_ids = fold_1 + fold_2`, `random.Random(4).shuffle(train_ids)` (reproduced bit-exactly by
 * {@link PyRandom}), the first `len // 8` become validation and the rest training; `fold_3` is the test set.
 *
 * @param minValidation raise the validation count to at least this many cases (default 0 = the
 *   reference; the 6-case sample layout and `--quick` subsets use 1 because 4 // 8 = 0).
 */
export function bratsReferenceSplit(
  fold1: readonly string[],
  fold2: readonly string[],
  fold3: readonly string[],
  minValidation = 0,
  seed = 4,
): Split {
  const train = [...fold1, ...fold2];
  new PyRandom(seed).shuffle(train);
  const nVal = Math.min(train.length - 1, Math.max(minValidation, Math.floor(train.length / 8)));
  return { train: train.slice(nVal), val: train.slice(0, nVal), test: [...fold3] };
}
