import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { groupSplit, patientOrId } from "@models-genesis/datasets";
import { activeBackendIsGpu, initBackend } from "@models-genesis/kernels";
import { loadModel } from "@models-genesis/models";
import {
  type CubeSet,
  collectCubes,
  type FinetuneMetrics,
  type PretrainVerdict,
  type RestorationCase,
  type RestorationScore,
  resolveThreads,
  restorationBreakdown,
  runFinetuning,
  runPretraining,
  splitCubesBySource,
  VALIDATION_SEED_OFFSET,
  writeFileAtomic,
} from "@models-genesis/train";
import type { Command } from "commander";
import { patchSizeArgFor } from "../lib/cube-options.js";
import { foregroundPatches, pairVolumes } from "../lib/segmentation-data.js";
import {
  checkOutDir,
  intArg,
  reportVerdict,
  STRICT_HELP,
  THREADS_HELP,
  threadsArg,
  threadsLine,
} from "./pretrain.js";

/** The sample data shipped with the CLI (`apps/cli/sample`), found from the source or the built file. */
export function sampleDir(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  for (const c of [
    join(here, "..", "sample"),
    join(here, "..", "..", "sample"),
    join(here, "..", "..", "..", "sample"),
  ]) {
    if (existsSync(join(c, "lidc-voi"))) return c;
  }
  throw new Error(
    `the demo's sample data (apps/cli/sample) is missing next to ${here}; reinstall the repository`,
  );
}

/** Settings of the demo run; the defaults finish in minutes on a 2-core CPU. */
export interface DemoOptions {
  out: string;
  /** Cube / patch size (rows, cols, deps). */
  cube: [number, number, number];
  /** U-Net base width; default 8 on a CPU, the reference's 32 on a hardware GPU (webgpu, tfjs-node-gpu). */
  width?: number;
  /** Pretraining epochs and steps per epoch. */
  pretrainEpochs: number;
  pretrainSteps: number;
  pretrainBatch: number;
  pretrainOptimizer: "sgd" | "adam";
  pretrainLr: number;
  /** Fine-tuning epochs (same budget for both initialisations). */
  finetuneEpochs: number;
  finetuneBatch: number;
  seed: number;
  backend?: string;
  /** Training threads (data-parallel replicas), or `auto` (one per core on wasm/cpu). */
  threads?: number | "auto";
  plain?: boolean;
  /** Exit with code 3 when the pretraining verdict is a failure (after writing everything). */
  strict?: boolean;
}

/** What `summary.json` holds. */
export interface DemoSummary {
  backend: string;
  /** Training threads used (data-parallel replicas). */
  threads: number;
  settings: Omit<DemoOptions, "out" | "backend" | "plain" | "strict">;
  pretrain: {
    identity_mse: number;
    constant_mse: number;
    val_mse: number[];
    train_mse: number[];
    cubes: { train: number; val: number };
    seconds: number;
    beats_identity: boolean;
    beats_constant: boolean;
    /** Did the pretraining work (`pretrainVerdict`): `below-baselines`, `above-constant-baseline`, `collapsed`, … */
    verdict: PretrainVerdict;
    verdict_reason: string;
    /** The best epoch's output spread relative to the originals' (near 0 = collapsed). */
    output_std_ratio: number | null;
    /** The best model's validation MSE per corruption beside both baselines (`restorationBreakdown`). */
    by_transform: Record<RestorationCase, RestorationScore>;
  };
  finetune: {
    task: string;
    cases: { train: number; val: number; test: number };
    genesis: FinetuneMetrics & { seconds: number };
    scratch: FinetuneMetrics & { seconds: number };
  };
  seconds: number;
}

/**
 * The main job on the bundled sample (`apps/cli/sample`): extract cubes from real chest CT and
 * unlabeled LIDC-IDRI nodule volumes → Genesis restoration pretraining (validation MSE against the
 * identity and constant baselines) → fine-tune a nodule segmenter from the pretrained weights and
 * from scratch with the same budget and seed → Dice / IoU of both on held-out patients.
 * Patients used for pretraining are never used for fine-tuning or testing.
 */
