#!/usr/bin/env node
/**
 * `bms`: Brain tumour segmentation (BraTS-2018, FLAIR, whole tumour), IoU and Dice — the Models Genesis target task as a program.
 *
 *     pnpm --dir apps/bms start -- [--data DIR] --out DIR [--quick] [--runs N] [--weights FILE]
 *                                   [--init scratch|genesis|official] [--seed N]
 *
 * Reads the dataset in its own layout (`--data`), or builds the sample layout from the shared real
 * data when `--data` is absent; writes `OUT/splits.json` (created once, then reused), prepares the
 * train / validation / test arrays, fine-tunes once per initialisation × run through `runFinetune`
 * (`./finetune.ts`) and writes `OUT/results.json` + `OUT/results.md`.
 */
import { prepareBms, runTaskMain } from "@models-genesis/datasets";
import { runFinetune } from "./finetune.js";

/** Parse the command line, prepare the data, fine-tune and write results. Returns the exit code. */
export function main(argv: string[]): Promise<number> {
  return runTaskMain(argv, {
    task: "bms",
    description:
      "Brain tumour segmentation (BraTS-2018, FLAIR, whole tumour), IoU and Dice (Models Genesis target task)",
    dataHelp: "BraTS-2018 root with <case>/<case>_flair.nii.gz … _seg.nii.gz folders (HGG/, LGG/)",
    appUrl: import.meta.url,
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
    finetune: runFinetune,
  });
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
