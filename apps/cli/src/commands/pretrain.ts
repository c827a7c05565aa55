import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { parseThreads } from "@models-genesis/datasets";
import { initBackend } from "@models-genesis/kernels";
import {
  assertNoPretrainRun,
  assertWritableDir,
  collectCubes,
  FAILED_PRETRAIN_VERDICTS,
  PRETRAIN_PLAN_FILE,
  type PretrainPlan,
  type PretrainVerdict,
  REFERENCE_PRETRAIN,
  readPretrainPlan,
  resolveThreads,
  runPretraining,
  splitCubesByIndices,
  splitCubesBySource,
} from "@models-genesis/train";
import {
  type GenesisAblation,
  type GenesisConfig,
  genesisAblation,
  genesisAblations,
  genesisStageNames,
  withGenesisRate,
} from "@models-genesis/transforms";
import { collectVolumeInputs } from "@models-genesis/volume-io";
import { type Command, InvalidArgumentError, Option } from "commander";
import {
  addCubeOptions,
  type CubeCliOptions,
  cubeExtractionFrom,
  patchSizeArgFor,
} from "../lib/cube-options.js";
import { ExitCodeError, INTERRUPTED_EXIT, STRICT_FAILURE_EXIT } from "../lib/exit.js";

/** commander parser for an integer ≥ min. */
export function intArg(name: string, min: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

/** commander parser for a positive number. */
export function numArg(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`${name} must be a positive number`);
    return n;
  };
}

/** commander parser for `--threads`: a positive integer or `auto`. */
export function threadsArg(v: string): number | "auto" {
  try {
    return parseThreads(v);
  } catch {
    throw new InvalidArgumentError("--threads must be a positive integer or auto");
  }
}

/**
 * `--out` must be a writable folder, or creatable: checked (and created) before any work is done.
 * @throws TrainError, one line naming the path: it is a file, it cannot be created, or it is not writable.
 */
export function checkOutDir(out: string): void {
  assertWritableDir(out, "--out");
}

/** The `training threads: N` line, with a warning when N exceeds the machine's cores. */
export function threadsLine(threads: number): string {
  const cores = availableParallelism();
  return threads > cores
    ? `training threads: ${threads} (more than the ${cores} cores: slower, not faster)`
    : `training threads: ${threads}`;
}

/** The `--threads` option shared by the training commands. */
export const THREADS_HELP =
  "training threads: batches are split across model replicas on worker threads (data-parallel); auto = one per core, at most 4, on wasm/cpu, 1 on tensorflow";

/**
 * commander parser for a cube/patch shape `XxYxZ` (`,` also separates), each a multiple of 8: the
 * `--patch-size` parser ({@link patchSizeArgFor}); flags with other names use `patchSizeArgFor(flag)`.
 */
export const shapeArg = patchSizeArgFor("--patch-size");

/**
 * commander parser for a repeatable `--rate stage=p`: appends `[stage, p]` to the list.
 * @throws InvalidArgumentError for a malformed value, p outside [0, 1], or a stage the transforms
 *   registry does not have (`genesisStageNames()`), so a bad flag fails before any work.
 */
export function rateArg(v: string, prev: [string, number][] = []): [string, number][] {
  const m = /^\s*([A-Za-z_][\w-]*)\s*=\s*([^\s]+)\s*$/.exec(v);
  const p = m ? Number(m[2]) : Number.NaN;
  if (!m || !(p >= 0 && p <= 1)) {
    throw new InvalidArgumentError(`--rate takes stage=p with p in [0, 1] (e.g. paint=0.5), got "${v}"`);
  }
  const stages = genesisStageNames();
  if (!stages.includes(m[1])) {
    throw new InvalidArgumentError(`unknown Genesis stage "${m[1]}" (stages: ${stages.join(", ")})`);
  }
  return [...prev, [m[1], p]];
}

/** Options of `genesis pretrain` as commander parses them (the cube options are {@link addCubeOptions}'). */
interface PretrainCliOptions extends CubeCliOptions {
  out: string;
  valFraction: number;
  model: string;
  slicesPerCube?: number;
  width: number;
  batchSize: number;
  epochs: number;
  stepsPerEpoch?: number;
  optimizer: "sgd" | "adam";
  lr?: number;
  momentum: number;
  schedule: "step" | "plateau" | "none";
  stepSize: number;
  gamma: number;
  patience: number;
  transforms: GenesisAblation;
  flipMode: "reference" | "spatial";
  flipRate?: number;
  localRate?: number;
  nonlinearRate?: number;
  paintRate?: number;
  inpaintRate?: number;
  rate: [string, number][];
  resume?: boolean;
  overwrite?: boolean;
  backend?: string;
  threads: number | "auto";
  plain?: boolean;
  strict?: boolean;
}

