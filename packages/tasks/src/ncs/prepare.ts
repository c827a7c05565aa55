import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  DatasetError,
  discoverLidcPairs,
  groupSplit,
  lidcPatientOf,
  loadVolume,
  ncsCubes,
  readNcsArrays,
  type Sample,
  type SampleArrays,
  stackSamples,
  type TaskArrays,
  takeSamples,
} from "@models-genesis/datasets";
import type { PreparedTask } from "../app.js";
import { taskPreprocessing } from "../config.js";
import { freshSampleDir, needSample, PARTS, type PrepareOptions, quickData, splitsOf } from "../prepare.js";
import { NCS_CONFIG } from "./config.js";
import { buildNcsSampleLayout } from "./sample.js";

/**
 * NCS (LIDC-IDRI nodule segmentation). Two native inputs: the reference's processed arrays
 * (`x_{train,valid,test}_64x64x32.npy` + `m_*` in `data`, used as they are, their split being the
 * reference's), or NIfTI pairs `image/` + `mask/` split by patient (`LIDC-IDRI-NNNN`) 70 / 10 / 20 %
 * with `PyRandom(seed)`, each cut 64×64×32 around the mask centroid.
 */
export async function prepareNcs(o: PrepareOptions): Promise<PreparedTask> {
  const config = NCS_CONFIG;
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
        { limit: config.quickLimit, unit: "cubes", groupOf: (id) => id, partOf: (id) => id.split(":")[0] },
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
      preprocessing: taskPreprocessing(config, {
        source: `the reference arrays x/m_*_64x64x32.npy (${config.source})`,
      }),
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
    limit: config.quickLimit,
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
      const { x, y } = ncsCubes(await loadVolume(p.image), await loadVolume(p.mask), config.patchSize, {
        min: config.window[0],
        max: config.window[1],
      });
      samples.push({ id, x, y });
    }
    (arrays as Record<string, SampleArrays>)[part] = stackSamples(samples, config.patchSize);
  }
  return {
    task: "ncs",
    config,
    preprocessing: taskPreprocessing(config),
    folds: [arrays as TaskArrays],
    splitsFile: file,
    dataRoot: root,
    sample: !o.data,
    notes: { input: "NIfTI pairs", cases: pairs.length },
  };
}
