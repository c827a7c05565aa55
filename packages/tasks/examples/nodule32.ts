// Example of a contributed target task (README "Adding a target task"): lung nodule segmentation
// in 32×32×16 cubes. In the package it is one folder, `src/nodule32/`, and one test; outside it,
// import from `@models-genesis/tasks` and `@models-genesis/datasets`, and run it with
// `runTaskApp(NODULE32_TASK, process.argv, import.meta.url)`.
import {
  discoverLidcPairs,
  groupSplit,
  lidcPatientOf,
  loadVolume,
  ncsCubes,
  type Sample,
  type SampleArrays,
  stackSamples,
  type TaskArrays,
} from "@models-genesis/datasets";
import {
  defineTask,
  PARTS,
  quickData,
  splitsOf,
  TASK_PLATEAU,
  type TaskConfig,
  taskPreprocessing,
} from "../src/index.js";

/** The recipe: every number of the task, once, under the record's names. */
export const NODULE32_CONFIG: TaskConfig = {
  task: "nodule32",
  title: "lung nodule segmentation in 32×32×16 cubes (LIDC-IDRI VOIs)",
  kind: "segmentation",
  modality: "CT",
  window: [-1000, 1000],
  patchSize: [32, 32, 16],
  crop: null,
  resize: null,
  optimizer: "adam",
  lr: 1e-3,
  batchSize: 16,
  patience: 50,
  reduceLrOnPlateau: TASK_PLATEAU,
  loss: "dice",
  metric: "iou",
  quickLimit: 40,
  source: "example: NCS (ncs_config) with half-size cubes",
};

/** Reader → split (saved once) → arrays, and the record of what was done to the volumes. */
export const NODULE32_TASK = defineTask({
  config: NODULE32_CONFIG,
  description: "Lung nodule segmentation in 32×32×16 cubes (example task)",
  dataHelp: "LIDC nodule volumes image/*.nii.gz + mask/*.nii.gz",
  prepare: async (o, _sampleData, log) => {
    if (!o.data) throw new Error("nodule32 has no sample layout: pass --data DIR");
    const config = NODULE32_CONFIG;
    // --quick keeps a seeded subset of whole patients (the config's quickLimit VOIs)
    const pairs = quickData({ ...o, log }, await discoverLidcPairs(o.data), {
      limit: config.quickLimit,
      unit: "VOIs",
      groupOf: (p) => lidcPatientOf(p.id),
      groupUnit: "patients",
    });
    const ids = pairs.map((p) => p.id);
    const { file, splits } = await splitsOf(
      { ...o, log },
      "nodule32",
      ids,
      "patient-level 70/10/20 %",
      () => [groupSplit(ids, lidcPatientOf, { fractions: { train: 0.7, val: 0.1 }, seed: o.seed })],
    );
    const byId = new Map(pairs.map((p) => [p.id, p]));
    const fold: Partial<Record<(typeof PARTS)[number], SampleArrays>> = {};
    for (const part of PARTS) {
      const samples: Sample[] = [];
      for (const id of splits.folds[0][part]) {
        const p = byId.get(id)!;
        const window = { min: config.window[0], max: config.window[1] };
        const image = await loadVolume(p.image);
        const { x, y } = ncsCubes(image, await loadVolume(p.mask), config.patchSize, window);
        samples.push({ id, x, y });
      }
      fold[part] = stackSamples(samples, config.patchSize);
    }
    return {
      task: config.task,
      config,
      preprocessing: taskPreprocessing(config),
      folds: [fold as TaskArrays],
      splitsFile: file,
      dataRoot: o.data,
      sample: false,
      notes: { cases: ids.length },
    };
  },
});
