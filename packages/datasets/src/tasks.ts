import type { Vec3 } from "@models-genesis/volume-io";

/** The five target tasks of the paper (Zhou et al., MedIA 2021, Table/Fig. on target tasks). */
export type TaskName = "ncc" | "ncs" | "ecc" | "lcs" | "bms";

/**
 * The reference fine-tuning recipe of one target task. Every value is read from
 * `keras/downstream_tasks/config.py` (classes `ncc_config`, `ncs_config`, `ecc_config`,
 * `lcs_config`, `bms_config`) and the callbacks in `keras/downstream_tasks/utils.py` (`model_setup`);
 * see `spec/reference-facts.md`, "Target tasks".
 */
export interface TaskConfig {
  readonly task: TaskName;
  /** What is learned, in words. */
  readonly title: string;
  readonly kind: "classification" | "segmentation";
  /** Model input (rows, cols, deps) = (x, y, z) voxels. */
  readonly inputSize: Vec3;
  /** Window cropped before resizing to `inputSize` (BMS only: 100×100×50 → 64×64×32). */
  readonly cropSize?: Vec3;
  /** Modality of the task's scans (recorded in the fine-tuned model's preprocessing record; never guessed from the window). */
  readonly modality: "CT" | "MRI";
  /** Intensity window mapped to [0, 1] (HU for CT; raw MRI units for BraTS). */
  readonly intensityWindow: { readonly min: number; readonly max: number };
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
  /** Where the values come from. */
  readonly source: string;
}

const PLATEAU = { factor: 0.5, patience: 6, minDelta: 1e-4, minLr: 1e-6 } as const;
const SRC = "keras/downstream_tasks/config.py";

/** Reference recipes by task (`keras/downstream_tasks/config.py`). */
export const TASK_CONFIGS: Readonly<Record<TaskName, TaskConfig>> = {
  ncc: {
    task: "ncc",
    title: "lung nodule false-positive reduction (LUNA16)",
    kind: "classification",
    inputSize: [64, 64, 32],
    modality: "CT",
    intensityWindow: { min: -1000, max: 1000 },
    optimizer: "adam",
    lr: 1e-3,
    batchSize: 24,
    patience: 10,
    reduceLrOnPlateau: PLATEAU,
    loss: "bce",
    metric: "auc",
    source: `${SRC} ncc_config (train subsets 0-4, valid 5-6, test 7-9; hu_min/hu_max ±1000)`,
  },
  ncs: {
    task: "ncs",
    title: "lung nodule segmentation (LIDC-IDRI)",
    kind: "segmentation",
    inputSize: [64, 64, 32],
    modality: "CT",
    intensityWindow: { min: -1000, max: 1000 },
    optimizer: "adam",
    lr: 1e-3,
    batchSize: 16,
    patience: 50,
    reduceLrOnPlateau: PLATEAU,
    loss: "dice",
    metric: "iou",
    source: `${SRC} ncs_config; arrays x/m_{train,valid,test}_64x64x32.npy (keras/downstream_tasks/ncs_data.py)`,
  },
  ecc: {
    task: "ecc",
    title: "pulmonary embolism false-positive reduction (PE-CAD)",
    kind: "classification",
    inputSize: [64, 64, 64],
    modality: "CT",
    intensityWindow: { min: -1000, max: 1000 },
    optimizer: "adam",
    lr: 1e-3,
    batchSize: 24,
    patience: 38,
    reduceLrOnPlateau: PLATEAU,
    loss: "bce",
    metric: "auc",
    source: `${SRC} ecc_config (clip_min/clip_max ±1000; 3-fold CV, data/ecc/{train,val,test}_cv-k.csv)`,
  },
  lcs: {
    task: "lcs",
    title: "liver segmentation (LiTS-2017)",
    kind: "segmentation",
    inputSize: [64, 64, 32],
    modality: "CT",
    intensityWindow: { min: -1000, max: 1000 },
    optimizer: "adam",
    lr: 1e-2,
    batchSize: 16,
    patience: 20,
    reduceLrOnPlateau: PLATEAU,
    loss: "dice",
    metric: "iou",
    source: `${SRC} lcs_config (volumes 0-99 / 100-114 / 115-129; data 3D_LiTS_NPY_256x256xZ)`,
  },
  bms: {
    task: "bms",
    title: "brain tumour segmentation (BraTS-2018, FLAIR, whole tumour)",
    kind: "segmentation",
    inputSize: [64, 64, 32],
    cropSize: [100, 100, 50],
    modality: "MRI",
    intensityWindow: { min: 0, max: 4000 },
    optimizer: "adam",
    lr: 1e-3,
    batchSize: 16,
    patience: 30,
    reduceLrOnPlateau: PLATEAU,
    loss: "dice",
    metric: "iou",
    source: `${SRC} bms_config (crop 100x100x50 -> 64x64x32; fold_1+fold_2 train with 1/8 validation after random.Random(4).shuffle, fold_3 test); MRI window [0, 4000] from spec/reference-facts.md`,
  },
};
