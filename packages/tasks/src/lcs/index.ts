import { defineTask } from "../define.js";
import { LCS_CONFIG } from "./config.js";
import { prepareLcs } from "./prepare.js";

export { LCS_CONFIG } from "./config.js";
export { prepareLcs } from "./prepare.js";

/** LCS as the runner runs it (`apps/lcs`). */
export const LCS_TASK = defineTask({
  config: LCS_CONFIG,
  description: "Liver segmentation (LiTS-2017), IoU and Dice (Models Genesis target task)",
  dataHelp: "LiTS root with volume-N.nii and segmentation-N.nii (searched recursively)",
  prepare: (o, sampleData, log) =>
    prepareLcs({ data: o.data, sampleData, out: o.out, quick: o.quick, seed: o.seed, log }),
});
