import { defineTask } from "../define.js";
import { ECC_CONFIG } from "./config.js";
import { prepareEcc } from "./prepare.js";

export { ECC_CONFIG } from "./config.js";
export { prepareEcc } from "./prepare.js";

/** ECC as the runner runs it (`apps/ecc`). */
export const ECC_TASK = defineTask({
  config: ECC_CONFIG,
  description:
    "Pulmonary embolism false-positive reduction (CT angiography), ROC AUC (Models Genesis target task)",
  dataHelp:
    "folder with candidates.csv (volume,coordX,coordY,coordZ,label; LPS mm) and the CTA volumes it names",
  prepare: (o, sampleData, log) =>
    prepareEcc({ data: o.data, sampleData, out: o.out, quick: o.quick, seed: o.seed, log }),
});
