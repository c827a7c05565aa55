/**
 * @vitest-environment node
 * The inference BatchNorm mode recorded in a model's metadata: one documented default per origin
 * (trained here / Keras → running statistics; PyTorch → batch statistics, like the reference's
 * ContBatchNorm3d), kept through save/load, and the fallback for models saved before the field
 * (their own `bnMode`). The imports use the parity fixtures shipped in `fixtures/parity`.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createModel,
  defaultInferenceBnMode,
  defaultMetadata,
  importKerasH5,
  importTorchCheckpoint,
  inferenceBnModeOf,
  loadModel,
  ModelFileError,
  saveModel,
  type WeightProvenance,
} from "../src/index.js";
import { PARITY, useBackend } from "./helpers.js";

let dir: string;
beforeAll(async () => {
  await useBackend("cpu");
  dir = mkdtempSync(path.join(tmpdir(), "genesis-bn-mode-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const prov = (format: WeightProvenance["format"]): WeightProvenance => ({ file: "w", format, sha256: "0" });

describe("inference BN mode in the model metadata", () => {
  it("defaults: trained here and Keras → running statistics, PyTorch → batch statistics", () => {
    expect(defaultInferenceBnMode()).toBe("running-statistics");
    expect(defaultInferenceBnMode(prov("keras-h5-weights-only"))).toBe("running-statistics");
    expect(defaultInferenceBnMode(prov("keras-h5-whole-model"))).toBe("running-statistics");
    expect(defaultInferenceBnMode(prov("torch-zip"))).toBe("batch-statistics");
    expect(defaultInferenceBnMode(prov("torch-legacy"))).toBe("batch-statistics");
    const m = createModel("genesis-unet3d", { width: 2, seed: 1 });
    // a torch-variant model made here keeps batch statistics as its architecture mode, but is
    // trained with running statistics, which inference uses
    expect(m.architecture.bnMode).toBe("batch-statistics");
    expect(defaultMetadata(m).inferenceBnMode).toBe("running-statistics");
    expect(defaultMetadata(m, { provenance: prov("torch-zip") }).inferenceBnMode).toBe("batch-statistics");
    expect(defaultMetadata(m, { inferenceBnMode: "batch-statistics" }).inferenceBnMode).toBe(
      "batch-statistics",
    );
    m.dispose();
  });

  it("saved and loaded: a trained model, imported PyTorch and Keras weights", async () => {
    const m = createModel("genesis-unet3d", { width: 2, seed: 2 });
    await saveModel(path.join(dir, "trained"), m);
    m.dispose();
    const trained = await loadModel(path.join(dir, "trained"));
    expect(trained.metadata.inferenceBnMode).toBe("running-statistics");
    expect(inferenceBnModeOf(trained.metadata)).toEqual({ mode: "running-statistics", source: "metadata" });
    trained.model.dispose();

    const torch = await importTorchCheckpoint(path.join(PARITY, "unet3d_w4_zip.pt"));
    await saveModel(path.join(dir, "torch"), torch.model, { provenance: torch.provenance });
    torch.model.dispose();
    const t = await loadModel(path.join(dir, "torch"));
    expect(t.metadata.provenance?.format).toBe("torch-zip");
    expect(inferenceBnModeOf(t.metadata)).toEqual({ mode: "batch-statistics", source: "metadata" });
    t.model.dispose();

    const keras = await importKerasH5(path.join(PARITY, "keras_unet3d_w4.h5"));
    await saveModel(path.join(dir, "keras"), keras.model, { provenance: keras.provenance });
    keras.model.dispose();
    const k = await loadModel(path.join(dir, "keras"));
    expect(inferenceBnModeOf(k.metadata)).toEqual({ mode: "running-statistics", source: "metadata" });
    k.model.dispose();
  });

  it("a model saved before the field falls back to its own bnMode; a bad value is refused", async () => {
    const m = createModel("genesis-unet3d", { width: 2, seed: 3 });
    const old = path.join(dir, "old");
    await saveModel(old, m);
    m.dispose();
    const jsonPath = path.join(old, "model.json");
    const json = JSON.parse(readFileSync(jsonPath, "utf8"));
    delete json.userDefinedMetadata.modelsGenesis.inferenceBnMode;
    writeFileSync(jsonPath, JSON.stringify(json));
    const loaded = await loadModel(old);
    expect(loaded.metadata.inferenceBnMode).toBeUndefined();
    expect(loaded.metadata.bnMode).toBe("batch-statistics");
    expect(inferenceBnModeOf(loaded.metadata)).toEqual({ mode: "batch-statistics", source: "fallback" });
    loaded.model.dispose();
    expect(() =>
      inferenceBnModeOf({ bnMode: "batch-statistics", inferenceBnMode: "both" as "batch-statistics" }),
    ).toThrow(ModelFileError);
    expect(() =>
      inferenceBnModeOf({ bnMode: "batch-statistics", inferenceBnMode: "both" as "batch-statistics" }),
    ).toThrow(/inferenceBnMode must be batch-statistics or running-statistics, got "both"/);
  });
});
