import { existsSync } from "node:fs";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { type Vec3, windowIntensity } from "@models-genesis/volume-io";
import type { PreparedTask } from "./app.js";
import { type Sample, type SampleArrays, stackSamples, type TaskArrays, takeSamples } from "./arrays.js";
import { bratsReferenceSplit, discoverBrats, readFoldFile } from "./brats.js";
import { eccFolds, readEccCandidates } from "./ecc.js";
import { DatasetError } from "./errors.js";
import { loadVolume } from "./io.js";
import { discoverLidcPairs, lidcPatientOf, ncsCubes, readNcsArrays } from "./lidc.js";
import { discoverLits, litsPart, prepareLitsCase } from "./lits.js";
import {
  discoverLuna16,
  extractCandidateCube,
  type Luna16Candidate,
  luna16PartOfSubset,
  readLuna16Candidates,
} from "./luna16.js";
import { describeQuickSubset, QUICK_LIMITS, quickSubset } from "./quick.js";
import { PyRandom } from "./random.js";
import {
  BMS_SAMPLE_WINDOW,
  buildBmsSampleLayout,
  buildEccSampleLayout,
  buildLcsSampleLayout,
  buildNccSampleLayout,
  buildNcsSampleLayout,
} from "./samples.js";
import { gridWindows, sampleWindows } from "./sampling.js";
import { groupSplit, loadOrCreateSplits, type Split } from "./splits.js";
import { TASK_CONFIGS } from "./tasks.js";

/**
 * Task preparation for the five apps: dataset root (native layout, or the sample layout built from
 * the shared data) → `splits.json` (created once, then reused) → model-ready arrays.
 */
export interface PrepareOptions {
  /** Dataset root in its native layout; absent = build the sample layout under `out/sample-layout`. */
  data?: string;
  /** The shared data folder (`…/shared/data`) the sample layout is built from (needed without `data`). */
  sampleData?: string;
  out: string;
  quick: boolean;
  seed: number;
  /**
   * Override the number of cases `quick` keeps: the NCC/NCS sample VOIs (40), and the `--data`
   * subset's size in the task's unit ({@link QUICK_LIMITS}).
   */
  sampleLimit?: number;
  log?: (line: string) => void;
}

const PARTS = ["train", "val", "test"] as const;

/** `OUT/sample-layout`, emptied first so that a layout from an earlier run (e.g. `--quick`) leaves nothing behind. */
async function freshSampleDir(out: string): Promise<string> {
  const dir = join(out, "sample-layout");
  await rm(dir, { recursive: true, force: true });
  return dir;
}

function needSample(o: PrepareOptions): string {
  if (!o.sampleData) throw new DatasetError(o.out, "no --data given and no sample data folder located");
  return o.sampleData;
}

/**
 * `--quick` with `--data`: keep a seeded, whole-group subset of `items` ({@link quickSubset}) and
 * log what was kept; without `--quick` or `--data`, `items` unchanged.
 */
function quickData<T>(
  o: PrepareOptions,
  items: readonly T[],
  spec: {
    limit: number;
    unit: string;
    groupOf: (item: T) => string;
    groupUnit?: string;
    partOf?: (item: T) => string;
  },
): T[] {
  if (!o.quick || !o.data) return [...items];
  const r = quickSubset(items, { ...spec, limit: o.sampleLimit ?? spec.limit, seed: o.seed });
  o.log?.(
    describeQuickSubset(
      r.items.length,
      items.length,
      spec.unit,
      spec.groupUnit ? { kept: r.groups, total: r.groupsTotal, unit: spec.groupUnit } : undefined,
      o.seed,
    ),
  );
  return r.items;
}

async function splitsOf(o: PrepareOptions, task: string, ids: string[], method: string, make: () => Split[]) {
  const file = join(o.out, "splits.json");
  const { splits, created } = await loadOrCreateSplits(file, task, ids, () => ({
    task,
    method,
    seed: o.seed,
    folds: make(),
  }));
  o.log?.(`${created ? "wrote" : "reusing"} ${file}`);
  return { file, splits };
}

