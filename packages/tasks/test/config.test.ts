import * as train from "@models-genesis/train";
import { describe, expect, it } from "vitest";
import { TASK_PLATEAU, taskPreprocessing } from "../src/config.js";
import { TASK_CONFIGS, TASKS } from "../src/registry.js";

describe("one config per task (keras/downstream_tasks/config.py)", () => {
  it("holds the reference values: optimiser, lr, batch, patience, loss, metric (and the --quick size)", () => {
    const row = (t: keyof typeof TASK_CONFIGS) => {
      const c = TASK_CONFIGS[t];
      return [c.kind, c.optimizer, c.lr, c.batchSize, c.patience, c.loss, c.metric, c.quickLimit];
    };
    expect(row("ncc")).toEqual(["classification", "adam", 1e-3, 24, 10, "bce", "auc", 40]);
    expect(row("ncs")).toEqual(["segmentation", "adam", 1e-3, 16, 50, "dice", "iou", 40]);
    expect(row("ecc")).toEqual(["classification", "adam", 1e-3, 24, 38, "bce", "auc", 4]);
    expect(row("lcs")).toEqual(["segmentation", "adam", 1e-2, 16, 20, "dice", "iou", 4]);
    expect(row("bms")).toEqual(["segmentation", "adam", 1e-3, 16, 30, "dice", "iou", 6]);
  });

  it("holds the reference geometry and intensities under the record's names", () => {
    const geo = (t: keyof typeof TASK_CONFIGS) => {
      const c = TASK_CONFIGS[t];
      return [c.modality, c.window, c.patchSize, c.crop, c.resize];
    };
    expect(geo("ncc")).toEqual(["CT", [-1000, 1000], [64, 64, 32], null, null]);
    expect(geo("ncs")).toEqual(["CT", [-1000, 1000], [64, 64, 32], null, null]);
    expect(geo("ecc")).toEqual(["CT", [-1000, 1000], [64, 64, 64], null, null]);
    expect(geo("lcs")).toEqual(["CT", [-1000, 1000], [64, 64, 32], null, [0.5, 0.5, 1]]);
    expect(geo("bms")).toEqual(["MRI", [0, 4000], [64, 64, 32], [100, 100, 50], [0.64, 0.64, 0.64]]);
  });

  it("is single-sourced: the registry reads the task folders, the plateau is train's, train keeps no per-task table", () => {
    for (const [name, def] of Object.entries(TASKS)) {
      expect(def.config.task).toBe(name);
      expect(TASK_CONFIGS[name as keyof typeof TASKS]).toBe(def.config);
      expect(def.config.reduceLrOnPlateau).toBe(train.FINETUNE_PLATEAU);
    }
    expect(TASK_PLATEAU).toEqual({ factor: 0.5, patience: 6, minDelta: 1e-4, minLr: 1e-6 });
    expect("REFERENCE_FINETUNE" in train).toBe(false);
    expect("finetuneTask" in train).toBe(false);
  });

  it("taskPreprocessing builds the record from a config; overrides replace fields", () => {
    expect(taskPreprocessing(TASK_CONFIGS.bms)).toEqual({
      modality: "MRI",
      window: [0, 4000],
      range: [0, 1],
      spacing: null,
      resize: [0.64, 0.64, 0.64],
      crop: [100, 100, 50],
      patchSize: [64, 64, 32],
      orientation: null,
      source: `@models-genesis/tasks bms preparation (${TASK_CONFIGS.bms.source})`,
    });
    const r = taskPreprocessing(TASK_CONFIGS.lcs, { window: [-5, 5] });
    expect([r.window, r.resize]).toEqual([
      [-5, 5],
      [0.5, 0.5, 1],
    ]);
    // the record owns its arrays: editing it leaves the config alone
    r.resize![0] = 2;
    expect(TASK_CONFIGS.lcs.resize).toEqual([0.5, 0.5, 1]);
  });
});
