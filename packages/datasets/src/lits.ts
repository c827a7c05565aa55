import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { type Vec3, type Volume, windowIntensity } from "@models-genesis/volume-io";
import { DatasetError } from "./errors.js";
import { type Grid, resizeGrid } from "./patch.js";

/**
 * LiTS-2017 (Liver Tumor Segmentation Challenge) training data: `volume-N.nii` and
 * `segmentation-N.nii` (N = 0…130; labels 0 background, 1 liver, 2 tumour), usually in two folders
 * "Training Batch 1/2" — the files are searched recursively. `.nii.gz` is accepted too.
 */
export interface LitsCase {
  readonly n: number;
  readonly id: string;
  readonly volume: string;
  readonly segmentation: string;
}

/** The reference split by N: 0–99 train, 100–114 validation, 115–129 test (`lcs_config`). */
export const LITS_SPLIT = { train: [0, 99], val: [100, 114], test: [115, 129] } as const;

/** The part of case N under {@link LITS_SPLIT}, or null for N ≥ 130 (unused by the reference). */
export function litsPart(n: number): "train" | "val" | "test" | null {
  for (const part of ["train", "val", "test"] as const) {
    const [a, b] = LITS_SPLIT[part];
    if (n >= a && n <= b) return part;
  }
  return null;
}

async function walk(dir: string, out: string[]): Promise<void> {
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    throw new DatasetError(dir, `cannot list (${(err as Error).message})`);
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out);
    else out.push(p);
  }
}

/**
 * Find LiTS cases under `root` (recursively). Volumes without a segmentation (the challenge test
 * batch) are skipped and returned in `unlabelled`.
 *
 * @throws DatasetError when no labelled case is found, or a case number occurs twice.
 */
export async function discoverLits(root: string): Promise<{ cases: LitsCase[]; unlabelled: string[] }> {
  const files: string[] = [];
  await walk(root, files);
  const vols = new Map<number, string>();
  const segs = new Map<number, string>();
  for (const f of files) {
    const name = f.slice(f.lastIndexOf("/") + 1);
    const m = /^(volume|segmentation)-(\d+)\.nii(\.gz)?$/.exec(name);
    if (!m) continue;
    const map = m[1] === "volume" ? vols : segs;
    const n = Number(m[2]);
    if (map.has(n)) throw new DatasetError(f, `case ${n} also at ${map.get(n)}`);
    map.set(n, f);
  }
  const cases: LitsCase[] = [];
  const unlabelled: string[] = [];
  for (const [n, v] of [...vols].sort((a, b) => a[0] - b[0])) {
    const s = segs.get(n);
    if (s) cases.push({ n, id: `volume-${n}`, volume: v, segmentation: s });
    else unlabelled.push(v);
  }
  if (cases.length === 0)
    throw new DatasetError(root, "no volume-N.nii with a matching segmentation-N.nii (LiTS layout)");
  return { cases, unlabelled };
}

/**
 * Prepare one LiTS case as the reference's `3D_LiTS_NPY_256x256xZ` data suggest (`lcs_config`):
 * the CT windowed HU [−1000, 1000] → [0, 1]; the liver mask = label ≥ 1 (liver and tumour);
 * optionally both resized in-plane to `inPlane × inPlane` (trilinear / nearest), depth kept.
 *
 * @throws DatasetError when CT and segmentation shapes differ.
 */
export function prepareLitsCase(
  ct: Volume,
  seg: Volume,
  opts: { inPlane: number | null; window?: { min: number; max: number } } = { inPlane: 256 },
): { image: Grid<Float32Array>; mask: Grid<Float32Array> } {
  if (ct.shape.some((v, i) => v !== seg.shape[i])) {
    throw new DatasetError(
      String(seg.meta.file ?? "segmentation"),
      `shape ${seg.shape.join("×")} differs from the CT ${ct.shape.join("×")}`,
    );
  }
  const w = opts.window ?? { min: -1000, max: 1000 };
  let image: Float32Array = windowIntensity(ct.data, [w.min, w.max], {
    source: String(ct.meta.file ?? "CT"),
  });
  let mask: Float32Array = Float32Array.from(seg.data, (v) => (v >= 1 ? 1 : 0));
  let shape: Vec3 = [...ct.shape] as Vec3;
  if (opts.inPlane !== null && (shape[0] !== opts.inPlane || shape[1] !== opts.inPlane)) {
    const out: Vec3 = [opts.inPlane, opts.inPlane, shape[2]];
    image = resizeGrid({ data: image, shape }, out, "linear");
    mask = resizeGrid({ data: mask, shape }, out, "nearest");
    shape = out;
  }
  return { image: { data: image, shape }, mask: { data: mask, shape } };
}