/** The `--strict` option shared by `pretrain` and `demo`. */
export const STRICT_HELP =
  "exit with code 3 when pretraining failed: best validation MSE not below the constant baseline, or the output collapsed to a constant";

/**
 * The verdict lines of a finished pretraining, and under `strict` the error that ends the run
 * when the verdict is a failure.
 * @throws ExitCodeError (exit 3) under `strict` for a failed verdict
 */
export function reportVerdict(
  s: { verdict: PretrainVerdict; verdict_reason: string },
  strict: boolean | undefined,
  log: (line: string) => void,
): void {
  const failed = FAILED_PRETRAIN_VERDICTS.includes(s.verdict);
  log(`pretraining verdict: ${s.verdict}${failed ? " (FAILED)" : ""}: ${s.verdict_reason}`);
  if (failed && strict)
    throw new ExitCodeError(
      `--strict: pretraining failed (${s.verdict}): ${s.verdict_reason}`,
      STRICT_FAILURE_EXIT,
    );
  if (failed) log("(--strict makes this a non-zero exit)");
}

/** Thrown inside cube extraction after Ctrl-C; the action turns it into exit 130. */
class CubeExtractionInterrupted extends Error {}

/** Options that describe how the run runs, not what it computes: not recorded for `--resume` to compare. */
const RUNTIME_OPTIONS = new Set([
  "out",
  "resume",
  "overwrite",
  "backend",
  "threads",
  "plain",
  "strict",
  "cubeShape",
]);

/** Options a resumed run may change (the maximum number of epochs, to train a finished run further). */
const RESUME_MAY_CHANGE = new Set(["epochs"]);

/** `--flag-name` of a commander attribute name (`patchSize` → `--patch-size`). */
const flagOf = (key: string) => `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

/** A recorded option value as the command line writes it. */
function showOption(key: string, v: unknown): string {
  if (Array.isArray(v) && key === "patchSize") return v.join("x");
  if (Array.isArray(v) && key === "rate") return v.map((r) => (r as unknown[]).join("=")).join(" ");
  if (Array.isArray(v)) return v.join(",");
  return String(v);
}

/**
 * `--resume` with a plan: every option the command line gave must agree with the plan's (except
 * `--epochs`, the maximum, which may change); the plan's values are used for the rest. Inputs, when
 * given, must be the plan's.
 * @throws Error, one line naming the flag, both values and the plan file, on a contradiction.
 */
export function optionsFromPlan<T extends object>(
  plan: PretrainPlan,
  planFile: string,
  given: T,
  fromCommandLine: (key: string) => boolean,
  inputs: readonly string[],
): T {
  if (inputs.length > 0 && JSON.stringify(inputs) !== JSON.stringify(plan.inputs))
    throw new Error(
      `--resume: the inputs ${inputs.join(", ")} are not the plan's (${plan.inputs.join(", ")}, ${planFile}); leave them out to resume the planned run, or start a new --out`,
    );
  const merged = { ...given } as Record<string, unknown>;
  for (const [key, planned] of Object.entries(plan.options)) {
    if (RUNTIME_OPTIONS.has(key)) continue;
    const mine = (given as Record<string, unknown>)[key];
    if (RESUME_MAY_CHANGE.has(key) && fromCommandLine(key)) continue;
    if (fromCommandLine(key) && JSON.stringify(mine) !== JSON.stringify(planned))
      throw new Error(
        `--resume: ${flagOf(key)} ${showOption(key, mine)} contradicts the plan (${showOption(key, planned)}, ${planFile}); drop the flag to resume the planned run, or start a new --out`,
      );
    merged[key] = planned;
  }
  for (const key of Object.keys(given))
    if (!RUNTIME_OPTIONS.has(key) && !(key in plan.options) && fromCommandLine(key))
      throw new Error(
        `--resume: ${flagOf(key)} is not in the plan (${planFile}); drop the flag to resume the planned run, or start a new --out`,
      );
  return merged as T;
}