// ---------------------------------------------------------------------------------------------

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
  const config = TASK_CONFIGS.ncc;
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
    limit: QUICK_LIMITS.ncc,
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
        const hu = extractCandidateCube(vol, c.world, config.inputSize, config.intensityWindow.min);
        samples.push({
          id: `${uid}@${c.world.join(",")}`,
          x: windowIntensity(hu, [config.intensityWindow.min, config.intensityWindow.max]),
          y: c.label,
        });
      }
    }
    arrays[part] = stackSamples(samples, config.inputSize);
  }
  return {
    task: "ncc",
    config,
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

// ---------------------------------------------------------------------------------------------

/**
 * NCS (LIDC-IDRI nodule segmentation). Two native inputs: the reference's processed arrays
 * (`x_{train,valid,test}_64x64x32.npy` + `m_*` in `data`, used as they are, their split being the
 * reference's), or NIfTI pairs `image/` + `mask/` split by patient (`LIDC-IDRI-NNNN`) 70 / 10 / 20 %
 * with `PyRandom(seed)`, each cut 64×64×32 around the mask centroid.
 */
export async function prepareNcs(o: PrepareOptions): Promise<PreparedTask> {
  const config = TASK_CONFIGS.ncs;
  if (o.data && existsSync(join(o.data, "x_train_64x64x32.npy"))) {
    const full = {
      train: await readNcsArrays(o.data, "train"),
      val: await readNcsArrays(o.data, "valid"),
      test: await readNcsArrays(o.data, "test"),
    };
    // the reference arrays carry no patient ids: --quick keeps seeded cubes, shared over the parts
    const keep = new Set(
      quickData(
        o,
        PARTS.flatMap((p) => full[p].ids),
        { limit: QUICK_LIMITS.ncs, unit: "cubes", groupOf: (id) => id, partOf: (id) => id.split(":")[0] },
      ),
    );
    const a = {
      train: takeSamples(full.train, keep),
      val: takeSamples(full.val, keep),
      test: takeSamples(full.test, keep),
    };
    const ids = [...a.train.ids, ...a.val.ids, ...a.test.ids];
    const { file } = await splitsOf(
      o,
      "ncs",
      ids,
      "the reference's processed arrays x/m_{train,valid,test}_64x64x32.npy",
      () => [{ train: a.train.ids, val: a.val.ids, test: a.test.ids }],
    );
    return {
      task: "ncs",
      config,
      folds: [a],
      splitsFile: file,
      dataRoot: o.data,
      sample: false,
      notes: { input: "reference arrays" },
    };
  }
  let root = o.data;
  if (!root) {
    root = await freshSampleDir(o.out);
    const r = await buildNcsSampleLayout(join(needSample(o), "ct/lidc_nodule_vois"), root, {
      limit: o.sampleLimit ?? (o.quick ? 40 : undefined),
    });
    o.log?.(`NCS sample layout: ${r.cases} nodule volumes in ${root}`);
  }
  if (o.data && !existsSync(join(root, "image"))) {
    throw new DatasetError(
      o.data,
      "not an NCS dataset: expected the reference arrays x_{train,valid,test}_64x64x32.npy + m_*.npy, or image/ and mask/ folders of LIDC-IDRI NIfTI volumes",
    );
  }
  const pairs = quickData(o, await discoverLidcPairs(root), {
    limit: QUICK_LIMITS.ncs,
    unit: "volumes",
    groupOf: (p) => lidcPatientOf(p.id),
    groupUnit: "patients",
  });
  const ids = pairs.map((p) => p.id);
  const { file, splits } = await splitsOf(
    o,
    "ncs",
    ids,
    `patient-level (LIDC-IDRI-NNNN) 70/10/20 % with PyRandom(${o.seed})`,
    () => [groupSplit(ids, lidcPatientOf, { fractions: { train: 0.7, val: 0.1 }, seed: o.seed })],
  );
  const byId = new Map(pairs.map((p) => [p.id, p]));
  const arrays: Partial<TaskArrays> = {};
  for (const part of PARTS) {
    const samples: Sample[] = [];
    for (const id of splits.folds[0][part]) {
      const p = byId.get(id)!;
      const { x, y } = ncsCubes(
        await loadVolume(p.image),
        await loadVolume(p.mask),
        config.inputSize,
        config.intensityWindow,
      );
      samples.push({ id, x, y });
    }
    (arrays as Record<string, SampleArrays>)[part] = stackSamples(samples, config.inputSize);
  }
  return {
    task: "ncs",
    config,
    folds: [arrays as TaskArrays],
    splitsFile: file,
    dataRoot: root,
    sample: !o.data,
    notes: { input: "NIfTI pairs", cases: pairs.length },
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * ECC (PE false-positive reduction). Reads `data/candidates.csv` (format in `ecc.ts`); 3-fold
 * cross-validation by volume (`eccFolds`, seeded); cubes 64×64×64 around each candidate, HU
 * window → [0, 1]. Returns one `TaskArrays` per fold.
 */
export async function prepareEcc(o: PrepareOptions): Promise<PreparedTask> {
  const config = TASK_CONFIGS.ecc;
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
      limit: QUICK_LIMITS.ecc,
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
      const hu = extractCandidateCube(vol, cands[i].world, config.inputSize, config.intensityWindow.min);
      cubes.set(i, windowIntensity(hu, [config.intensityWindow.min, config.intensityWindow.max]));
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
      a[part] = stackSamples(samples, config.inputSize);
    }
    return a as unknown as TaskArrays;
  });
  return {
    task: "ecc",
    config,
    folds,
    splitsFile: file,
    dataRoot: root,
    sample: !o.data,
    notes: { ...sampleNote, candidates: cands.length, volumes: volumes.length },
  };
}

