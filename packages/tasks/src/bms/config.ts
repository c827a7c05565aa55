import { TASK_CONFIG_SOURCE, TASK_PLATEAU, type TaskConfig } from "../config.js";

/** BMS: brain tumour segmentation on BraTS-2018 FLAIR, whole tumour (`bms_config`). */
export const BMS_CONFIG: TaskConfig = {
  task: "bms",
  title: "brain tumour segmentation (BraTS-2018, FLAIR, whole tumour)",
  kind: "segmentation",
  modality: "MRI",
  window: [0, 4000],
  patchSize: [64, 64, 32],
  crop: [100, 100, 50],
  // the 100×100×50 crop resized to the 64×64×32 patch: 0.64 on every axis, which whole-volume
  // prediction applies to the whole scan
  resize: [0.64, 0.64, 0.64],
  optimizer: "adam",
  lr: 1e-3,
  batchSize: 16,
  patience: 30,
  reduceLrOnPlateau: TASK_PLATEAU,
  loss: "dice",
  metric: "iou",
  quickLimit: 6,
  source: `${TASK_CONFIG_SOURCE} bms_config (crop 100x100x50 -> 64x64x32; fold_1+fold_2 train with 1/8 validation after random.Random(4).shuffle, fold_3 test); MRI window [0, 4000] from spec/reference-facts.md`,
};
