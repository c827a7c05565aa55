import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import {
  collectVolumeInputs,
  type Vec3,
  type Volume,
  type VolumeInput,
  VolumeReadError,
} from "@models-genesis/volume-io";
import { DatasetError } from "./errors.js";
import { csvNumber, readCsv } from "./files.js";
import { roundVoxel, worldLpsToVoxel } from "./geometry.js";
import { cropAround } from "./patch.js";

/**
 * LUNA16 (LUng Nodule Analysis 2016) as distributed: `subset0/ … subset9/` folders of MetaImage
 * scans `<seriesuid>.mhd` (+ `.raw` or `.zraw`), `candidates_V2.csv`
 * (`seriesuid,coordX,coordY,coordZ,class`) and `annotations.csv`
 * (`seriesuid,coordX,coordY,coordZ,diameter_mm`), coordinates in world **LPS** millimetres.
 */

/** One scan found on disk. */
export interface Luna16Scan {
  readonly seriesuid: string;
  /** Subset (fold) index 0–9. */
  readonly subset: number;
  /** Path of the `.mhd` header. */
  readonly path: string;
}

/** A nodule candidate (LUNA16 false-positive-reduction track). */
export interface Luna16Candidate {
  readonly seriesuid: string;
  /** World LPS mm. */
  readonly world: Vec3;
  /** 1 = nodule, 0 = not a nodule. */
  readonly label: 0 | 1;
}

/** An annotated nodule (`annotations.csv`). */
export interface Luna16Annotation {
  readonly seriesuid: string;
  readonly world: Vec3;
  readonly diameterMm: number;
}

/**
 * The reference folds: train subsets 0–4, validation 5–6, test 7–9
 * (`keras/downstream_tasks/config.py` `ncc_config`; also `infinite_generator_3D.py` for pretraining).
 */
export const LUNA16_FOLDS = { train: [0, 1, 2, 3, 4], val: [5, 6], test: [7, 8, 9] } as const;

/**
 * Find every scan under `root/subset0 … subset9/*.mhd` (names in order, subsets 0 → 9), through
 * volume-io's `collectVolumeInputs` (its LUNA16-root branch: the one walker of the layout, shared
 * with every command). `seriesuid` is the header's name without `.mhd` (any case), `subset` the
 * number of its `subsetN` folder; a `subsetN` entry that is not a folder is passed over. A header
 * without its `.raw`/`.zraw` data file is still listed (the reader reports it when opened).
 *
 * @throws DatasetError naming the folder or file: `root` cannot be listed, has no `subsetN` folder
 *   or no scan at all, a subset folder cannot be listed, or a seriesuid occurs twice.
 */
export async function discoverLuna16(root: string): Promise<Luna16Scan[]> {
  let entries: string[];
  try {
    entries = await readdir(root);
  } catch (err) {
    throw new DatasetError(root, `cannot list the LUNA16 folder (${(err as Error).message})`);
  }
  const subsets = entries.filter((e) => /^subset\d$/.test(e)).sort();
  if (subsets.length === 0)
    throw new DatasetError(root, "no subset0…subset9 folders (expected the LUNA16 layout)");
  const folds: number[] = [];
  for (const s of subsets) {
    const st = await stat(join(root, s)).catch(() => null);
    if (st?.isDirectory()) folds.push(Number(s.slice(6)));
  }
  const noScans = () => new DatasetError(root, "no .mhd scans in the subset folders");
  if (folds.length === 0) throw noScans();
  let inputs: VolumeInput[];
  try {
    inputs = await collectVolumeInputs([root], { folds });
  } catch (err) {
    if (!(err instanceof VolumeReadError)) throw err;
    // the one error of an empty layout; anything else names its folder (a subset that cannot be listed)
    if (err.file === root && err.problem.startsWith("no volume found")) throw noScans();
    throw new DatasetError(err.file, err.problem);
  }
  const scans: Luna16Scan[] = [];
  const seen = new Map<string, string>();
  for (const { path } of inputs) {
    const seriesuid = basename(path).slice(0, -".mhd".length);
    const prev = seen.get(seriesuid);
    if (prev) throw new DatasetError(path, `seriesuid ${seriesuid} also in ${prev}`);
    seen.set(seriesuid, path);
    scans.push({ seriesuid, subset: Number(basename(dirname(path)).slice("subset".length)), path });
  }
  return scans;
}

/** Read `candidates_V2.csv` (or `candidates.csv`). @throws DatasetError on a missing column, a non-number or a class other than 0/1. */
export async function readLuna16Candidates(path: string): Promise<Luna16Candidate[]> {
  const rows = await readCsv(path, ["seriesuid", "coordX", "coordY", "coordZ", "class"]);
  return rows.map((r, i) => {
    const label = csvNumber(path, r, "class", i);
    if (label !== 0 && label !== 1)
      throw new DatasetError(path, `row ${i + 2}: class must be 0 or 1, got ${r.class}`);
    return {
      seriesuid: r.seriesuid,
      world: [
        csvNumber(path, r, "coordX", i),
        csvNumber(path, r, "coordY", i),
        csvNumber(path, r, "coordZ", i),
      ],
      label,
    };
  });
}

/** Read `annotations.csv`. @throws DatasetError on a missing column or a non-number. */
export async function readLuna16Annotations(path: string): Promise<Luna16Annotation[]> {
  const rows = await readCsv(path, ["seriesuid", "coordX", "coordY", "coordZ", "diameter_mm"]);
  return rows.map((r, i) => ({
    seriesuid: r.seriesuid,
    world: [
      csvNumber(path, r, "coordX", i),
      csvNumber(path, r, "coordY", i),
      csvNumber(path, r, "coordZ", i),
    ],
    diameterMm: csvNumber(path, r, "diameter_mm", i),
  }));
}

/** The part (train / val / test) of a LUNA16 subset under {@link LUNA16_FOLDS}. */
export function luna16PartOfSubset(subset: number): "train" | "val" | "test" {
  if ((LUNA16_FOLDS.train as readonly number[]).includes(subset)) return "train";
  if ((LUNA16_FOLDS.val as readonly number[]).includes(subset)) return "val";
  if ((LUNA16_FOLDS.test as readonly number[]).includes(subset)) return "test";
  throw new RangeError(`luna16PartOfSubset: subset must be 0..9, got ${subset}`);
}

/**
 * Extract the candidate cube around a world LPS point: the point goes LPS → RAS → voxel through the
 * volume's geometry, is rounded to the nearest voxel, and a box of `size` voxels (default 64×64×32,
 * the NCC input of `ncc_config`) is cut around it (`centre − ⌊size/2⌋ … + size`), padded with `pad`
 * (default −1000 HU, air) where it leaves the scan. Returns raw intensities (HU), C order over `size`.
 */
export function extractCandidateCube(
  vol: Volume,
  worldLps: Vec3,
  size: Vec3 = [64, 64, 32],
  pad = -1000,
): Float32Array {
  if (vol.channels !== 1)
    throw new Error(`extractCandidateCube: expected a scalar volume, got ${vol.channels} channels`);
  const v = roundVoxel(worldLpsToVoxel(vol, worldLps));
  return cropAround({ data: vol.data, shape: vol.shape }, v, size, pad);
}
