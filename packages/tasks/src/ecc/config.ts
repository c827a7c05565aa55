import { TASK_CONFIG_SOURCE, TASK_PLATEAU, type TaskConfig } from "../config.js";

/** ECC: pulmonary embolism false-positive reduction (`ecc_config`). */
export const ECC_CONFIG: TaskConfig = {
  task: "ecc",
  title: "pulmonary embolism false-positive reduction (PE-CAD)",
  kind: "classification",
  modality: "CT",
  window: [-1000, 1000],
  patchSize: [64, 64, 64],
  crop: null,
  resize: null,
  optimizer: "adam",
  lr: 1e-3,
  batchSize: 24,
  patience: 38,
  reduceLrOnPlateau: TASK_PLATEAU,
  loss: "bce",
  metric: "auc",
  quickLimit: 4,
  source: `${TASK_CONFIG_SOURCE} ecc_config (clip_min/clip_max ±1000; 3-fold CV, data/ecc/{train,val,test}_cv-k.csv)`,
};
