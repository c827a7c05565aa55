#!/usr/bin/env node
/**
 * `ncs`: Lung nodule segmentation (LIDC-IDRI), IoU and Dice — the Models Genesis target task as a program.
 *
 *     pnpm --dir apps/ncs start -- [--data DIR] --out DIR [--quick] [--runs N] [--weights FILE]
 *                                   [--init scratch|genesis|official] [--seed N]
 *
 * Reads the dataset in its own layout (`--data`), or builds the sample layout from the shared real
 * data when `--data` is absent; writes `OUT/splits.json` (created once, then reused), prepares the
 * train / validation / test arrays, fine-tunes once per initialisation × run through `runFinetune`
 * (`./finetune.ts`) and writes `OUT/results.json` + `OUT/results.md`.
 */
import { prepareNcs, runTaskMain } from "@models-genesis/datasets";
import { runFinetune } from "./finetune.js";

/** Parse the command line, prepare the data, fine-tune and write results. Returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runTaskMain(argv, {
    task: "ncs",
    description: "Lung nodule segmentation (LIDC-IDRI), IoU and Dice (Models Genesis target task)",
    dataHelp:
      "LIDC nodule volumes image/*.nii.gz + mask/*.nii.gz (e.g. the bundled sample apps/cli/sample/lidc-voi), or the reference arrays x/m_{train,valid,test}_64x64x32.npy",
    appUrl: import.meta.url,
    prepare: (o, sampleData, log) =>
      prepareNcs({ data: o.data, sampleData, out: o.out, quick: o.quick, seed: o.seed, log }),
    finetune: runFinetune,
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
