import { TASK_CONFIG_SOURCE, TASK_PLATEAU, type TaskConfig } from "../config.js";

/**
 * LCS: liver segmentation on LiTS-2017 (`lcs_config`). The reference's data are
 * `3D_LiTS_NPY_256x256xZ`: the 512×512 LiTS slices resized in-plane to 256×256, depth kept, hence
 * `resize` [0.5, 0.5, 1]. The preparation scales every case by this factor (not to a fixed size),
 * so that the record is true for each case and whole-volume prediction can apply it again.
 */
export const LCS_CONFIG: TaskConfig = {
  task: "lcs",
  title: "liver segmentation (LiTS-2017)",
  kind: "segmentation",
  modality: "CT",
  window: [-1000, 1000],
  patchSize: [64, 64, 32],
  crop: null,
  resize: [0.5, 0.5, 1],
  optimizer: "adam",
  lr: 1e-2,
  batchSize: 16,
  patience: 20,
  reduceLrOnPlateau: TASK_PLATEAU,
  loss: "dice",
  metric: "iou",
  quickLimit: 4,
  source: `${TASK_CONFIG_SOURCE} lcs_config (volumes 0-99 / 100-114 / 115-129; data 3D_LiTS_NPY_256x256xZ)`,
};
