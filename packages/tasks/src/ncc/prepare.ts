import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DatasetError,
  discoverLuna16,
  extractCandidateCube,
  type Luna16Candidate,
  loadVolume,
  luna16PartOfSubset,
  PyRandom,
  readLuna16Candidates,
  type Sample,
  type SampleArrays,
  type Split,
  stackSamples,
  type TaskArrays,
} from "@models-genesis/datasets";
import { windowIntensity } from "@models-genesis/volume-io";
import type { PreparedTask } from "../app.js";
import { taskPreprocessing } from "../config.js";
import { freshSampleDir, needSample, PARTS, type PrepareOptions, quickData, splitsOf } from "../prepare.js";
import { NCC_CONFIG } from "./config.js";
import { buildNccSampleLayout } from "./sample.js";

/**
 * NCC (LUNA16 false-positive reduction). Reads `subset0…subset9` + `candidates_V2.csv` (or `candidates.csv`);
 * split = the reference folds by subset (0–4 / 5–6 / 7–9), saved by seriesuid. Cubes 64×64×32 around
 * each candidate (HU window → [0, 1]); all positives are kept, negatives are subsampled per part to at
 * most `negativesPerPositive` × positives (seeded) so the arrays fit in memory (the full LUNA16 list has
 * ~750k negatives). Candidates of scans not on disk are skipped and counted.
 */
export async function prepareNcc(
  o: PrepareOptions & { negativesPerPositive?: number },
): Promise<PreparedTask> {
  const config = NCC_CONFIG;
  let root = o.data;
  let sampleNote: Record<string, unknown> = {};
  if (!root) {
    root = await freshSampleDir(o.out);
    const r = await buildNccSampleLayout(join(needSample(o), "ct/lidc_nodule_vois"), root, {
      seed: o.seed,
      limit: o.sampleLimit ?? (o.quick ? 40 : undefined),
      negativesPerScan: 2,
    });
    sampleNote = { sampleScans: r.scans, samplePositives: r.positives, sampleNegatives: r.negatives };
    o.log?.(
      `NCC sample layout: ${r.scans} scans, ${r.positives} positive / ${r.negatives} negative candidates in ${root}`,
    );
  }
  const allScans = await discoverLuna16(root);
  const scans = quickData(o, allScans, {
    limit: config.quickLimit,
    unit: "scans",
    groupOf: (s) => s.seriesuid,
    partOf: (s) => luna16PartOfSubset(s.subset),
  });
  const csv = [join(root, "candidates_V2.csv"), join(root, "candidates.csv")].find((p) => existsSync(p));
  if (!csv) throw new DatasetError(root, "no candidates_V2.csv or candidates.csv");
  const candidates = await readLuna16Candidates(csv);
  const ids = scans.map((s) => s.seriesuid);
  const { file, splits } = await splitsOf(
    o,
    "ncc",
    ids,
    "LUNA16 subsets 0-4 train / 5-6 val / 7-9 test (keras/downstream_tasks/config.py ncc_config)",
    () => {
      const s: Split = { train: [], val: [], test: [] };
      for (const sc of scans) s[luna16PartOfSubset(sc.subset)].push(sc.seriesuid);
      return [s];
    },
  );
  const pathOf = new Map(scans.map((s) => [s.seriesuid, s.path]));
  const onDisk = new Set(allScans.map((s) => s.seriesuid));
  const known = new Set(ids);
  const skipped = candidates.filter((c) => !onDisk.has(c.seriesuid)).length;
  const leftOutByQuick = candidates.filter((c) => onDisk.has(c.seriesuid) && !known.has(c.seriesuid)).length;
  const ratio = o.negativesPerPositive ?? (o.quick ? 2 : 3);
  const rng = new PyRandom(o.seed);
  const arrays: Partial<Record<(typeof PARTS)[number], SampleArrays>> = {};
  for (const part of PARTS) {
    const inPart = new Set(splits.folds[0][part]);
    const mine = candidates.filter((c) => inPart.has(c.seriesuid));
    const pos = mine.filter((c) => c.label === 1);
    const neg = mine.filter((c) => c.label === 0);
    rng.shuffle(neg);
    const keep = [...pos, ...neg.slice(0, Math.max(ratio * pos.length, pos.length === 0 ? neg.length : 0))];
    const byScan = new Map<string, Luna16Candidate[]>();
    for (const c of keep) byScan.set(c.seriesuid, [...(byScan.get(c.seriesuid) ?? []), c]);
    const samples: Sample[] = [];
    for (const [uid, cs] of [...byScan].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const vol = await loadVolume(pathOf.get(uid)!);
      for (const c of cs) {
        const hu = extractCandidateCube(vol, c.world, config.patchSize, config.window[0]);
        samples.push({
          id: `${uid}@${c.world.join(",")}`,
          x: windowIntensity(hu, [config.window[0], config.window[1]]),
          y: c.label,
        });
      }
    }
    arrays[part] = stackSamples(samples, config.patchSize);
  }
  return {
    task: "ncc",
    config,
    preprocessing: taskPreprocessing(config),
    folds: [arrays as TaskArrays],
    splitsFile: file,
    dataRoot: root,
    sample: !o.data,
    notes: {
      ...sampleNote,
      candidatesFile: csv,
      candidatesSkippedNoScan: skipped,
      ...(leftOutByQuick > 0 ? { candidatesLeftOutByQuick: leftOutByQuick } : {}),
      negativesPerPositive: ratio,
    },
  };
}
