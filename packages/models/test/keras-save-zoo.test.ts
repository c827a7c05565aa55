/** @vitest-environment node */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createModel,
  getModelInfo,
  importKerasH5,
  KerasH5FormatError,
  listModels,
  loadModel,
  loadPretrained,
  ModelFileError,
  REFERENCE_CT_RECORD,
  readKerasH5,
  saveModel,
} from "../src/index.js";
import { hasParity, maxAbsDiff, PARITY, useBackend } from "./helpers.js";

let dir: string;
beforeAll(async () => {
  await useBackend("wasm");
  dir = mkdtempSync(path.join(tmpdir(), "genesis-models-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasParity)("Keras HDF5", () => {
  it("reads both layouts: layer order, weight names, Keras kernels already (k0, k1, k2, in, out)", async () => {
    const w = await readKerasH5(path.join(PARITY, "keras_unet3d_w4.h5"));
    const f = await readKerasH5(path.join(PARITY, "keras_unet3d_w4_fullmodel.h5"));
    expect(w.layout).toBe("weights-only");
    expect(f.layout).toBe("whole-model");
    expect(w.kerasVersion).toBe("2.2.4");
    expect(w.layers.map((l) => l.name)).toEqual(f.layers.map((l) => l.name));
    const bn = w.layers.find((l) => l.name === "depth_0_bn")!;
    expect(bn.weights.map((x) => x.name)).toEqual(["gamma", "beta", "moving_mean", "moving_variance"]);
    expect(w.layers.find((l) => l.name === "depth_8_conv")!.weights[0].shape).toEqual([3, 3, 3, 96, 32]);
  });
  it("maps the auto-named final conv and builds a width-4 keras model", async () => {
    const { model, provenance } = await importKerasH5(path.join(PARITY, "keras_unet3d_w4.h5"));
    expect(model.architecture).toMatchObject({
      variant: "keras",
      width: 4,
      bnMode: "running-statistics",
      bnEps: 1e-3,
    });
    expect(model.weights.get("final_conv/kernel")!.shape).toEqual([1, 1, 1, 8, 1]);
    expect(provenance.sha256).toMatch(/^[0-9a-f]{64}$/);
    model.dispose();
  });
  it("names the file when it is not HDF5 or not a Keras weights file", async () => {
    const notH5 = path.join(dir, "not.h5");
    writeFileSync(notH5, "hello");
    await expect(readKerasH5(notH5)).rejects.toThrow(KerasH5FormatError);
    await expect(readKerasH5(notH5)).rejects.toThrow(/not\.h5: not a readable HDF5 file/);
    await expect(readKerasH5(path.join(dir, "missing.h5"))).rejects.toThrow(/missing\.h5: no such file/);
  });
});

describe("save / load", () => {
  it("round-trips weights, config and metadata; outputs are identical; no temporary files remain", async () => {
    const m = createModel("genesis-unet3d-keras", {
      width: 2,
      seed: 3,
      head: { kind: "segmentation", nClasses: 2, activation: "softmax" },
    });
    const out = path.join(dir, "m1");
    await saveModel(out, m, {
      id: "genesis-unet3d-keras",
      preprocessing: { ...REFERENCE_CT_RECORD, spacing: [1, 1, 2] },
    });
    expect(readdirSync(out).sort()).toEqual(["group1-shard1of1.bin", "model.json"]);
    expect(readdirSync(dir).filter((f) => f.includes(".tmp-"))).toEqual([]);
    const { model, metadata } = await loadModel(out);
    expect(model.architecture).toEqual(m.architecture);
    expect(metadata).toMatchObject({
      id: "genesis-unet3d-keras",
      width: 2,
      inputLayout: "NDHWC",
    });
    expect(metadata.preprocessing).toMatchObject({
      modality: "CT",
      window: [-1000, 1000],
      range: [0, 1],
      spacing: [1, 1, 2],
    });
    const a = await m.getWeights();
    const b = await model.getWeights();
    for (const [k, v] of a) expect(maxAbsDiff(v.data, b.get(k)!.data), k).toBe(0);
    // the path of model.json itself loads the same model (users pass either)
    const viaJson = await loadModel(path.join(out, "model.json"));
    const c = await viaJson.model.getWeights();
    for (const [k, v] of a) expect(maxAbsDiff(v.data, c.get(k)!.data), k).toBe(0);
    expect(viaJson.metadata).toEqual(metadata);
    viaJson.model.dispose();
    const x = tf.randomUniform([1, 8, 8, 8, 1], 0, 1, "float32", 4);
    const ya = m.forward(x, { training: false });
    const yb = model.forward(x, { training: false });
    expect(maxAbsDiff(ya.dataSync(), yb.dataSync())).toBe(0);
    tf.dispose([x, ya, yb]);
    m.dispose();
    model.dispose();
  });
  it("shards at 4 MiB and removes stale shards of an earlier save", async () => {
    const out = path.join(dir, "m2");
    const big = createModel("genesis-unet3d", { width: 8 }); // ~1.2 M params ≈ 4.8 MB → 2 shards
    await saveModel(out, big);
    expect(readdirSync(out).sort()).toEqual(["group1-shard1of2.bin", "group1-shard2of2.bin", "model.json"]);
    const small = createModel("genesis-unet3d", { width: 2 });
    await saveModel(out, small);
    expect(readdirSync(out).sort()).toEqual(["group1-shard1of1.bin", "model.json"]);
    const json = JSON.parse(readFileSync(path.join(out, "model.json"), "utf8"));
    expect(json.format).toBe("models-genesis-unet");
    expect(json.weightsManifest[0].weights[0]).toEqual({
      name: "down_tr64.ops.0.conv1.weight",
      shape: [3, 3, 3, 1, 2],
      dtype: "float32",
    });
    big.dispose();
    small.dispose();
  });
  it("names the file when model.json or a shard is missing or truncated", async () => {
    await expect(loadModel(path.join(dir, "nothing"))).rejects.toThrow(ModelFileError);
    await expect(loadModel(path.join(dir, "nothing"))).rejects.toThrow(
      /nothing\/model\.json: cannot read the model/,
    );
    const out = path.join(dir, "m3");
    const m = createModel("genesis-unet3d", { width: 1 });
    await saveModel(out, m);
    writeFileSync(path.join(out, "group1-shard1of1.bin"), new Uint8Array(10));
    await expect(loadModel(out)).rejects.toThrow(
      /m3\/model\.json: weight shards hold 10 bytes, the manifest needs \d+/,
    );
    rmSync(path.join(out, "group1-shard1of1.bin"));
    await expect(loadModel(out)).rejects.toThrow(/group1-shard1of1\.bin: cannot read weight shard/);
    m.dispose();
  });
});

describe("zoo", () => {
  it("lists the entries with config, layout, preprocessing and provenance", () => {
    const zoo = listModels();
    expect(zoo.map((z) => z.id)).toEqual(["genesis-unet3d", "genesis-unet3d-keras", "genesis-unet2d"]);
    const t = getModelInfo("genesis-chest-ct-3d/torch");
    expect(t.id).toBe("genesis-unet3d");
    expect(t.input).toEqual({
      layout: "NDHWC",
      channels: 1,
      spatialMultiple: 8,
      referenceSize: [64, 64, 32],
    });
    expect(t.bnModes[0]).toBe("batch-statistics");
    expect(t.officialWeights?.file).toBe("Genesis_Chest_CT.pt");
    expect(t.provenance.sourceFile).toBe("pytorch/unet3d.py");
    expect(getModelInfo("genesis-unet3d-keras").bnModes[0]).toBe("running-statistics");
    expect(JSON.parse(JSON.stringify(zoo))).toEqual(zoo);
  });
  it.skipIf(!hasParity)(
    "loadPretrained loads official-format weights into a classification head",
    async () => {
      const { model } = await loadPretrained("genesis-unet3d-keras", {
        weights: path.join(PARITY, "keras_unet3d_w4_fullmodel.h5"),
        head: "classification",
        nClasses: 2,
      });
      expect(model.architecture.head).toMatchObject({ kind: "classification", nClasses: 2 });
      const y = model.forward(tf.ones([1, 16, 16, 8, 1]), { training: false });
      expect(y.shape).toEqual([1, 2]);
      y.dispose();
      model.dispose();
      await expect(loadPretrained("genesis-unet2d", { weights: "x" })).rejects.toThrow(/no official weights/);
    },
  );
  it("createModel applies overrides", () => {
    const m = createModel("genesis-unet3d", { width: 2, bnMode: "running-statistics" });
    expect(m.architecture).toMatchObject({ width: 2, bnMode: "running-statistics", variant: "torch" });
    expect(existsSync(dir)).toBe(true);
    m.dispose();
  });
});
