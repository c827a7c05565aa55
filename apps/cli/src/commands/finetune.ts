import { existsSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { initBackend } from "@models-genesis/kernels";
import {
  type AugmentSpec,
  type FinetuneInit,
  resolveThreads,
  runFinetuning,
  type SplitArrays,
  writeFileAtomic,
} from "@models-genesis/train";
import { type PreprocessingRecord, readNpy, recordFor } from "@models-genesis/volume-io";
import { type Command, Option } from "commander";
import { deprecationWarning, patchSizeArgFor } from "../lib/cube-options.js";
import { foregroundPatches, pairVolumes, splitPairs, type VolumePair } from "../lib/segmentation-data.js";
import { scoreWholeVolumes, type WholeVolumeScore } from "../lib/whole-volume-score.js";
import { checkOutDir, intArg, numArg, THREADS_HELP, threadsArg, threadsLine } from "./pretrain.js";

interface FinetuneCliOptions {
  task: "segmentation" | "classification";
  out: string;
  model?: string;
  weights?: string;
  arch: string;
  width: number;
  images?: string;
  labels?: string;
  x?: string;
  y?: string;
  patchSize?: [number, number, number];
  /** Deprecated alias of `patchSize` (`--patch`). */
  patch?: [number, number, number];
  split: string;
  lr: number;
  batchSize: number;
  epochs: number;
  patience: number;
  stepsPerEpoch?: number;
  seed: number;
  augment?: string;
  backend?: string;
  threads: number | "auto";
  plain?: boolean;
}

/** Split sample arrays (N first) by index lists into train/val/test. */
function takeRows(a: SplitArrays, idx: number[]): SplitArrays {
  const px = a.x.length / a.xShape[0];
  const py = a.y.length / a.yShape[0];
  const x = new Float32Array(idx.length * px);
  const y = new Float32Array(idx.length * py);
  idx.forEach((s, k) => {
    x.set(a.x.subarray(s * px, (s + 1) * px), k * px);
    y.set(a.y.subarray(s * py, (s + 1) * py), k * py);
  });
  return { x, xShape: [idx.length, ...a.xShape.slice(1)], y, yShape: [idx.length, ...a.yShape.slice(1)] };
}

async function arraysFromNpy(o: FinetuneCliOptions): Promise<SplitArrays> {
  const xa = await readNpy(o.x!);
  const ya = await readNpy(o.y!);
  const n = xa.shape[0];
  if (ya.shape[0] !== n) throw new Error(`${o.y}: ${ya.shape[0]} targets for ${n} inputs in ${o.x}`);
  const xShape = xa.shape.length === 4 ? [...xa.shape, 1] : xa.shape;
  if (xShape.length !== 5 || xShape[4] !== 1) {
    throw new Error(`${o.x}: expected (N, rows, cols, deps) cubes in [0, 1], got (${xa.shape.join(", ")})`);
  }
  const yShape =
    o.task === "segmentation"
      ? ya.shape.length === 4
        ? [...ya.shape, 1]
        : ya.shape
      : [n, ya.data.length / n];
  if (o.task === "segmentation" && yShape.join() !== xShape.join()) {
    throw new Error(`${o.y}: masks (${ya.shape.join(", ")}) must match the cubes (${xa.shape.join(", ")})`);
  }
  const y = new Float32Array(ya.data.length);
  for (let i = 0; i < y.length; i++) y[i] = Number(ya.data[i]) > 0.5 ? 1 : 0;
  return { x: Float32Array.from(xa.data as ArrayLike<number>), xShape, y, yShape };
}

/** `--augment` value → `runFinetuning`'s `augment`: `none` → off, else the comma-separated transform names. */
export function augmentArg(v: string): AugmentSpec {
  const names = v
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
  return names.length === 0 || (names.length === 1 && names[0] === "none") ? false : names;
}

/**
 * `genesis finetune`: fine-tune a Genesis model (ours, official weights, or from scratch) for
 * segmentation or classification with the reference recipe (Adam 1e-3, 1 − Dice or BCE,
 * ReduceLROnPlateau 0.5/6, early stopping) and evaluate it on a held-out split.
 */
export function register(program: Command): void {
  program
    .command("finetune")
    .description("fine-tune a Genesis model (or train from scratch) and evaluate it on a held-out split")
    .addOption(
      new Option("--task <task>", "segmentation (Dice/IoU) or classification (AUC)")
        .choices(["segmentation", "classification"])
        .default("segmentation"),
    )
    .requiredOption("--out <dir>", "output folder: model/, splits.json, finetune.json")
    .option(
      "--model <dir>",
      "start from a model directory (genesis pretrain's OUT/model, genesis convert's output)",
    )
    .option("--weights <file>", "start from official weights: Genesis_Chest_CT.pt or Genesis_Chest_CT.h5")
    .option("--arch <id>", "architecture when training from scratch", "genesis-unet3d")
    .option("--width <n>", "width when training from scratch", intArg("--width", 1), 32)
    .option("--images <dir>", "segmentation: folder of image volumes (paired by file name with --labels)")
    .option("--labels <dir>", "segmentation: folder of label volumes")
    .option("--x <file>", "arrays: cubes (N, rows, cols, deps) in [0, 1], .npy")
    .option("--y <file>", "arrays: masks (N, rows, cols, deps) or labels (N[, 1]), .npy")
    .option(
      "--patch-size <XxYxZ>",
      "patch size (x, y, z voxels, multiples of 8) around the label's centre (volumes); default 64x64x32",
      patchSizeArgFor("--patch-size"),
    )
    .option("--patch <XxYxZ>", "deprecated alias of --patch-size", patchSizeArgFor("--patch"))
    .option(
      "--split <train,val>",
      "patient-level fractions for train and validation; the rest tests",
      "0.7,0.1",
    )
    .option("--lr <x>", "Adam learning rate", numArg("--lr"), 1e-3)
    .option("--batch-size <n>", "batch size", intArg("--batch-size", 1), 16)
    .option("--epochs <n>", "maximum epochs", intArg("--epochs", 1), 10000)
    .option("--patience <n>", "early-stopping patience", intArg("--patience", 1), 50)
    .option("--steps-per-epoch <n>", "cap on steps per epoch", intArg("--steps-per-epoch", 1))
    .option("--seed <n>", "seed", intArg("--seed", 0), 1)
    .option(
      "--backend <name>",
      "tensorflow | webgpu | wasm | cpu (default: fastest available; env GENESIS_BACKEND)",
    )
    .option(
      "--augment <names>",
      "training augmentations: comma-separated registered transforms, or none (default: the transforms registry's for the task, randFlip,randRot90)",
    )
    .option("--threads <n|auto>", THREADS_HELP, threadsArg, "auto")
    .option("--plain", "plain progress lines")
    .action(async (o: FinetuneCliOptions) => {
      const log = (l: string) => process.stderr.write(`${l}\n`);
      if (o.model && o.weights) throw new Error("give --model or --weights, not both");
      if (o.patch && o.patchSize)
        throw new Error("--patch is a deprecated alias of --patch-size; give only --patch-size");
      if (o.patch) log(deprecationWarning("finetune", "--patch", "--patch-size"));
      const patchSize: [number, number, number] = o.patchSize ?? o.patch ?? [64, 64, 32];
      let preprocessing: PreprocessingRecord | undefined;
      const [ft, fv] = o.split.split(",").map(Number);
      if (!(ft > 0 && fv > 0 && ft + fv < 1))
        throw new Error(`--split ${o.split}: need train,val fractions with train + val < 1`);
      const out = resolve(o.out);
      checkOutDir(out);
      // the inputs are checked before the backend starts: folders paired (listed, formats detected),
      // array files present; a bad one is one line naming it, with no backend line before it
      let pairs: VolumePair[] | undefined;
      if (o.images && o.labels) {
        if (o.task !== "segmentation")
          throw new Error("--images/--labels are for segmentation; use --x/--y for classification");
        pairs = await pairVolumes(o.images, o.labels);
      } else if (o.x && o.y) {
        for (const [flag, f] of [
          ["--x", o.x],
          ["--y", o.y],
        ])
          if (!existsSync(f) || !statSync(f).isFile()) throw new Error(`${flag} ${f}: no such file`);
      } else {
        throw new Error(
          "give the data: --images DIR --labels DIR (segmentation volumes) or --x X.npy --y Y.npy (arrays)",
        );
      }
      const backend = await initBackend({ backend: o.backend, log });
      const threads = resolveThreads(o.threads, backend);
      log(threadsLine(threads));
      await mkdir(out, { recursive: true });
      let data: { train: SplitArrays; val: SplitArrays; test: SplitArrays };
      let splitInfo: unknown;
      let wholeVolumeTest: { pairs: VolumePair[]; ids: string[] } | undefined;
      if (pairs) {
        const split = splitPairs(pairs, { train: ft, val: fv }, o.seed);
        data = {
          train: await foregroundPatches(pairs, split.train, patchSize),
          val: await foregroundPatches(pairs, split.val, patchSize),
          test: await foregroundPatches(pairs, split.test, patchSize),
        };
        preprocessing = recordFor({
          modality: "CT",
          patchSize,
          source:
            "genesis finetune --images/--labels: label-centred patches, HU [-1000, 1000] -> [0, 1] (foregroundPatches)",
        });
        splitInfo = split;
        wholeVolumeTest = { pairs, ids: split.test };
      } else {
        const all = await arraysFromNpy(o);
        const n = all.xShape[0];
        const nTrain = Math.round(ft * n);
        const nVal = Math.max(1, Math.round(fv * n));
        const idx = Array.from({ length: n }, (_, i) => i);
        const split = {
          train: idx.slice(0, nTrain),
          val: idx.slice(nTrain, nTrain + nVal),
          test: idx.slice(nTrain + nVal),
        };
        data = {
          train: takeRows(all, split.train),
          val: takeRows(all, split.val),
          test: takeRows(all, split.test),
        };
        splitInfo = { rule: "array order: first train, then validation, then test", ...split };
      }
      await writeFileAtomic(join(out, "splits.json"), [`${JSON.stringify(splitInfo, null, 2)}\n`]);
      const init: FinetuneInit = o.model
        ? { kind: "model", dir: o.model }
        : o.weights
          ? { kind: "official", weights: o.weights }
          : { kind: "scratch", modelId: o.arch, width: o.width };
      const modelDir = join(out, "model");
      const summary = await runFinetuning({
        task: o.task,
        data,
        init,
        lr: o.lr,
        batchSize: o.batchSize,
        epochs: o.epochs,
        patience: o.patience,
        stepsPerEpoch: o.stepsPerEpoch,
        seed: o.seed,
        ...(o.augment !== undefined ? { augment: augmentArg(o.augment) } : {}),
        ...(preprocessing ? { preprocessing } : {}),
        modelDir,
        plainProgress: o.plain,
        threads,
        log,
      });
      // Volume mode: the test score is what `genesis predict` gives on the whole test volumes.
      let wholeVolume: WholeVolumeScore | undefined;
      if (wholeVolumeTest && wholeVolumeTest.ids.length > 0) {
        wholeVolume = await scoreWholeVolumes(modelDir, wholeVolumeTest.pairs, wholeVolumeTest.ids, log);
      }
      const report = {
        backend,
        task: o.task,
        init,
        ...(wholeVolume
          ? {
              test: { dice: wholeVolume.dice, iou: wholeVolume.iou },
              testWholeVolume: wholeVolume,
              testPatches: {
                ...summary.test,
                method:
                  "label-centred patches (--patch-size) of the test cases in one batch, BatchNorm batch statistics, as runFinetuning scores them",
              },
            }
          : { test: summary.test }),
        epochs: summary.result.epochsCompleted,
        seconds: summary.seconds,
      };
      await writeFileAtomic(join(out, "finetune.json"), [`${JSON.stringify(report, null, 2)}\n`]);
      log(`backend: ${backend}`);
      const fmt = (t: object) =>
        Object.entries(t)
          .map(([k, v]) => (typeof v === "number" ? `${k} ${v.toFixed(4)}` : `${k}: ${v}`))
          .join(", ");
      if (wholeVolume) {
        log(
          `test (whole volumes, as genesis predict: BN ${wholeVolume.bnMode}, batch ${wholeVolume.batchSize}, ` +
            `overlap ${wholeVolume.overlap}, threshold ${wholeVolume.threshold}, on ${wholeVolume.engine}; Dice/IoU pooled over ` +
            `${wholeVolume.volumes.length} volume${wholeVolume.volumes.length === 1 ? "" : "s"}): dice ${wholeVolume.dice.toFixed(4)}, iou ${wholeVolume.iou.toFixed(4)}`,
        );
        log(`test (label-centred patches, batch statistics): ${fmt(summary.test)}`);
      } else log(`test: ${fmt(summary.test)}`);
      log(`model: ${join(out, "model")}; report: ${join(out, "finetune.json")}`);
    });
}
