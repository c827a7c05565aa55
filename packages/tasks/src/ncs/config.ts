import { TASK_CONFIG_SOURCE, TASK_PLATEAU, type TaskConfig } from "../config.js";

/** NCS: lung nodule segmentation on LIDC-IDRI (`ncs_config`). */
export const NCS_CONFIG: TaskConfig = {
  task: "ncs",
  title: "lung nodule segmentation (LIDC-IDRI)",
  kind: "segmentation",
  modality: "CT",
  window: [-1000, 1000],
  patchSize: [64, 64, 32],
  crop: null,
  resize: null,
  optimizer: "adam",
  lr: 1e-3,
  batchSize: 16,
  patience: 50,
  reduceLrOnPlateau: TASK_PLATEAU,
  loss: "dice",
  metric: "iou",
  quickLimit: 40,
  source: `${TASK_CONFIG_SOURCE} ncs_config; arrays x/m_{train,valid,test}_64x64x32.npy (keras/downstream_tasks/ncs_data.py)`,
};
