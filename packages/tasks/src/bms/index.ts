import { defineTask } from "../define.js";
import { BMS_CONFIG } from "./config.js";
import { prepareBms } from "./prepare.js";

export { BMS_CONFIG } from "./config.js";
export { prepareBms } from "./prepare.js";
export { BMS_SAMPLE_WINDOW } from "./sample.js";

/** BMS as the runner runs it (`apps/bms`; extra option `--folds <dir>`). */
export const BMS_TASK = defineTask({
  config: BMS_CONFIG,
  description:
    "Brain tumour segmentation (BraTS-2018, FLAIR, whole tumour), IoU and Dice (Models Genesis target task)",
  dataHelp: "BraTS-2018 root with <case>/<case>_flair.nii.gz … _seg.nii.gz folders (HGG/, LGG/)",
  prepare: (o, sampleData, log) =>
    prepareBms({
      data: o.data,
      sampleData,
      out: o.out,
      quick: o.quick,
      seed: o.seed,
      log,
      folds: o.extra.folds,
    }),
  extraOptions: [
    {
      flags: "--folds <dir>",
      isPath: true,
      description: "folder with the reference fold_1.csv … fold_3.csv (default: DATA/folds)",
    },
  ],
});
