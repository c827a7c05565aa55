import { dirname, isAbsolute, resolve } from "node:path";
import type { Vec3 } from "@models-genesis/volume-io";
import { DatasetError } from "./errors.js";
import { csvNumber, readCsv, writeCsv } from "./files.js";
import { groupKFold, type Split } from "./splits.js";

/**
 * Pulmonary-embolism false-positive reduction (ECC): a candidate list over CT angiography volumes.
 *
 * ## Candidate list format (`candidates.csv`)
 * A CSV with a header row and the columns
 *
 *     volume,coordX,coordY,coordZ,label
 *
 * - `volume`: path of the CT volume (any format `readVolume` reads: `.nii[.gz]`, `.mhd`, DICOM
 *   folder), relative to the CSV's folder or absolute;
 * - `coordX, coordY, coordZ`: candidate centre in world **LPS** millimetres (the LUNA16 convention);
 * - `label`: 1 = true embolus, 0 = false positive.
 *
 * Further columns are ignored. The reference's own PE-CAD lists (`keras/downstream_tasks/data/ecc/`)
 * name patients only; their candidate coordinates are not public.
 */
export interface EccCandidate {
  /** The `volume` cell as written. */
  readonly volume: string;
  /** Absolute path of the volume. */
  readonly path: string;
  readonly world: Vec3;
  readonly label: 0 | 1;
}

/** Column order of the candidate list. */
export const ECC_COLUMNS = ["volume", "coordX", "coordY", "coordZ", "label"] as const;

/** Read a candidate list. @throws DatasetError on a missing column, a non-number or a label other than 0/1. */
export async function readEccCandidates(csvPath: string): Promise<EccCandidate[]> {
  const rows = await readCsv(csvPath, ECC_COLUMNS);
  const base = dirname(csvPath);
  return rows.map((r, i) => {
    const label = csvNumber(csvPath, r, "label", i);
    if (label !== 0 && label !== 1)
      throw new DatasetError(csvPath, `row ${i + 2}: label must be 0 or 1, got ${r.label}`);
    if (!r.volume) throw new DatasetError(csvPath, `row ${i + 2}: empty volume`);
    return {
      volume: r.volume,
      path: isAbsolute(r.volume) ? r.volume : resolve(base, r.volume),
      world: [
        csvNumber(csvPath, r, "coordX", i),
        csvNumber(csvPath, r, "coordY", i),
        csvNumber(csvPath, r, "coordZ", i),
      ],
      label,
    };
  });
}

/** Write a candidate list in the documented format (atomically). */
export async function writeEccCandidates(
  csvPath: string,
  rows: readonly { volume: string; world: Vec3; label: 0 | 1 }[],
): Promise<void> {
  await writeCsv(
    csvPath,
    ECC_COLUMNS,
    rows.map((r) => ({
      volume: r.volume,
      coordX: r.world[0],
      coordY: r.world[1],
      coordZ: r.world[2],
      label: r.label,
    })),
  );
}

/**
 * The 3-fold cross-validation of the reference (`ecc_config`, `train_cv-k` / `val_cv-k` / `test_cv-k`),
 * made here by volume: volumes are shuffled with `PyRandom(seed)` and dealt into `k` folds; fold i
 * tests on part i and validates on 1/8 of the other volumes (at least one). The split lists volume
 * names (the `volume` cells), so all candidates of a volume stay together.
 */
export function eccFolds(candidates: readonly EccCandidate[], seed: number, k = 3): Split[] {
  const volumes = [...new Set(candidates.map((c) => c.volume))];
  return groupKFold(volumes, (v) => v, { k, seed, valFraction: 1 / 8 });
}
