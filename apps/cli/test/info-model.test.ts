/**
 * `genesis info MODEL_DIR`: a saved model's architecture and preprocessing record (no weights read),
 * text and `--json`. Width-2 U-Nets saved to a temporary folder (no shared data).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { initBackend } from "@models-genesis/kernels";
import { copyRecord, createModel, REFERENCE_CT_RECORD, saveModel } from "@models-genesis/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { genesis } from "./run-cli.js";

let dir: string;
let bms: string;
let pre: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: () => {} });
  dir = mkdtempSync(path.join(tmpdir(), "genesis-info-model-"));
  bms = path.join(dir, "bms");
  pre = path.join(dir, "pre");
  const m = createModel("genesis-unet3d", { width: 2, seed: 1, bnMode: "running-statistics" });
  // a BMS-like record: MRI window, crop 100×100×50 resized to the 64×64×32 patch, RAS
  await saveModel(bms, m, {
    id: "genesis-unet3d",
    preprocessing: {
      modality: "MRI",
      window: [0, 4000],
      range: [0, 1],
      spacing: null,
      resize: [0.64, 0.64, 0.64],
      crop: [100, 100, 50],
      patchSize: [64, 64, 32],
      orientation: "RAS",
      source: "test: BMS-like",
    },
  });
  await saveModel(pre, m, {
    id: "genesis-unet3d",
    preprocessing: { ...copyRecord(REFERENCE_CT_RECORD), patchSize: [32, 32, 16] },
    extra: { pretraining: { verdict: "learned" } },
  });
  m.dispose();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("genesis info MODEL_DIR", () => {
  it("prints the model and its preprocessing record, not 'no volume found'", async () => {
    const r = await genesis("info", bms);
    expect(r.code, r.err).toBe(0);
    expect(r.out.split("\n")).toEqual([
      `model        ${bms} (model.json)`,
      "zoo id       genesis-unet3d",
      "variant      torch (3-D)",
      "width        2",
      "head         segmentation, 1 class, sigmoid",
      "BatchNorm    training running-statistics; inference running-statistics",
      "preprocessing record:",
      "  modality     MRI",
      "  window       [0, 4000] → range [0, 1]",
      "  spacing      none (the scan's own)",
      "  resize       0.64 × 0.64 × 0.64",
      "  crop         100 × 100 × 50 voxels",
      "  patch size   64 × 64 × 32 (x × y × z voxels)",
      "  orientation  RAS",
      "  source       test: BMS-like",
      "",
    ]);
    // model.json itself names the model too
    expect((await genesis("info", path.join(bms, "model.json"))).out).toBe(r.out);
  });

  it("--json: one object with the record; a pretraining model says so", async () => {
    const r = await genesis("info", pre, "--json");
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(j).toMatchObject({
      model: path.join(pre, "model.json"),
      id: "genesis-unet3d",
      variant: "torch",
      spatialDims: 3,
      width: 2,
      head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
      bnMode: "running-statistics",
      pretraining: true,
    });
    expect(j.preprocessing).toEqual({ ...REFERENCE_CT_RECORD, patchSize: [32, 32, 16] });
    const t = await genesis("info", pre);
    expect(t.out).toContain(
      "pretraining  a restoration model from genesis pretrain: fine-tune it (genesis finetune --init) before predict",
    );
  });
});
