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
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type AppOptions,
  checkAppOptions,
  describeArrays,
  locateSampleData,
  parseInits,
  prepareNcs,
  runTaskApp,
} from "@models-genesis/datasets";
import { Command, CommanderError } from "commander";
import { runFinetune } from "./finetune.js";

interface RawOptions {
  data?: string;
  out: string;
  quick: boolean;
  runs: string;
  weights?: string;
  init: string;
  seed: string;
}

/** Parse the command line, prepare the data, fine-tune and write results. Returns the exit code. */
export async function main(argv: string[]): Promise<number> {
  const log = (line: string) => process.stderr.write(`ncs: ${line}\n`);
  const program = new Command()
    .name("ncs")
    .description("Lung nodule segmentation (LIDC-IDRI), IoU and Dice (Models Genesis target task)")
    .option(
      "--data <dir>",
      "LIDC nodule volumes image/*.nii.gz + mask/*.nii.gz, or the reference arrays x/m_{train,valid,test}_64x64x32.npy",
    )
    .requiredOption("--out <dir>", "output folder (splits.json, results.json, results.md, model/)")
    .option("--quick", "small sample and short schedule (a few minutes on a 2-core CPU)", false)
    .option("--runs <n>", "repetitions with seeds seed, seed+1, …", "1")
    .option("--weights <file>", "pretrained weights: our model directory or Genesis_Chest_CT.pt/.h5")
    .option("--init <list>", "scratch, genesis or official (comma-separated for several)", "scratch")
    .option("--seed <n>", "base seed for splits, sampling and training", "0")
    .showHelpAfterError()
    .exitOverride();
  try {
    // `pnpm start -- --out X` hands the separator through; drop it so options parse as options
    const args = argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
    program.parse(args, { from: "user" });
    const o = program.opts<RawOptions>();
    const opts: AppOptions = {
      data: o.data,
      out: o.out,
      quick: o.quick,
      runs: Number(o.runs),
      weights: o.weights,
      init: parseInits(o.init),
      seed: Number(o.seed),
    };
    checkAppOptions(opts);
    const sampleData = opts.data ? undefined : locateSampleData(dirname(fileURLToPath(import.meta.url)));
    const prepared = await prepareNcs({
      data: opts.data,
      sampleData,
      out: opts.out,
      quick: opts.quick,
      seed: opts.seed,
      log,
    });
    const a = prepared.folds;
    a.forEach((f, i) => {
      const tag = a.length > 1 ? ` fold ${i}` : "";
      for (const part of ["train", "val", "test"] as const) log(describeArrays(`${part}${tag}`, f[part]));
    });
    const results = await runTaskApp(opts, prepared, runFinetune, log);
    log(`wrote ${opts.out}/results.json and results.md (${results.metric})`);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`ncs: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.GENESIS_DEBUG === "1" && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
