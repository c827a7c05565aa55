/**
 * @vitest-environment node
 * `ModelMetadata.preprocessing`: saved and loaded as a typed record, validated with one-line errors,
 * set by the `.pt`/`.h5` importers, and models saved before it (format 1, the fixture
 * `test/fixtures/old-format-v1`, written by `saveModel` at ff09357) load with documented defaults.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { recordFor } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createModel,
  importKerasH5,
  importTorchCheckpoint,
  loadModel,
  MODEL_FORMAT_VERSION,
  ModelFileError,
  REFERENCE_CT_RECORD,
  saveModel,
  UPGRADED_SOURCE,
} from "../src/index.js";
import { PARITY, useBackend } from "./helpers.js";

const OLD = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "old-format-v1");
let dir: string;
beforeAll(async () => {
  await useBackend("cpu");
  dir = mkdtempSync(path.join(tmpdir(), "genesis-record-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("a model saved before the record (format 1)", () => {
  it("loads with its old intensity and extra.patchSize moved into the record; the old fields are gone", async () => {
    const raw = JSON.parse(readFileSync(path.join(OLD, "model.json"), "utf8"));
    expect(raw.modelTopology.formatVersion).toBe(1);
    expect(raw.userDefinedMetadata.modelsGenesis.intensity).toEqual({
      modality: "MRI",
      window: [0, 4000],
      range: [0, 1],
    });
    const { model, metadata } = await loadModel(OLD);
    expect(model.architecture.width).toBe(1);
    expect(metadata.preprocessing).toEqual({
      modality: "MRI",
      window: [0, 4000],
      range: [0, 1],
      spacing: null,
      resize: null,
      crop: null,
      patchSize: [32, 32, 16],
      orientation: null,
      source: UPGRADED_SOURCE,
    });
    const m = metadata as unknown as Record<string, unknown>;
    expect("intensity" in m || "spacing" in m).toBe(false);
    expect(metadata.extra?.patchSize).toBeUndefined();
    expect((metadata.extra as { finetuning: { epochs: number } }).finetuning.epochs).toBe(1);
    // saved again, it is a format-2 model whose record loads unchanged
    const again = path.join(dir, "again");
    await saveModel(again, model, metadata);
    model.dispose();
    const json = JSON.parse(readFileSync(path.join(again, "model.json"), "utf8"));
    expect(json.modelTopology.formatVersion).toBe(MODEL_FORMAT_VERSION);
    expect(MODEL_FORMAT_VERSION).toBe(2);
    const back = await loadModel(again);
    expect(back.metadata.preprocessing).toEqual(metadata.preprocessing);
    back.model.dispose();
  });

  it("without intensity and extra, the defaults are CT [-1000, 1000] → [0, 1], 64×64×32, no spacing", async () => {
    const copy = path.join(dir, "bare");
    cpSync(OLD, copy, { recursive: true });
    const jsonPath = path.join(copy, "model.json");
    const json = JSON.parse(readFileSync(jsonPath, "utf8"));
    const meta = json.userDefinedMetadata.modelsGenesis;
    meta.intensity = null;
    meta.spacing = [0.7, 0.7, 2.5];
    delete meta.extra;
    writeFileSync(jsonPath, JSON.stringify(json));
    const { model, metadata } = await loadModel(copy);
    model.dispose();
    expect(metadata.preprocessing).toMatchObject({
      modality: "CT",
      window: [-1000, 1000],
      range: [0, 1],
      spacing: [0.7, 0.7, 2.5],
      resize: null,
      patchSize: [64, 64, 32],
      orientation: null,
    });
    expect(metadata.extra).toBeUndefined();
  });

  it("an invalid record is refused with one line naming model.json", async () => {
    const copy = path.join(dir, "bad");
    cpSync(OLD, copy, { recursive: true });
    const jsonPath = path.join(copy, "model.json");
    const json = JSON.parse(readFileSync(jsonPath, "utf8"));
    json.userDefinedMetadata.modelsGenesis.preprocessing = { ...REFERENCE_CT_RECORD, window: [10, -10] };
    writeFileSync(jsonPath, JSON.stringify(json));
    const err = await loadModel(copy).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileError);
    expect(err.message).toBe(
      `${jsonPath}: preprocessing record: window must be [lo, hi] finite with hi > lo, got [10,-10]`,
    );
  });
});

describe("the record in new models", () => {
  it("a model made here carries the reference CT record; a given record round-trips; a bad one is not written", async () => {
    const m = createModel("genesis-unet3d", { width: 1, seed: 2 });
    const a = path.join(dir, "ct");
    await saveModel(a, m);
    const ct = await loadModel(a);
    expect(ct.metadata.preprocessing).toEqual({ ...REFERENCE_CT_RECORD });
    ct.model.dispose();
    const lcs = recordFor({
      modality: "CT",
      resize: [0.5, 0.5, 1],
      patchSize: [64, 64, 32],
      source: "lcs test",
    });
    const b = path.join(dir, "lcs");
    await saveModel(b, m, { preprocessing: lcs });
    const back = await loadModel(b);
    expect(back.metadata.preprocessing).toEqual(lcs);
    back.model.dispose();
    const c = path.join(dir, "never");
    await expect(saveModel(c, m, { preprocessing: { ...lcs, spacing: [1, 1, 1] } })).rejects.toThrow(
      /never\/model\.json: preprocessing record: spacing and resize are exclusive/,
    );
    m.dispose();
  });

  it("the .pt and .h5 importers set the reference's record", async () => {
    const torch = await importTorchCheckpoint(path.join(PARITY, "unet3d_w4_zip.pt"));
    torch.model.dispose();
    expect(torch.preprocessing).toMatchObject({
      modality: "CT",
      window: [-1000, 1000],
      range: [0, 1],
      patchSize: [64, 64, 32],
      spacing: null,
      resize: null,
    });
    expect(torch.preprocessing.source).toMatch(/Genesis_Chest_CT\.pt/);
    const keras = await importKerasH5(path.join(PARITY, "keras_unet3d_w4.h5"));
    keras.model.dispose();
    expect(keras.preprocessing.window).toEqual([-1000, 1000]);
    expect(keras.preprocessing.source).toMatch(/Genesis_Chest_CT\.h5/);
  });
});
