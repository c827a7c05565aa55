#!/usr/bin/env node
/**
 * `ncc`: Lung nodule false-positive reduction (LUNA16), ROC AUC — the Models Genesis target task as a program.
 *
 *     pnpm --dir apps/ncc start -- [--data DIR] --out DIR [--quick] [--runs N] [--weights FILE]
 *                                   [--init scratch|genesis|official] [--seed N]
 *
 * Reads the dataset in its own layout (`--data`), or builds the sample layout from the shared real
 * data when `--data` is absent; writes `OUT/splits.json` (created once, then reused), prepares the
 * train / validation / test arrays, fine-tunes once per initialisation × run through `runFinetune`
 * (`./finetune.ts`) and writes `OUT/results.json` + `OUT/results.md`.
 */
import { prepareNcc, runTaskMain } from "@models-genesis/datasets";
import { runFinetune } from "./finetune.js";

/** Parse the command line, prepare the data, fine-tune and write results. Returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runTaskMain(argv, {
    task: "ncc",
    description: "Lung nodule false-positive reduction (LUNA16), ROC AUC (Models Genesis target task)",
    dataHelp: "LUNA16 root: subset0…subset9/*.mhd (+ .raw/.zraw) and candidates_V2.csv",
    appUrl: import.meta.url,
    prepare: (o, sampleData, log) =>
      prepareNcc({ data: o.data, sampleData, out: o.out, quick: o.quick, seed: o.seed, log }),
    finetune: runFinetune,
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
