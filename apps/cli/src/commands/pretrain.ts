import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { join, resolve } from "node:path";
import { parseThreads } from "@models-genesis/datasets";
import { initBackend } from "@models-genesis/kernels";
import {
  assertWritableDir,
  collectCubes,
  FAILED_PRETRAIN_VERDICTS,
  type PretrainVerdict,
  REFERENCE_PRETRAIN,
  resolveThreads,
  runPretraining,
  splitCubesBySource,
} from "@models-genesis/train";
import { type GenesisAblation, genesisAblation } from "@models-genesis/transforms";
import { type Command, InvalidArgumentError, Option } from "commander";
import { ExitCodeError, STRICT_FAILURE_EXIT } from "../lib/exit.js";

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

/** commander parser for a cube shape `rows,cols,deps` (each a multiple of 8). */
export function shapeArg(v: string): [number, number, number] {
  const s = v.split(/[,x×]/).map((t) => Number(t.trim()));
  if (s.length !== 3 || s.some((d) => !Number.isInteger(d) || d <= 0 || d % 8 !== 0)) {
    throw new InvalidArgumentError(
      "a cube shape is rows,cols,deps, each a positive multiple of 8 (e.g. 64,64,32)",
    );
  }
  return [s[0], s[1], s[2]];
}

const ABLATIONS: GenesisAblation[] = [
  "all",
  "identity",
  "flip",
  "localShuffle",
  "nonlinear",
  "inPaint",
  "outPaint",
];

/** Options of `genesis pretrain` as commander parses them. */
interface PretrainCliOptions {
  out: string;
  cubeShape: [number, number, number];
  scale: number;
  seed: number;
  borderXy: number;
  borderZ: number;
  lungMax: number;
  folds?: number[];
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
  resume?: boolean;
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

/**
 * `genesis pretrain <volumes, folders or cube .npy files…> --out DIR`: Models Genesis restoration
 * pretraining with the reference's defaults (batch 6, SGD lr 1 momentum 0.9, StepLR 40/0.5, patience
 * 50, width 32, 64×64×32 cubes), every one a flag. `--model genesis-unet2d` pretrains Genesis 2D on
 * axial slices of the Genesis pairs (`runPretraining`; `--batch-size` then counts slices).
 */
export function register(program: Command): void {
  program
    .command("pretrain")
    .description(
      "self-supervised Genesis pretraining: volumes (any format, LUNA16 subset* folders) or cube .npy files → cubes → Genesis pairs → restoration training",
    )
    .argument(
      "<inputs...>",
      "CT volumes, folders of volumes, a LUNA16 root, or cube .npy files (ours or bat_*.npy)",
    )
    .requiredOption(
      "--out <dir>",
      "output folder (model/, checkpoints/, log.jsonl, samples/, loss.svg, pretrain.json)",
    )
    .option("--cube-shape <r,c,d>", "cube size (rows,cols,deps)", shapeArg, [64, 64, 32])
    .option("--scale <n>", "cubes per volume (infinite_generator_3D.py; paper 32)", intArg("--scale", 1), 32)
    .option("--seed <n>", "seed of cubes, splits, weights and transforms", intArg("--seed", 0), 1)
    .option("--border-xy <n>", "in-plane border of the cube sampler in voxels", intArg("--border-xy", 0), 100)
    .option("--border-z <n>", "z border of the cube sampler in slices", intArg("--border-z", 0), 30)
    .option(
      "--lung-max <f>",
      "content filter: reject a crop whose tissue score exceeds this fraction (reference 0.15)",
      numArg("--lung-max"),
      0.15,
    )
    .option("--folds <list>", "LUNA16 subsets to read (reference training folds 0-4)", (v) =>
      v.split(",").map((s) => intArg("--folds", 0)(s.trim())),
    )
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
      new Option("--transforms <which>", "the paper's ablations: all transforms, identity, or one alone")
        .choices(ABLATIONS)
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
    .option("--resume", "continue from OUT/checkpoints/last.ckpt")
    .option(
      "--backend <name>",
      "tensorflow | webgpu | wasm | cpu (default: fastest available; env GENESIS_BACKEND)",
    )
    .option("--threads <n|auto>", THREADS_HELP, threadsArg, "auto")
    .option("--plain", "plain progress lines instead of a progress bar")
    .option("--strict", STRICT_HELP)
    .action(async (inputs: string[], o: PretrainCliOptions) => {
      const log = (l: string) => process.stderr.write(`${l}\n`);
      const backend = await initBackend({ backend: o.backend, log });
      const threads = resolveThreads(o.threads, backend);
      log(threadsLine(threads));
      const out = resolve(o.out);
      checkOutDir(out);
      const last = join(out, "checkpoints", "last.ckpt");
      const prev = join(out, "checkpoints", "last.prev.ckpt");
      if (o.resume && !existsSync(last) && !existsSync(prev))
        throw new Error(`--resume: ${last}: no checkpoint to resume from`);
      const cubes = await collectCubes(inputs, {
        cubeShape: o.cubeShape,
        scale: o.scale,
        seed: o.seed,
        borderXY: o.borderXy,
        borderZ: o.borderZ,
        lungMax: o.lungMax,
        folds: o.folds,
        log,
      });
      const { train, val } = splitCubesBySource(cubes, o.valFraction, o.seed);
      const genesis = {
        ...genesisAblation(o.transforms),
        flipMode: o.flipMode,
        ...(o.flipRate !== undefined ? { flipRate: o.flipRate } : {}),
        ...(o.localRate !== undefined ? { localRate: o.localRate } : {}),
        ...(o.nonlinearRate !== undefined ? { nonlinearRate: o.nonlinearRate } : {}),
        ...(o.paintRate !== undefined ? { paintRate: o.paintRate } : {}),
        ...(o.inpaintRate !== undefined ? { inpaintRate: o.inpaintRate } : {}),
      };
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
        lr: o.lr ?? (o.optimizer === "adam" ? 1e-3 : REFERENCE_PRETRAIN.lr),
        momentum: o.momentum,
        schedule: o.schedule,
        stepSize: o.stepSize,
        gamma: o.gamma,
        patience: o.patience,
        genesis,
        seed: o.seed,
        resume: o.resume,
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
      log(`summary: ${resolve(out, "pretrain.json")}`);
      reportVerdict(summary, o.strict, log);
    });
}
