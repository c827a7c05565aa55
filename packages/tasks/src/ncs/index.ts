import { defineTask } from "../define.js";
import { NCS_CONFIG } from "./config.js";
import { prepareNcs } from "./prepare.js";

export { NCS_CONFIG } from "./config.js";
export { prepareNcs } from "./prepare.js";

/** NCS as the runner runs it (`apps/ncs`). */
export const NCS_TASK = defineTask({
  config: NCS_CONFIG,
  description: "Lung nodule segmentation (LIDC-IDRI), IoU and Dice (Models Genesis target task)",
  dataHelp:
    "LIDC nodule volumes image/*.nii.gz + mask/*.nii.gz (e.g. the bundled sample apps/cli/sample/lidc-voi), or the reference arrays x/m_{train,valid,test}_64x64x32.npy",
  prepare: (o, sampleData, log) =>
    prepareNcs({ data: o.data, sampleData, out: o.out, quick: o.quick, seed: o.seed, log }),
});