/**
 * `genesis pretrain <volumes, folders or cube .npy files…> --out DIR`: Models Genesis restoration
 * pretraining with the reference's defaults (batch 6, SGD lr 1 momentum 0.9, StepLR 40/0.5, patience
 * 50, width 32, 64×64×32 cubes), every one a flag. `--model genesis-unet2d` pretrains Genesis 2D on
 * axial slices of the Genesis pairs (`runPretraining`; `--batch-size` then counts slices).
 * Writes `OUT/plan.json` (every option, the seed, the split, the backend) before the first step;
 * `--resume` reads it back instead of recomputing. Ctrl-C saves a checkpoint and exits 130.
 */
export function register(program: Command): void {
  const cmd = program
    .command("pretrain")
    .description(
      "self-supervised Genesis pretraining: volumes (any format, DICOM series folders, LUNA16 subset* folders) or cube .npy files → cubes → Genesis pairs → restoration training",
    )
    .argument(
      "[inputs...]",
      "CT volumes, folders of volumes or DICOM series, a LUNA16 root, or cube .npy files (ours or bat_*.npy); with --resume, default the plan's",
    )
    .requiredOption(
      "--out <dir>",
      "output folder (plan.json, model/, checkpoints/, log.jsonl, samples/, loss.svg, pretrain.json)",
    );
  addCubeOptions(cmd, "seed of cubes, splits, weights and transforms (reference 1)")
    .option(
      "--val-fraction <f>",
      "fraction of cubes (whole volumes) held out for validation",
      numArg("--val-fraction"),
      0.1,
    )
    .option(
      "--model <id>",
      "architecture: genesis-unet3d (PyTorch variant), genesis-unet3d-keras, or genesis-unet2d (Genesis 2D: trained on axial slices of the Genesis pairs)",
      "genesis-unet3d",
    )
    .option(
      "--slices-per-cube <n>",
      "2-D models: axial slices drawn from each cube's Genesis pair per epoch (default: all deps slices)",
      intArg("--slices-per-cube", 1),
    )
    .option("--width <n>", "base width (reference 32)", intArg("--width", 1), 32)
    .option("--batch-size <n>", "batch size", intArg("--batch-size", 1), REFERENCE_PRETRAIN.batchSize)
    .option(
      "--epochs <n>",
      "maximum epochs (early stopping ends the run)",
      intArg("--epochs", 1),
      REFERENCE_PRETRAIN.epochs,
    )
    .option("--steps-per-epoch <n>", "cap on training steps per epoch", intArg("--steps-per-epoch", 1))
    .addOption(
      new Option("--optimizer <name>", "sgd (the reference: momentum, lr 1) or adam (lr 1e-3)")
        .choices(["sgd", "adam"])
        .default("sgd"),
    )
    .option("--lr <x>", "learning rate (default: 1 for sgd, 1e-3 for adam)", numArg("--lr"))
    .option("--momentum <x>", "SGD momentum", Number, REFERENCE_PRETRAIN.momentum)
    .addOption(
      new Option("--schedule <kind>", "learning-rate schedule: PyTorch StepLR or Keras ReduceLROnPlateau")
        .choices(["step", "plateau", "none"])
        .default("step"),
    )
    .option("--step-size <n>", "StepLR step in epochs", intArg("--step-size", 1), REFERENCE_PRETRAIN.stepSize)
    .option("--gamma <x>", "StepLR factor", numArg("--gamma"), REFERENCE_PRETRAIN.gamma)
    .option(
      "--patience <n>",
      "early-stopping patience in epochs",
      intArg("--patience", 1),
      REFERENCE_PRETRAIN.patience,
    )
    .addOption(
      new Option(
        "--transforms <which>",
        "the paper's ablations: all transforms, identity, or one alone (the transforms registry's Genesis transforms)",
      )
        .choices(genesisAblations())
        .default("all"),
    )
    .addOption(
      new Option("--flip-mode <mode>", "reference (axis draw includes the channel no-op) or spatial")
        .choices(["reference", "spatial"])
        .default("reference"),
    )
    .option("--flip-rate <p>", "flip probability (0.4)", Number)
    .option("--local-rate <p>", "local pixel shuffling probability (0.5)", Number)
    .option("--nonlinear-rate <p>", "non-linear intensity probability (0.9)", Number)
    .option("--paint-rate <p>", "painting probability (0.9)", Number)
    .option("--inpaint-rate <p>", "in-painting share of paintings (0.2)", Number)
    .option(
      "--rate <stage=p>",
      `probability of a Genesis stage of the transforms registry, repeatable (stages: ${genesisStageNames().join(", ")})`,
      rateArg,
      [],
    )
    .option(
      "--resume",
      "continue from OUT/checkpoints/last.ckpt with OUT/plan.json's inputs, options and split (a flag that contradicts the plan is refused; --epochs may change)",
    )
    .option(
      "--overwrite",
      "start over in an --out that holds an earlier run: its plan.json, checkpoints/ (last.prev.ckpt too), log.jsonl, model/, samples/, loss.svg and pretrain.json are removed first (without it, such an --out is refused)",
    )
    .option(
      "--backend <name>",
      "tensorflow | webgpu | wasm | cpu (default: fastest available; env GENESIS_BACKEND)",
    )
    .option("--threads <n|auto>", THREADS_HELP, threadsArg, "auto")
    .option("--plain", "plain progress lines instead of a progress bar")
    .option("--strict", STRICT_HELP)
    .action(async (inputArgs: string[], given: PretrainCliOptions, command: Command) => {
      const log = (l: string) => process.stderr.write(`${l}\n`);
      const out = resolve(given.out);
      checkOutDir(out);
      const last = join(out, "checkpoints", "last.ckpt");
      const prev = join(out, "checkpoints", "last.prev.ckpt");
      if (given.resume && !existsSync(last) && !existsSync(prev))
        throw new Error(`--resume: ${last}: no checkpoint to resume from`);
      if (given.resume && given.overwrite)
        throw new Error("--resume continues the run in --out, --overwrite starts it over: give one of them");
      // a new run never silently replaces an earlier one: refused before any work (runPretraining
      // removes the earlier run's files under --overwrite)
      if (!given.resume && !given.overwrite) assertNoPretrainRun(out);
      const planFile = join(out, PRETRAIN_PLAN_FILE);
      const plan = given.resume ? readPretrainPlan(out) : null;
      const cliInputs = inputArgs.map((p) => resolve(p));
      // --patch-size resolved once (the deprecated --cube-shape warns here), then compared as patchSize
      const ex0 = cubeExtractionFrom(given, log, "pretrain");
      const fromCli = (key: string) =>
        command.getOptionValueSource(key) === "cli" ||
        (key === "patchSize" && command.getOptionValueSource("cubeShape") === "cli");
      const resolved: PretrainCliOptions = {
        ...given,
        patchSize: ex0.patchSize,
        cubeShape: undefined,
        lr: given.lr ?? (given.optimizer === "adam" ? 1e-3 : REFERENCE_PRETRAIN.lr),
      };
      const o = plan ? optionsFromPlan(plan, planFile, resolved, fromCli, cliInputs) : resolved;
      const inputs = plan ? plan.inputs : cliInputs;
      if (plan)
        log(
          `--resume: the run planned in ${planFile}: ${inputs.length} input${inputs.length === 1 ? "" : "s"}, its options and its split (${plan.split.train_count} training / ${plan.split.val_count} validation cubes)`,
        );
      else if (given.resume)
        log(
          `--resume: no ${planFile} (a run from before run plans): cubes and split recomputed from the command line`,
        );
      if (inputs.length === 0)
        throw new Error(
          "give the inputs: volumes, folders, a LUNA16 root or cube .npy files (or --resume a planned run)",
        );
      // every volume input checked (headers, a DICOM image per series) before the backend starts or
      // any cube is cut: a junk input fails first, named (collectCubes collects them again)
      const ex = cubeExtractionFrom(o, () => {}, "pretrain");
      await collectVolumeInputs(
        inputs.filter((p) => !p.toLowerCase().endsWith(".npy")),
        { folds: ex.folds, check: true },
      );
      // a resumed run trains on the plan's backend unless --backend says otherwise (runtime: noted, not refused)
      const backend = await initBackend({ backend: o.backend ?? plan?.backend, log });
      const threads = resolveThreads(o.threads, backend);
      log(threadsLine(threads));
      // Ctrl-C during cube extraction (before training): stop after the current volume, exit 130
      // saying nothing was trained; runPretraining (plan.json, checkpoints) has not started
      let stopExtraction = false;
      const cubeLog = (line: string) => {
        if (stopExtraction) throw new CubeExtractionInterrupted();
        log(line);
      };
      const extractInterruptibly = async <T>(dir: string, run: () => Promise<T>): Promise<T> => {
        const onSigint = () => {
          if (stopExtraction) process.exit(INTERRUPTED_EXIT); // a second Ctrl-C: at once
          stopExtraction = true;
        };
        process.on("SIGINT", onSigint);
        try {
          const r = await run();
          if (stopExtraction) throw new CubeExtractionInterrupted();
          return r;
        } catch (e) {
          if (e instanceof CubeExtractionInterrupted)
            throw new ExitCodeError(
              `interrupted during cube extraction: nothing was trained, nothing written to ${dir}; run the command again to start`,
              INTERRUPTED_EXIT,
            );
          throw e;
        } finally {
          process.off("SIGINT", onSigint);
        }
      };
      const cubes = await extractInterruptibly(out, () => collectCubes(inputs, { ...ex, log: cubeLog }));
      if (plan && cubes.count !== plan.cubes.count)
        throw new Error(
          `--resume: the inputs now give ${cubes.count} cubes, the plan ${plan.cubes.count} (${planFile}): the data changed since the run began; start a new --out`,
        );
      const split = plan
        ? { ...splitCubesByIndices(cubes, plan.split.val_cubes), valIndices: plan.split.val_cubes }
        : splitCubesBySource(cubes, o.valFraction, o.seed);
      const { train, val } = split;
      let genesis: Partial<GenesisConfig> = {
        ...genesisAblation(o.transforms),
        flipMode: o.flipMode,
        ...(o.flipRate !== undefined ? { flipRate: o.flipRate } : {}),
        ...(o.localRate !== undefined ? { localRate: o.localRate } : {}),
        ...(o.nonlinearRate !== undefined ? { nonlinearRate: o.nonlinearRate } : {}),
        ...(o.paintRate !== undefined ? { paintRate: o.paintRate } : {}),
        ...(o.inpaintRate !== undefined ? { inpaintRate: o.inpaintRate } : {}),
      };
      for (const [stage, p] of o.rate) genesis = withGenesisRate(genesis, stage, p);
      const recorded = Object.fromEntries(
        Object.entries(o).filter(([k, v]) => !RUNTIME_OPTIONS.has(k) && v !== undefined),
      );
      const summary = await runPretraining({
        train,
        val,
        out,
        modelId: o.model,
        slicesPerCube: o.slicesPerCube,
        width: o.width,
        batchSize: o.batchSize,
        epochs: o.epochs,
        stepsPerEpoch: o.stepsPerEpoch,
        optimizer: o.optimizer,
        lr: o.lr,
        momentum: o.momentum,
        schedule: o.schedule,
        stepSize: o.stepSize,
        gamma: o.gamma,
        patience: o.patience,
        genesis,
        seed: o.seed,
        resume: o.resume,
        overwrite: given.overwrite,
        plan: {
          inputs,
          backend,
          options: recorded,
          split: { valFraction: o.valFraction, seed: o.seed, valIndices: split.valIndices },
        },
        handleSigint: true,
        plainProgress: o.plain,
        threads,
        log,
      });
      log(`backend: ${backend}`);
      if (summary.val_mse.length === 0) {
        log(
          `interrupted before the first epoch ended: no validation yet (identity baseline ${summary.identity_mse.toFixed(5)}, constant baseline ${summary.constant_mse.toFixed(5)}); continue with --resume`,
        );
        log(`model (the weights at the interrupt): ${summary.model_dir}`);
      } else {
        log(
          `best validation MSE ${summary.best_val_mse.toFixed(5)} (epoch ${summary.best_epoch}); identity baseline ${summary.identity_mse.toFixed(5)}, constant baseline ${summary.constant_mse.toFixed(5)}`,
        );
        log(`model: ${summary.model_dir}`);
      }
      log(
        `log: ${resolve(out, "log.jsonl")}; samples: ${resolve(out, "samples")}; loss curve: ${resolve(out, "loss.svg")}`,
      );
      log(`summary: ${resolve(out, "pretrain.json")}; plan: ${planFile}`);
      if (summary.stop_reason === "interrupted")
        throw new ExitCodeError(
          `interrupted: checkpoint saved in ${join(out, "checkpoints")}; continue with: genesis pretrain --resume --out ${out}`,
          INTERRUPTED_EXIT,
        );
      reportVerdict(summary, o.strict, log);
    });
}
