import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, CommanderError } from "commander";
import {
  type AppOptions,
  checkAppOptions,
  type FinetuneRequest,
  type FinetuneResult,
  locateSampleData,
  type PreparedTask,
  parseInits,
  runTaskApp,
} from "./app.js";
import { describeArrays } from "./arrays.js";
import type { TaskName } from "./tasks.js";

/** The backends `--backend` accepts (`@models-genesis/kernels`' initBackend names). */
const BACKEND_NAMES = ["tensorflow", "webgpu", "wasm", "cpu"];

/** One task-specific command-line option beyond the shared ones (a commander option with a value). */
export interface TaskMainOption {
  /** Commander flags, e.g. `"--folds <dir>"`. */
  readonly flags: string;
  readonly description: string;
  readonly defaultValue?: string;
  /** The value is a file or folder path: resolved like `--data` (see {@link resolveUserPath}). */
  readonly isPath?: boolean;
}

/** The parsed options handed to a task's `prepare`: the shared {@link AppOptions} and the extra ones. */
export interface TaskMainOptions extends AppOptions {
  /** Values of {@link TaskMainSpec.extraOptions} by commander's camel-case name (`--folds` → `folds`). */
  readonly extra: Readonly<Record<string, string | undefined>>;
}

/** What a target-task app (`apps/{ncc,ncs,ecc,lcs,bms}`) declares; everything else is shared. */
export interface TaskMainSpec {
  /** Program name and log / error prefix (`ncs: …`). */
  readonly task: TaskName;
  /** One-line program description for `--help`. */
  readonly description: string;
  /** `--help` text of `--data` (the dataset's native layout). */
  readonly dataHelp: string;
  /** `import.meta.url` of the app's entry module: the sample-data search starts from its folder. */
  readonly appUrl: string;
  /** Prepare the task's arrays (`prepareNcc` …); `sampleData` is set only when `--data` is absent. */
  readonly prepare: (
    opts: TaskMainOptions,
    sampleData: string | undefined,
    log: (line: string) => void,
  ) => Promise<PreparedTask>;
  /** The app's fine-tune-and-evaluate function (`./finetune.ts`). */
  readonly finetune: (req: FinetuneRequest) => Promise<FinetuneResult>;
  /** Task-specific options added after the shared ones (BMS: `--folds <dir>`). */
  readonly extraOptions?: readonly TaskMainOption[];
}

/**
 * A path given on the command line, made absolute against the folder the user typed the command in:
 * `pnpm --dir apps/ncs start -- --data X` runs the app inside `apps/ncs`, but pnpm (and npm) pass the
 * invoking folder as `INIT_CWD`, so `X` means what the user meant. Absolute paths are kept.
 */
export function resolveUserPath(p: string): string {
  return resolve(process.env.INIT_CWD ?? process.cwd(), p);
}

const userPath = (p: unknown) => (typeof p === "string" && p !== "" ? resolveUserPath(p) : undefined);

/**
 * Parse `--threads`: `auto` or a positive integer.
 * @throws Error naming the bad value.
 */
export function parseThreads(value: string): number | "auto" {
  if (value === "auto") return "auto";
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`--threads: "${value}" is neither auto nor a positive integer`);
  return n;
}

/**
 * The whole `main` of a target-task app: parse
 * `[--data DIR] --out DIR [--quick] [--runs N] [--weights FILE] [--weights-2d DIR] [--init …] [--seed N]` (+ the
 * task's extra options; a leading `--` from `pnpm start -- …` is dropped), check them, locate the
 * sample data when `--data` is absent, prepare the arrays (logging each split with
 * {@link describeArrays}), fine-tune every initialisation × run through {@link runTaskApp} and
 * write `OUT/results.json` + `results.md`. Log lines and errors go to stderr prefixed `<task>: `;
 * with `GENESIS_DEBUG=1` an error's stack follows its message.
 *
 * @param argv `process.argv` (the first two entries are skipped).
 * @returns the exit code: 0 on success, commander's code for `--help` / usage errors, 1 on errors.
 */
