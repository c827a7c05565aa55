import { join } from "node:path";
import {
  eccFolds,
  extractCandidateCube,
  loadVolume,
  readEccCandidates,
  type Sample,
  type SampleArrays,
  stackSamples,
  type TaskArrays,
} from "@models-genesis/datasets";
import { windowIntensity } from "@models-genesis/volume-io";
import type { PreparedTask } from "../app.js";
import { taskPreprocessing } from "../config.js";
import { freshSampleDir, needSample, PARTS, type PrepareOptions, quickData, splitsOf } from "../prepare.js";
import { ECC_CONFIG } from "./config.js";
import { buildEccSampleLayout } from "./sample.js";

/**
 * ECC (PE false-positive reduction). Reads `data/candidates.csv` (format in `ecc.ts`); 3-fold
 * cross-validation by volume (`eccFolds`, seeded); cubes 64×64×64 around each candidate, HU
 * window → [0, 1]. Returns one `TaskArrays` per fold.
 */
export async function prepareEcc(o: PrepareOptions): Promise<PreparedTask> {
  const config = ECC_CONFIG;
  let root = o.data;
  let sampleNote: Record<string, unknown> = {};
  if (!root) {
    root = await freshSampleDir(o.out);
    const r = await buildEccSampleLayout(join(needSample(o), "ct"), root, {
      seed: o.seed,
      perClass: o.quick ? 6 : 24,
    });
    sampleNote = { sampleVolumes: r.volumes, samplePositives: r.positives, sampleNegatives: r.negatives };
    o.log?.(
      `ECC sample layout: ${r.volumes} volumes, ${r.positives} positive / ${r.negatives} negative candidates in ${root}`,
    );
  }
  const csv = join(root, "candidates.csv");
  const allCands = await readEccCandidates(csv);
  const positive = new Set(allCands.filter((c) => c.label === 1).map((c) => c.volume));
  const kept = new Set(
    quickData(o, [...new Set(allCands.map((c) => c.volume))], {
      limit: config.quickLimit,
      unit: "volumes",
      groupOf: (v) => v,
      partOf: (v) => (positive.has(v) ? "with positives" : "without"),
    }),
  );
  const cands = allCands.filter((c) => kept.has(c.volume));
  const volumes = [...new Set(cands.map((c) => c.volume))];
  const { file, splits } = await splitsOf(
    o,
    "ecc",
    volumes,
    `3-fold cross-validation by volume, PyRandom(${o.seed}); 1/8 of the training volumes validate`,
    () => eccFolds(cands, o.seed),
  );
  const cubes = new Map<number, Float32Array>();
  const byVolume = new Map<string, number[]>();
  cands.forEach((c, i) => {
    byVolume.set(c.volume, [...(byVolume.get(c.volume) ?? []), i]);
  });
  for (const [, idx] of byVolume) {
    const vol = await loadVolume(cands[idx[0]].path);
    for (const i of idx) {
      const hu = extractCandidateCube(vol, cands[i].world, config.patchSize, config.window[0]);
      cubes.set(i, windowIntensity(hu, [config.window[0], config.window[1]]));
    }
  }
  const folds = splits.folds.map((f) => {
    const a: Partial<Record<string, SampleArrays>> = {};
    for (const part of PARTS) {
      const vs = new Set(f[part]);
      const samples: Sample[] = [];
      cands.forEach((c, i) => {
        if (vs.has(c.volume))
          samples.push({ id: `${c.volume}@${c.world.join(",")}`, x: cubes.get(i)!, y: c.label });
      });
      a[part] = stackSamples(samples, config.patchSize);
    }
    return a as unknown as TaskArrays;
  });
  return {
    task: "ecc",
    config,
    preprocessing: taskPreprocessing(config),
    folds,
    splitsFile: file,
    dataRoot: root,
    sample: !o.data,
    notes: { ...sampleNote, candidates: cands.length, volumes: volumes.length },
  };
}