export async function runDemo(o: DemoOptions): Promise<DemoSummary> {
  const t0 = performance.now();
  const log = (l: string) => process.stderr.write(`${l}\n`);
  const backend = await initBackend({ backend: o.backend, log });
  const threads = resolveThreads(o.threads ?? "auto", backend);
  log(threadsLine(threads));
  if (o.width === undefined) {
    const gpu = await activeBackendIsGpu();
    o.width = gpu ? 32 : 8;
    log(
      gpu
        ? "demo: a GPU backend: the reference's width 32 (the sample's 64×64 chest CTs bound the cubes to 32×32×16); --width overrides"
        : "demo: width 8 on a CPU backend (the reference's 32 on a GPU); --width overrides",
    );
  }
  const sample = sampleDir();
  const out = resolve(o.out);
  checkOutDir(out);
  await mkdir(out, { recursive: true });

  // 1. patients: half for self-supervised pretraining (labels unused), half for the target task
  const pairs = await pairVolumes(join(sample, "lidc-voi", "image"), join(sample, "lidc-voi", "mask"));
  const ids = pairs.map((p) => p.id);
  const outer = groupSplit(ids, patientOrId, {
    fractions: { train: 0.5, val: 0 },
    seed: o.seed,
    minPerPart: 0,
  });
  const preIds = outer.train;
  const taskIds = outer.test;
  const inner = groupSplit(taskIds, patientOrId, { fractions: { train: 0.6, val: 0.15 }, seed: o.seed + 1 });
  await writeFileAtomic(join(out, "splits.json"), [
    `${JSON.stringify({ pretraining: preIds, finetune: inner, rule: "patient-level (LIDC-IDRI-NNNN), seeded" }, null, 2)}\n`,
  ]);

  // 2. pretraining cubes: chest CT (reference cube sampler, small borders) + unlabeled nodule volumes
  const chest = await collectCubes([join(sample, "chest-ct")], {
    patchSize: o.cube,
    scale: 24,
    borderXY: 4,
    borderZ: 2,
    // these 4–7 mm whole-chest scans are 64×64 in-plane: a 32×32 crop always holds more body wall
    // than the reference's lung-only limit (0.15, `infinite_generator_3D.py`) allows
    lungMax: 0.5,
    seed: o.seed,
    log,
  });
  const voi = await foregroundPatches(pairs, preIds, o.cube);
  const per = o.cube[0] * o.cube[1] * o.cube[2];
  const all: CubeSet = {
    data: new Float32Array((chest.count + preIds.length) * per),
    count: chest.count + preIds.length,
    shape: o.cube,
    sources: [...chest.sources, ...preIds.map(patientOrId)],
  };
  all.data.set(chest.data, 0);
  all.data.set(voi.x, chest.count * per);
  const { train, val } = splitCubesBySource(all, 0.15, o.seed);
  log(`demo: ${train.count} pretraining cubes, ${val.count} validation cubes of ${o.cube.join("×")}`);

  const pre = await runPretraining({
    train,
    val,
    out: join(out, "pretrain"),
    // the demo has no --resume: a rerun starts its pretraining over (the earlier run's files removed)
    overwrite: true,
    width: o.width,
    batchSize: o.pretrainBatch,
    epochs: o.pretrainEpochs,
    stepsPerEpoch: o.pretrainSteps,
    optimizer: o.pretrainOptimizer,
    lr: o.pretrainLr,
    schedule: "none",
    patience: o.pretrainEpochs,
    seed: o.seed,
    plainProgress: o.plain,
    threads,
    log,
  });

  // where the restoration stands, corruption by corruption (same cubes, same batch size as validation)
  const best = await loadModel(pre.model_dir);
  const byTransform = await restorationBreakdown(best.model, val, {
    seed: o.seed + VALIDATION_SEED_OFFSET,
    batchSize: o.pretrainBatch,
  });
  best.model.dispose();
  log(
    "validation MSE of the best model by corruption (model | identity | constant; every cube weighs the same, so `all` differs a little from the trainer's mean of batch means):",
  );
  for (const [k, v] of Object.entries(byTransform)) {
    log(`  ${k.padEnd(12)} ${v.model.toFixed(5)} | ${v.identity.toFixed(5)} | ${v.constant.toFixed(5)}`);
  }

  // 3. the target task: nodule segmentation on the other patients, from Genesis and from scratch
  const data = {
    train: await foregroundPatches(pairs, inner.train, o.cube),
    val: await foregroundPatches(pairs, inner.val, o.cube),
    test: await foregroundPatches(pairs, inner.test, o.cube),
  };
  const common = {
    task: "segmentation" as const,
    data,
    lr: 1e-3,
    batchSize: o.finetuneBatch,
    epochs: o.finetuneEpochs,
    patience: o.finetuneEpochs,
    seed: o.seed,
    plainProgress: o.plain,
    threads,
    log,
  };
  log("fine-tuning from the Genesis pretrained model");
  const g = await runFinetuning({
    ...common,
    init: { kind: "model", dir: pre.model_dir },
    modelDir: join(out, "finetune-genesis", "model"),
  });
  log("fine-tuning from scratch");
  const s = await runFinetuning({
    ...common,
    init: { kind: "scratch", width: o.width },
    modelDir: join(out, "finetune-scratch", "model"),
  });

  const { out: _o, backend: _b, plain: _p, threads: _t, strict: _s, ...settings } = o;
  const summary: DemoSummary = {
    backend,
    threads,
    settings,
    pretrain: {
      identity_mse: pre.identity_mse,
      constant_mse: pre.constant_mse,
      val_mse: pre.val_mse,
      train_mse: pre.train_mse,
      cubes: { train: pre.cubes.train, val: pre.cubes.val },
      seconds: pre.seconds,
      beats_identity: pre.best_val_mse < pre.identity_mse,
      beats_constant: pre.best_val_mse < pre.constant_mse,
      verdict: pre.verdict,
      verdict_reason: pre.verdict_reason,
      output_std_ratio: pre.output_std_ratio,
      by_transform: byTransform,
    },
    finetune: {
      task: "lung nodule segmentation (LIDC-IDRI VOIs, NCS-like)",
      cases: { train: inner.train.length, val: inner.val.length, test: inner.test.length },
      genesis: { ...g.test, seconds: g.seconds },
      scratch: { ...s.test, seconds: s.seconds },
    },
    seconds: (performance.now() - t0) / 1000,
  };
  await writeFileAtomic(join(out, "summary.json"), [`${JSON.stringify(summary, null, 2)}\n`]);
  const pct = (v: number | undefined) =>
    (v === undefined || Number.isNaN(v) ? "n/a" : `${(100 * v).toFixed(1)}%`).padStart(6);
  const lines = [
    "",
    `Models Genesis demo (backend ${backend}, ${threads} training thread${threads > 1 ? "s" : ""}, width ${o.width}, cubes ${o.cube.join("×")})`,
    `pretraining: best validation MSE ${Math.min(...pre.val_mse).toFixed(5)} vs identity ${pre.identity_mse.toFixed(5)} and constant ${pre.constant_mse.toFixed(5)} baselines (${pre.epochs} epochs, ${pre.seconds.toFixed(0)} s); verdict ${pre.verdict}`,
    "",
    "| init    | Dice   | IoU    | paper IoU |",
    "|---------|--------|--------|-----------|",
    `| genesis | ${pct(g.test.dice)} | ${pct(g.test.iou)} |    ${pct(g.test.paperIoU)} |`,
    `| scratch | ${pct(s.test.dice)} | ${pct(s.test.iou)} |    ${pct(s.test.paperIoU)} |`,
    "",
    `test set: ${inner.test.length} nodules of held-out patients; everything is in ${out} (summary.json, pretrain/, finetune-*/)`,
  ];
  process.stdout.write(`${lines.join("\n")}\n`);
  reportVerdict(pre, o.strict, log);
  return summary;
}

