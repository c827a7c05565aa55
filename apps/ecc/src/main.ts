#!/usr/bin/env node
/**
 * `ecc`: Pulmonary embolism false-positive reduction (CT angiography), ROC AUC — the Models Genesis target task as a program.
 *
 *     pnpm --dir apps/ecc start -- [--data DIR] --out DIR [--quick] [--runs N] [--weights FILE]
 *                                   [--init scratch|genesis|official] [--seed N]
 *
 * Reads the dataset in its own layout (`--data`), or builds the sample layout from the shared real
 * data when `--data` is absent; writes `OUT/splits.json` (created once, then reused), prepares the
 * train / validation / test arrays, fine-tunes once per initialisation × run through `runFinetune`
 * (`./finetune.ts`) and writes `OUT/results.json` + `OUT/results.md`.
 */
import { prepareEcc, runTaskMain } from "@models-genesis/datasets";
import { runFinetune } from "./finetune.js";

/** Parse the command line, prepare the data, fine-tune and write results. Returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runTaskMain(argv, {
    task: "ecc",
    description:
      "Pulmonary embolism false-positive reduction (CT angiography), ROC AUC (Models Genesis target task)",
    dataHelp:
      "folder with candidates.csv (volume,coordX,coordY,coordZ,label; LPS mm) and the CTA volumes it names",
    appUrl: import.meta.url,
    prepare: (o, sampleData, log) =>
      prepareEcc({ data: o.data, sampleData, out: o.out, quick: o.quick, seed: o.seed, log }),
    finetune: runFinetune,
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