// ---------------------------------------------------------------------------------------------

/**
 * LCS (LiTS liver segmentation). Split by case number (0–99 / 100–114 / 115–129, `lcs_config`);
 * each case windowed and resized in-plane to 256×256 (`prepareLitsCase`); training: `patchesPerVolume`
 * random 64×64×32 windows per volume, half of them centred on liver (`foregroundRatio` 0.5, our
 * choice: the reference's patch generator is not public); validation / test: the whole volume tiled.
 */
export async function prepareLcs(
  o: PrepareOptions & { patchesPerVolume?: number; foregroundRatio?: number },
): Promise<PreparedTask> {
  const config = TASK_CONFIGS.lcs;
  let root = o.data;
  let sampleNote: Record<string, unknown> = {};
  if (!root) {
    root = await freshSampleDir(o.out);
    const r = await buildLcsSampleLayout(join(needSample(o), "ct"), root);
    sampleNote = { sampleCases: r.cases, sampleSkipped: r.skipped };
    o.log?.(
      `LCS sample layout: cases ${r.cases.join(", ")} in ${root}${r.skipped.length ? ` (skipped: ${r.skipped.join("; ")})` : ""}`,
    );
  }
  const { cases } = await discoverLits(root);
  const used = quickData(
    o,
    cases.filter((c) => litsPart(c.n) !== null),
    { limit: QUICK_LIMITS.lcs, unit: "cases", groupOf: (c) => c.id, partOf: (c) => litsPart(c.n)! },
  );
  const ids = used.map((c) => c.id);
  const { file, splits } = await splitsOf(
    o,
    "lcs",
    ids,
    "LiTS case numbers 0-99 train / 100-114 val / 115-129 test (lcs_config)",
    () => {
      const s: Split = { train: [], val: [], test: [] };
      for (const c of used) s[litsPart(c.n)!].push(c.id);
      return [s];
    },
  );
  const n = o.patchesPerVolume ?? (o.quick ? 8 : 32);
  const ratio = o.foregroundRatio ?? 0.5;
  const rng = new PyRandom(o.seed);
  const byId = new Map(used.map((c) => [c.id, c]));
  const arrays: Partial<Record<string, SampleArrays>> = {};
  for (const part of PARTS) {
    const samples: Sample[] = [];
    for (const id of splits.folds[0][part]) {
      const c = byId.get(id)!;
      const { image, mask } = prepareLitsCase(await loadVolume(c.volume), await loadVolume(c.segmentation), {
        inPlane: 256,
        window: config.intensityWindow,
      });
      const opts = { crop: config.inputSize, idPrefix: id };
      samples.push(
        ...(part === "train"
          ? sampleWindows(image, mask, { ...opts, n, foregroundRatio: ratio, rng })
          : gridWindows(image, mask, opts)),
      );
    }
    arrays[part] = stackSamples(samples, config.inputSize);
  }
  return {
    task: "lcs",
    config,
    folds: [arrays as unknown as TaskArrays],
    splitsFile: file,
    dataRoot: root,
    sample: !o.data,
    notes: {
      ...sampleNote,
      patchesPerVolume: n,
      foregroundRatio: ratio,
      inPlane: 256,
      empty: PARTS.filter((p) => arrays[p]!.xShape[0] === 0),
    },
  };
}

// ---------------------------------------------------------------------------------------------

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
  const config = TASK_CONFIGS.bms;
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
      { limit: QUICK_LIMITS.bms, unit: "cases", groupOf: (c) => c.id, partOf: (c) => `fold ${c.k + 1}` },
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
  const window = sample ? BMS_SAMPLE_WINDOW : config.intensityWindow;
  const n = o.windowsPerCase ?? (o.quick ? 4 : 16);
  const ratio = o.foregroundRatio ?? 0.5;
  const rng = new PyRandom(o.seed);
  const byId = new Map(cases.map((c) => [c.id, c]));
  const crop = config.cropSize as Vec3;
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
      const image = { data: windowIntensity(flair.data, [window.min, window.max]), shape: flair.shape };
      const label = { data: Float32Array.from(seg.data, (v) => (v > 0 ? 1 : 0)), shape: seg.shape };
      const opts = { crop, out: config.inputSize, idPrefix: id };
      samples.push(
        ...(part === "train"
          ? sampleWindows(image, label, { ...opts, n, foregroundRatio: ratio, rng })
          : gridWindows(image, label, opts)),
      );
    }
    arrays[part] = stackSamples(samples, config.inputSize);
  }
  return {
    task: "bms",
    config: { ...config, intensityWindow: window }, // the window the arrays were made with (sample: [-5, 5])
    folds: [arrays as unknown as TaskArrays],
    splitsFile: file,
    dataRoot: root,
    sample,
    notes: {
      cases: cases.length,
      intensityWindow: window,
      windowsPerCase: n,
      foregroundRatio: ratio,
      foldFiles,
    },
  };
}
