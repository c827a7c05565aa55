import { FINETUNE_PLATEAU } from "@models-genesis/train";
import type { PreprocessingRecord, Vec3 } from "@models-genesis/volume-io";

/** The five target tasks of the paper (Zhou et al., MedIA 2021, Table/Fig. on target tasks). */
export type TaskName = "ncc" | "ncs" | "ecc" | "lcs" | "bms";

/**
 * The reference recipe of one target task — the only place its numbers live (the fine-tuning
 * pipeline, the apps and `results.json` read them from here). Every value is read from
 * `keras/downstream_tasks/config.py` (classes `ncc_config`, `ncs_config`, `ecc_config`,
 * `lcs_config`, `bms_config`) and the callbacks in `keras/downstream_tasks/utils.py`
 * (`model_setup`); see `spec/reference-facts.md`, "Target tasks". Geometry and intensity fields
 * use the names of `PreprocessingRecord` (`@models-genesis/volume-io`), which the task's
 * preparation fills from them.
 */
export interface TaskConfig {
  /** Short name (a folder of this package for the five reference tasks; any name for a contributed task). */
  readonly task: string;
  /** What is learned, in words. */
  readonly title: string;
  readonly kind: "classification" | "segmentation";
  /** `"CT"` (window in HU) or `"MRI"` (scanner units): stated, never guessed from the window. */
  readonly modality: PreprocessingRecord["modality"];
  /** Intensity window [lo, hi] in source units (HU for CT; raw MRI units for BraTS), mapped to [0, 1]. */
  readonly window: readonly [number, number];
  /** Model input patch (rows, cols, deps) = (x, y, z) voxels. */
  readonly patchSize: Vec3;
  /** Region (x, y, z voxels) cut before resizing to `patchSize` (BMS only: 100×100×50 → 64×64×32); null = none. */
  readonly crop: Vec3 | null;
  /** Scale per axis applied to each volume before patches are cut (LCS in-plane 512 → 256: [0.5, 0.5, 1]); null = none. */
  readonly resize: Vec3 | null;
  readonly optimizer: "adam";
  readonly lr: number;
  readonly batchSize: number;
  /** Early-stopping patience in epochs on validation loss. */
  readonly patience: number;
  /** ReduceLROnPlateau on validation loss, as `model_setup` in `keras/downstream_tasks/utils.py`. */
  readonly reduceLrOnPlateau: {
    readonly factor: number;
    readonly patience: number;
    readonly minDelta: number;
    readonly minLr: number;
  };
  /** Loss: BCE for classification; 1 − soft Dice (smooth 1) for segmentation (`dice_coef_loss`). */
  readonly loss: "bce" | "dice";
  /** The headline metric the paper reports. */
  readonly metric: "auc" | "iou";
  /**
   * How much of a `--data` dataset `--quick` keeps, in the unit the task splits by (NCC scans, NCS
   * volumes or reference cubes, ECC volumes, LCS / BMS cases): the size of the task's quick sample
   * layout. Whole groups only, at least one per part, so a few more may be kept (`quickSubset`).
   */
  readonly quickLimit: number;
  /** Where the values come from. */
  readonly source: string;
}

/**
 * ReduceLROnPlateau of every task's fine-tuning (`keras/downstream_tasks/utils.py`, `model_setup`):
 * factor 0.5, patience 6, min_delta 1e-4, min_lr 1e-6 — `FINETUNE_PLATEAU` of `@models-genesis/train`.
 */
export const TASK_PLATEAU = FINETUNE_PLATEAU;

/** The reference's configuration file, named in each task's `source`. */
export const TASK_CONFIG_SOURCE = "keras/downstream_tasks/config.py";

/**
 * The preprocessing record of a task's prepared arrays, from its config: window and modality,
 * `resize`, `crop` and `patchSize` as the config states them (range [0, 1], no resampling to a
 * spacing, voxel axes as stored). `overrides` replace fields where the data differ from the
 * reference (the BMS sample's z-scored window, LCS's measured in-plane factor).
 */
export function taskPreprocessing(
  config: TaskConfig,
  overrides: Partial<PreprocessingRecord> = {},
): PreprocessingRecord {
  return {
    modality: config.modality,
    window: [config.window[0], config.window[1]],
    range: [0, 1],
    spacing: null,
    resize: config.resize ? ([...config.resize] as Vec3) : null,
    crop: config.crop ? ([...config.crop] as Vec3) : null,
    patchSize: [...config.patchSize] as Vec3,
    orientation: null,
    source: `@models-genesis/tasks ${config.task} preparation (${config.source})`,
    ...overrides,
  };
}
