import { dirname, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { describeArrays, parseThreads } from "@models-genesis/datasets";
import { initBackend } from "@models-genesis/kernels";
import { chooseEngine } from "@models-genesis/onnx";
import { Command, CommanderError } from "commander";
import {
  checkAppOptions,
  type FinetuneRequest,
  type FinetuneResult,
  locateSampleData,
  parseInits,
  runTaskRuns,
} from "./app.js";
import type { TaskName } from "./config.js";
import type { TaskDefinition, TaskMainOptions } from "./define.js";
import { finetuneTask } from "./finetune.js";
import { TASKS } from "./registry.js";

/** The backends `--backend` accepts (`@models-genesis/kernels`' initBackend names). */
const BACKEND_NAMES = ["tensorflow", "webgpu", "wasm", "cpu"];

/** What {@link runTaskMain} runs: a task definition, and optionally where the app lives and another fine-tuning function. */
export interface TaskMainSpec extends TaskDefinition {
  /**
   * URL of the app's entry module: the sample-data search starts from its folder (default: the
   * script in `argv[1]`, then the working directory).
   */
  readonly appUrl?: string;
  /** Fine-tune and evaluate one request (default {@link runFinetune}: start the backend once, then `finetuneTask`). */
  readonly finetune?: (req: FinetuneRequest) => Promise<FinetuneResult>;
}

let backendStarted: Promise<string> | undefined;

/**
 * The runner's default fine-tuning step: starts the tfjs backend on the first call — the one named
 * by `req.backend` (`--backend`; a refusal names the flag), else `GENESIS_BACKEND`, else the
 * fastest available — logs which one runs, then runs {@link finetuneTask} with the task's recipe.
 * @throws BackendError naming `--backend` when the requested backend cannot start.
 */
export async function runFinetune(req: FinetuneRequest): Promise<FinetuneResult> {
  backendStarted ??= initBackend({
    ...(req.backend ? { backend: req.backend, source: "--backend" } : {}),
    log: req.log,
  }).catch((err: unknown) => {
    backendStarted = undefined; // a later call may try again
    throw err;
  });
  await backendStarted;
  return finetuneTask(req);
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
 * The whole `main` of a target-task app: parse
 * `[--data DIR] --out DIR [--quick] [--runs N] [--weights FILE] [--weights-2d DIR] [--init …] [--seed N]
 * [--threads N|auto] [--backend NAME] [--engine onnx|tfjs]` (+ the
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
  const task = spec.config.task;
  const log = (line: string) => process.stderr.write(`${task}: ${line}\n`);
  const program = new Command()
    .name(task)
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
    )
    .option(
      "--engine <name>",
      "engine of the test-set predictions, as genesis predict: onnx (ONNX Runtime) | tfjs (default: onnx when onnxruntime-node loads, else tfjs)",
    );
  for (const x of spec.extraOptions ?? []) program.option(x.flags, x.description, x.defaultValue);
  program.showHelpAfterError().exitOverride();
  try {
    // `pnpm start -- --out X` hands the separator through; drop it so options parse as options
    const args = argv.slice(2).filter((a, i) => !(i === 0 && a === "--"));
    program.parse(args, { from: "user" });
    const o = program.opts<Record<string, string | boolean | undefined>>();
    // the backend starts with the first fine-tuning run (runFinetune); a name it cannot know is
    // refused here, before any data is prepared
    if (typeof o.backend === "string" && !BACKEND_NAMES.includes(o.backend))
      throw new Error(`--backend ${o.backend}: unknown backend; choose one of ${BACKEND_NAMES.join(", ")}`);
    // like --backend, a bad --engine (or --engine onnx without onnxruntime-node) stops here
    // (each run logs the engine when it evaluates its test set; results.json notes record it)
    const engine = await chooseEngine(o.engine);
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
      ...(typeof o.backend === "string" ? { backend: o.backend } : {}),
      engine,
      extra: Object.fromEntries(
        (spec.extraOptions ?? []).map((x) => {
          const key = program.options.find((opt) => opt.flags === x.flags)?.attributeName() ?? x.flags;
          return [key, x.isPath ? userPath(o[key]) : (o[key] as string | undefined)];
        }),
      ),
    };
    checkAppOptions(opts);
    const appUrl = spec.appUrl ?? (argv[1] ? pathToFileURL(resolve(argv[1])).href : undefined);
    // located only if the preparation builds a sample layout (a task given its own data never looks)
    const sampleData = opts.data
      ? undefined
      : () => locateSampleData(appUrl ? dirname(fileURLToPath(appUrl)) : process.cwd(), spec.config.task);
    const prepared = await spec.prepare(opts, sampleData, log);
    const a = prepared.folds;
    a.forEach((f, i) => {
      const tag = a.length > 1 ? ` fold ${i}` : "";
      for (const part of ["train", "val", "test"] as const) log(describeArrays(`${part}${tag}`, f[part]));
    });
    const results = await runTaskRuns(opts, prepared, spec.finetune ?? runFinetune, log);
    const named = results.metricNames ? `Dice, IoU and ${results.metric}` : results.metric;
    log(`wrote ${opts.out}/results.json and results.md (${named})`);
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode;
    process.stderr.write(`${task}: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.GENESIS_DEBUG === "1" && err instanceof Error && err.stack)
      process.stderr.write(`${err.stack}\n`);
    return 1;
  }
}

/**
 * The whole program of a target-task app (`apps/{ncc,ncs,ecc,lcs,bms}/src/main.ts` is this one
 * call): {@link runTaskMain} on the task — a name of the five reference tasks or a
 * {@link TaskDefinition} — and the exit code set on `process.exitCode`.
 *
 * @param argv `process.argv`.
 * @returns the exit code (also set on `process.exitCode`).
 */
export async function runTaskApp(
  task: TaskName | TaskDefinition,
  argv: readonly string[],
  appUrl?: string,
): Promise<number> {
  const definition = typeof task === "string" ? TASKS[task] : task;
  const code = await runTaskMain(argv, { ...definition, ...(appUrl ? { appUrl } : {}) });
  process.exitCode = code;
  return code;
}