export async function runTaskMain(argv: readonly string[], spec: TaskMainSpec): Promise<number> {
  const log = (line: string) => process.stderr.write(`${spec.task}: ${line}\n`);
  const program = new Command()
    .name(spec.task)
    .description(spec.description)
    .option("--data <dir>", spec.dataHelp)
    .requiredOption("--out <dir>", "output folder (splits.json, results.json, results.md, model/)")
    .option("--quick", "small sample and short schedule (a few minutes on a 2-core CPU)", false)
    .option("--runs <n>", "repetitions with seeds seed, seed+1, …", "1")
    .option("--weights <file>", "pretrained weights: our model directory or Genesis_Chest_CT.pt/.h5")
    .option(
      "--weights-2d <dir>",
      "2-D model directory written by genesis pretrain --model genesis-unet2d (for genesis-2d)",
    )
    .option(
      "--init <list>",
      "scratch, genesis, official (3-D U-Net), scratch-2d, genesis-2d (slice-wise 2-D U-Net); comma-separated for several",
      "scratch",
    )
    .option("--seed <n>", "base seed for splits, sampling and training", "0")
    .option(
      "--threads <n|auto>",
      "training threads: batches split across model replicas on worker threads; auto = one per core (max 4) on wasm/cpu",
      "auto",
    )
    .option(
      "--backend <name>",
      "tensorflow | webgpu | wasm | cpu (default: fastest available; env GENESIS_BACKEND)",
    );
  for (const x of spec.extraOptions ?? []) program.option(x.flags, x.description, x.defaultValue);
  program.showHelpAfterError().exitOverride();
  try {
    // `pnpm start -- --out X` hands the separator through; drop it so options parse as options
    const args = argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
    program.parse(args, { from: "user" });
    const o = program.opts<Record<string, string | boolean | undefined>>();
    // the task runners start the backend through initBackend, which reads GENESIS_BACKEND; a name it
    // cannot know is refused here, before any data is prepared
    if (typeof o.backend === "string") {
      if (!BACKEND_NAMES.includes(o.backend))
        throw new Error(`--backend ${o.backend}: unknown backend; choose one of ${BACKEND_NAMES.join(", ")}`);
      process.env.GENESIS_BACKEND = o.backend;
    }
    const opts: TaskMainOptions = {
      data: userPath(o.data),
      out: resolveUserPath(o.out as string),
      quick: o.quick as boolean,
      runs: Number(o.runs),
      weights: userPath(o.weights),
      weights2d: userPath(o.weights2d),
      init: parseInits(o.init as string),
      seed: Number(o.seed),
      threads: parseThreads(o.threads as string),
      extra: Object.fromEntries(
        (spec.extraOptions ?? []).map((x) => {
          const key = program.options.find((opt) => opt.flags === x.flags)?.attributeName() ?? x.flags;
          return [key, x.isPath ? userPath(o[key]) : (o[key] as string | undefined)];
        }),
      ),
    };
    checkAppOptions(opts);
    const sampleData = opts.data ? undefined : locateSampleData(dirname(fileURLToPath(spec.appUrl)));
    const prepared = await spec.prepare(opts, sampleData, log);
    const a = prepared.folds;
    a.forEach((f, i) => {
      const tag = a.length > 1 ? ` fold ${i}` : "";
      for (const part of ["train", "val", "test"] as const) log(describeArrays(`${part}${tag}`, f[part]));
    });
    const results = await runTaskApp(opts, prepared, spec.finetune, log);
    const named = results.metricNames ? `Dice, IoU and ${results.metric}` : results.metric;
    log(`wrote ${opts.out}/results.json and results.md (${named})`);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`${spec.task}: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.GENESIS_DEBUG === "1" && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}
