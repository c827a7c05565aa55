import { defineTask } from "../define.js";
import { NCC_CONFIG } from "./config.js";
import { prepareNcc } from "./prepare.js";

export { NCC_CONFIG } from "./config.js";
export { prepareNcc } from "./prepare.js";

/** NCC as the runner runs it (`apps/ncc`). */
export const NCC_TASK = defineTask({
  config: NCC_CONFIG,
  description: "Lung nodule false-positive reduction (LUNA16), ROC AUC (Models Genesis target task)",
  dataHelp: "LUNA16 root: subset0…subset9/*.mhd (+ .raw/.zraw) and candidates_V2.csv",
  prepare: (o, sampleData, log) =>
    prepareNcc({ data: o.data, sampleData, out: o.out, quick: o.quick, seed: o.seed, log }),
});