/** `genesis demo`: the README's main command. */
export function register(program: Command): void {
  program
    .command("demo")
    .description(
      "pretrain on the bundled real CT sample, then fine-tune a nodule segmenter from Genesis and from scratch",
    )
    .option("--out <dir>", "output folder", "genesis-demo-out")
    .option("--cube <XxYxZ>", "cube size", patchSizeArgFor("--cube"), [32, 32, 16])
    .option(
      "--width <n>",
      "U-Net base width (default: 8 on a CPU backend, 32 on a GPU)",
      intArg("--width", 1),
    )
    .option("--pretrain-epochs <n>", "pretraining epochs", intArg("--pretrain-epochs", 1), 8)
    .option("--pretrain-steps <n>", "pretraining steps per epoch", intArg("--pretrain-steps", 1), 8)
    .option(
      "--pretrain-batch <n>",
      "pretraining batch size (the reference's 6)",
      intArg("--pretrain-batch", 1),
      6,
    )
    .option("--pretrain-optimizer <name>", "pretraining optimizer: adam or sgd (the reference's)", "adam")
    .option("--pretrain-lr <x>", "pretraining learning rate", Number, 6e-3)
    .option("--finetune-epochs <n>", "fine-tuning epochs", intArg("--finetune-epochs", 1), 6)
    .option("--finetune-batch <n>", "fine-tuning batch size", intArg("--finetune-batch", 1), 8)
    .option("--seed <n>", "seed", intArg("--seed", 0), 1)
    .option(
      "--backend <name>",
      "tensorflow | webgpu | wasm | cpu (default: fastest available; env GENESIS_BACKEND)",
    )
    .option("--threads <n|auto>", THREADS_HELP, threadsArg, "auto")
    .option("--plain", "plain progress lines")
    .option("--strict", STRICT_HELP)
    .action(async (o: DemoOptions) => {
      await runDemo(o);
    });
}
