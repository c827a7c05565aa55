/**
 * @vitest-environment node
 * Every architecture the zoo can hold (torch/keras 3-D, Genesis 2D, segmentation and
 * classification heads, sigmoid/softmax/linear, both BatchNorm modes, several input channels)
 * exported to ONNX gives our tfjs forward pass's numbers through ONNX Runtime; metadata round-trips;
 * corrupt and foreign files get one clear error.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createModelFromConfig, defaultMetadata, type GenesisUNetConfigInput } from "@models-genesis/models";
import { recordFor } from "@models-genesis/volume-io";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createOnnxEngine,
  decodeModel,
  encodeModel,
  exportOnnx,
  OnnxModelError,
  onnxMetadataProps,
  parseOnnxBytes,
  readOnnxFile,
  readOnnxMetadata,
  transposeArray,
  writeOnnxFile,
} from "../src/index.js";
import { maxAbsDiff, ortSkip, useBackend } from "./helpers.js";

function randomInput(shape: number[], seed: number): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 32;
  }
  return out;
}

/** Give BatchNorm non-trivial running statistics, so the two modes differ. */
async function perturbStats(model: ReturnType<typeof createModelFromConfig>): Promise<void> {
  for (const [name, v] of model.nonTrainableWeights) {
    const k = name.includes("var") ? 0.5 : 0.1;
    tf.tidy(() => v.assign(tf.add(v, tf.mul(tf.randomUniform(v.shape, 0, 1, "float32", 3), k))));
  }
}

describe("transposeArray", () => {
  it("permutes a 2×3×4 array like numpy.transpose", () => {
    const d = Float32Array.from({ length: 24 }, (_, i) => i);
    const t = transposeArray(d, [2, 3, 4], [2, 0, 1]); // (4, 2, 3)
    // out[k, i, j] = in[i, j, k]
    expect(t[0 * 6 + 1 * 3 + 2]).toBe(d[1 * 12 + 2 * 4 + 0]);
    expect(t[3 * 6 + 0 * 3 + 1]).toBe(d[0 * 12 + 1 * 4 + 3]);
  });
});

