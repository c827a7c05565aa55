import { TASK_CONFIG_SOURCE, TASK_PLATEAU, type TaskConfig } from "../config.js";

/** NCC: lung nodule false-positive reduction on LUNA16 (`ncc_config`). */
export const NCC_CONFIG: TaskConfig = {
  task: "ncc",
  title: "lung nodule false-positive reduction (LUNA16)",
  kind: "classification",
  modality: "CT",
  window: [-1000, 1000],
  patchSize: [64, 64, 32],
  crop: null,
  resize: null,
  optimizer: "adam",
  lr: 1e-3,
  batchSize: 24,
  patience: 10,
  reduceLrOnPlateau: TASK_PLATEAU,
  loss: "bce",
  metric: "auc",
  quickLimit: 40,
  source: `${TASK_CONFIG_SOURCE} ncc_config (train subsets 0-4, valid 5-6, test 7-9; hu_min/hu_max ±1000)`,
};
