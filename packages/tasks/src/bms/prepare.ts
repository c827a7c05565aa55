import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  bratsReferenceSplit,
  DatasetError,
  discoverBrats,
  gridWindows,
  loadVolume,
  PyRandom,
  readFoldFile,
  type Sample,
  type SampleArrays,
  sampleWindows,
  stackSamples,
  type TaskArrays,
} from "@models-genesis/datasets";
import { type Vec3, windowIntensity } from "@models-genesis/volume-io";
import type { PreparedTask } from "../app.js";
import { taskPreprocessing } from "../config.js";
import { freshSampleDir, needSample, PARTS, type PrepareOptions, quickData, splitsOf } from "../prepare.js";
import { BMS_CONFIG } from "./config.js";
import { BMS_SAMPLE_WINDOW, buildBmsSampleLayout } from "./sample.js";

/**
 * BMS (BraTS-2018, FLAIR, whole tumour = label > 0). Fold files `fold_1.csv … fold_3.csv` from
 * `folds` (default `data/folds`; the reference's `keras/downstream_tasks/data/bms/`), split as
 * `bratsReferenceSplit`; FLAIR windowed [0, 4000] → [0, 1] (the sample layout's z-scored FLAIR:
 * [−5, 5]); training: `windowsPerCase` random 100×100×50 windows (half centred on tumour) resized
 * to 64×64×32; validation / test: each case tiled with 100×100×50 windows, resized.
 */
export async function prepareBms(
  o: PrepareOptions & { folds?: string; windowsPerCase?: number; foregroundRatio?: number },
): Promise<PreparedTask> {
  const config = BMS_CONFIG;
  let root = o.data;
  if (!root) {
    root = await freshSampleDir(o.out);
    const r = await buildBmsSampleLayout(join(needSample(o), "mri"), root);
    o.log?.(
      `BMS sample layout: ${r.cases.length} cases in ${root} (symlinks; BraTS 2015 data are CC BY-NC-SA)`,
    );
  }
  const cases = await discoverBrats(root);
  const ids = cases.map((c) => c.id);
  const foldDir = o.folds ?? join(root, "folds");
  const foldFiles = [1, 2, 3].map((k) => join(foldDir, `fold_${k}.csv`));
  for (const f of foldFiles) {
    if (!existsSync(f))
      throw new DatasetError(
        f,
        "missing fold file; pass --folds DIR with the reference's fold_1.csv … fold_3.csv (keras/downstream_tasks/data/bms/)",
      );
  }
  const allFolds = await Promise.all(foldFiles.map((f) => readFoldFile(f, ids)));
  const kept = new Set(
    quickData(
      o,
      allFolds.flatMap((f, k) => f.map((id) => ({ id, k }))),
      { limit: config.quickLimit, unit: "cases", groupOf: (c) => c.id, partOf: (c) => `fold ${c.k + 1}` },
    ).map((c) => c.id),
  );
  const folds = allFolds.map((f) => f.filter((id) => kept.has(id)));
  const sample = !o.data;
  const { file, splits } = await splitsOf(
    o,
    "bms",
    o.quick && o.data ? ids.filter((id) => kept.has(id)) : ids,
    "reference: fold_1+fold_2 shuffled with random.Random(4), first len//8 validate; fold_3 test (bms_config)",
    // the sample layout and a --quick subset are too small for len // 8: at least one validation case
    () => [bratsReferenceSplit(folds[0], folds[1], folds[2], sample || o.quick ? 1 : 0)],
  );
  const window = sample ? BMS_SAMPLE_WINDOW : config.window;
  const n = o.windowsPerCase ?? (o.quick ? 4 : 16);
  const ratio = o.foregroundRatio ?? 0.5;
  const rng = new PyRandom(o.seed);
  const byId = new Map(cases.map((c) => [c.id, c]));
  const crop = config.crop as Vec3;
  const arrays: Partial<Record<string, SampleArrays>> = {};
  for (const part of PARTS) {
    const samples: Sample[] = [];
    for (const id of splits.folds[0][part]) {
      const c = byId.get(id)!;
      const flair = await loadVolume(c.flair);
      const seg = await loadVolume(c.seg);
      if (flair.shape.some((v, i) => v !== seg.shape[i]))
        throw new DatasetError(
          c.seg,
          `shape ${seg.shape.join("×")} differs from FLAIR ${flair.shape.join("×")}`,
        );
      const image = { data: windowIntensity(flair.data, [window[0], window[1]]), shape: flair.shape };
      const label = { data: Float32Array.from(seg.data, (v) => (v > 0 ? 1 : 0)), shape: seg.shape };
      const opts = { crop, out: config.patchSize, idPrefix: id };
      samples.push(
        ...(part === "train"
          ? sampleWindows(image, label, { ...opts, n, foregroundRatio: ratio, rng })
          : gridWindows(image, label, opts)),
      );
    }
    arrays[part] = stackSamples(samples, config.patchSize);
  }
  return {
    task: "bms",
    config,
    preprocessing: taskPreprocessing(config, {
      window: [window[0], window[1]],
      ...(sample
        ? {
            source: `BMS sample layout: z-scored FLAIR windowed [${window.join(", ")}] in place of the reference's raw-FLAIR [${config.window.join(", ")}]; crop 100x100x50 -> 64x64x32 (bms_config)`,
          }
        : {}),
    }),
    folds: [arrays as unknown as TaskArrays],
    splitsFile: file,
    dataRoot: root,
    sample,
    notes: {
      cases: cases.length,
      intensityWindow: { min: window[0], max: window[1] },
      windowsPerCase: n,
      foregroundRatio: ratio,
      foldFiles,
    },
  };
}