describe.skipIf(ortSkip !== null)(
  `exported graphs equal the tfjs forward pass${ortSkip ? ` (skipped: ${ortSkip})` : ""}`,
  () => {
    beforeAll(() => useBackend("cpu"));
    const cases: [string, GenesisUNetConfigInput, number[]][] = [
      ["torch 3-D seg sigmoid", { variant: "torch", width: 2 }, [2, 16, 16, 8, 1]],
      [
        "keras 3-D seg softmax ×3",
        { variant: "keras", width: 2, head: { nClasses: 3, activation: "softmax" } },
        [2, 8, 16, 8, 1],
      ],
      [
        "torch 3-D seg linear, 2 input channels",
        { variant: "torch", width: 2, inChannels: 2, head: { activation: "linear", nClasses: 2 } },
        [1, 8, 8, 16, 2],
      ],
      [
        "torch 3-D classification",
        {
          variant: "torch",
          width: 2,
          head: { kind: "classification", nClasses: 2, activation: "softmax", hiddenUnits: 8 },
        },
        [3, 16, 8, 8, 1],
      ],
      [
        "keras 3-D classification",
        {
          variant: "keras",
          width: 2,
          head: { kind: "classification", nClasses: 1, activation: "sigmoid", hiddenUnits: 4 },
        },
        [2, 8, 8, 8, 1],
      ],
      ["torch 2-D seg", { variant: "torch", spatialDims: 2, width: 4 }, [3, 16, 24, 1]],
      [
        "keras 2-D seg",
        { variant: "keras", spatialDims: 2, width: 4, head: { nClasses: 2, activation: "softmax" } },
        [2, 16, 16, 1],
      ],
      [
        "torch 2-D classification",
        {
          variant: "torch",
          spatialDims: 2,
          width: 2,
          head: { kind: "classification", nClasses: 3, activation: "linear", hiddenUnits: 4 },
        },
        [2, 16, 16, 1],
      ],
    ];
    for (const bnMode of ["batch-statistics", "running-statistics"] as const) {
      it.each(cases)(`%s, ${bnMode}`, async (_name, config, shape) => {
        const model = createModelFromConfig(config, { seed: 5 });
        await perturbStats(model);
        const x = randomInput(shape, 11);
        const y = tf.tidy(() => model.forward(tf.tensor(x, shape), { training: false, bnMode }));
        const want = (await y.data()) as Float32Array;
        const wantShape = y.shape;
        y.dispose();
        const bytes = await exportOnnx(model, defaultMetadata(model), { bnMode });
        model.dispose();
        const engine = await createOnnxEngine(bytes);
        const got = await engine.forward(x, shape);
        await engine.dispose();
        expect(got.length).toBe(wantShape.reduce((a, b) => a * b, 1));
        expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-4);
      });
    }

    it("one file serves any batch and spatial size (dynamic axes)", async () => {
      const model = createModelFromConfig({ variant: "torch", width: 2 }, { seed: 1 });
      const bytes = await exportOnnx(model, defaultMetadata(model), { bnMode: "running-statistics" });
      const engine = await createOnnxEngine(bytes);
      for (const shape of [
        [1, 8, 8, 8, 1],
        [3, 16, 8, 24, 1],
      ]) {
        const x = randomInput(shape, 2);
        const y = tf.tidy(() =>
          model.forward(tf.tensor(x, shape), { training: false, bnMode: "running-statistics" }),
        );
        const want = (await y.data()) as Float32Array;
        y.dispose();
        expect(maxAbsDiff(await engine.forward(x, shape), want)).toBeLessThanOrEqual(1e-4);
      }
      await engine.dispose();
      model.dispose();
    });

    it("channels-first export takes NCDHW", async () => {
      const model = createModelFromConfig({ variant: "keras", width: 2, inChannels: 1 }, { seed: 4 });
      const shape = [1, 8, 16, 8, 1];
      const x = randomInput(shape, 9);
      const y = tf.tidy(() => model.forward(tf.tensor(x, shape), { training: false }));
      const want = (await y.data()) as Float32Array;
      y.dispose();
      const bytes = await exportOnnx(model, defaultMetadata(model), { layout: "channels-first" });
      model.dispose();
      expect(parseOnnxBytes(bytes, "m").graph.inputLayout).toBe("NCDHW");
      const engine = await createOnnxEngine(bytes);
      // One channel: NCDHW has NDHWC's memory order, and so has the one-class output.
      const got = await engine.forward(x, [1, 1, 8, 16, 8]);
      await engine.dispose();
      expect(maxAbsDiff(got, want)).toBeLessThanOrEqual(1e-4);
    });
  },
);

describe("metadata_props", () => {
  beforeAll(() => useBackend("cpu"));
  it("round-trips ModelMetadata and its preprocessing record, as flat keys too", async () => {
    const model = createModelFromConfig({ variant: "torch", width: 2 });
    const meta = defaultMetadata(model, {
      preprocessing: recordFor({
        modality: "CT",
        spacing: [1, 1.5, 2],
        patchSize: [32, 32, 16],
        source: "test",
      }),
      extra: { task: "ncs" },
    });
    const bytes = await exportOnnx(model, meta, { bnMode: "batch-statistics" });
    model.dispose();
    const facts = parseOnnxBytes(bytes, "m.onnx");
    expect(facts.metadata).toEqual(meta);
    expect(facts.graph).toEqual({
      graphBnMode: "batch-statistics",
      inputLayout: "NDHWC",
      outputLayout: "NDHWC",
      inChannels: 1,
    });
    expect(facts.preprocessing).toEqual(meta.preprocessing);
    const props = Object.fromEntries(decodeModel(bytes).metadataProps.map((e) => [e.key, e.value]));
    expect(props["genesis.variant"]).toBe("torch");
    expect(props["genesis.patch_size"]).toBe("[32,32,16]");
    expect(props["genesis.spacing_mm"]).toBe("[1,1.5,2]");
    expect(props["genesis.resize"]).toBe("null");
    expect(props["genesis.modality"]).toBe("CT");
    expect(props["genesis.intensity_window"]).toBe("[-1000,1000]");
    expect(props["genesis.output_kind"]).toBe("segmentation");
    expect(props["genesis.inference_bn_mode"]).toBe("running-statistics");
    expect(JSON.parse(props["genesis.preprocessing"])).toEqual(meta.preprocessing);
  });

  it("upgrades a pre-record metadata (intensity/spacing/extra.patchSize) and refuses a bad record", () => {
    const model = createModelFromConfig({ variant: "keras", width: 2 });
    const meta = defaultMetadata(model);
    model.dispose();
    const graph = {
      graphBnMode: "running-statistics" as const,
      inputLayout: "NDHWC",
      outputLayout: "NDHWC",
      inChannels: 1,
    };
    const props = onnxMetadataProps(meta, graph).map((p) => {
      if (p.key !== "genesis.metadata") return p;
      const { preprocessing: _, ...old } = meta;
      const legacy = {
        ...old,
        intensity: { modality: "MRI", window: [0, 4000], range: [0, 1] },
        spacing: [1, 1, 1],
        extra: { patchSize: [32, 32, 16] },
      };
      return { key: p.key, value: JSON.stringify(legacy) };
    });
    const facts = readOnnxMetadata(props, "m");
    expect(facts.preprocessing).toMatchObject({
      modality: "MRI",
      window: [0, 4000],
      range: [0, 1],
      spacing: [1, 1, 1],
      patchSize: [32, 32, 16],
    });
    const bad = onnxMetadataProps(meta, graph).map((p) =>
      p.key === "genesis.metadata"
        ? {
            key: p.key,
            value: JSON.stringify({ ...meta, preprocessing: { ...meta.preprocessing, window: [5, 1] } }),
          }
        : p,
    );
    expect(() => readOnnxMetadata(bad, "x.onnx")).toThrow(
      /^x\.onnx genesis\.metadata: preprocessing record: window must be \[lo, hi\]/,
    );
  });
});

describe("bad files", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), "genesis-onnx-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it("a truncated export is one clear error naming the file", async () => {
    await useBackend("cpu");
    const model = createModelFromConfig({ variant: "torch", width: 2 });
    const bytes = await exportOnnx(model, defaultMetadata(model));
    model.dispose();
    const file = path.join(dir, "truncated.onnx");
    await writeOnnxFile(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await expect(readOnnxFile(file)).rejects.toThrow(OnnxModelError);
    await expect(readOnnxFile(file)).rejects.toThrow(/truncated\.onnx: not a valid ONNX file/);
  });

  it("random bytes and a text file are rejected", async () => {
    const file = path.join(dir, "noise.onnx");
    await writeFile(file, "this is not a model\n");
    await expect(readOnnxFile(file)).rejects.toThrow(/noise\.onnx: not a valid ONNX file/);
  });

  it("a foreign ONNX model (no genesis.* metadata) says so", async () => {
    const bytes = encodeModel({
      irVersion: 8,
      opsetImport: [{ domain: "", version: 17 }],
      producerName: "someone-else",
      graph: {
        name: "g",
        node: [{ opType: "Relu", input: ["x"], output: ["y"] }],
        initializer: [],
        input: [{ name: "x", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
        output: [{ name: "y", type: { tensorType: { elemType: 1, shape: { dim: [{ dimValue: 2 }] } } } }],
      },
      metadataProps: [{ key: "author", value: "x" }],
    });
    const file = path.join(dir, "foreign.onnx");
    await writeFile(file, bytes);
    await expect(readOnnxFile(file)).rejects.toThrow(/foreign\.onnx: not a Models Genesis ONNX export/);
    await expect(readOnnxFile(path.join(dir, "missing.onnx"))).rejects.toThrow(
      /missing\.onnx: cannot read the ONNX file/,
    );
  });
});
