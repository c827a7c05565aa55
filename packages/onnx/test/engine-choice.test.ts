/**
 * @vitest-environment node
 * The engine choice shared by `genesis predict` and the task apps: named engines, the default
 * (onnx exactly when onnxruntime-node loads), one-line refusals; `openModelEngine` gives the same
 * numbers on both engines for a model exported in memory.
 */
import { createModelFromConfig, defaultMetadata } from "@models-genesis/models";
import { beforeAll, describe, expect, it } from "vitest";
import { chooseEngine, openModelEngine, probeOnnxRuntime } from "../src/index.js";
import { maxAbsDiff, ortSkip, useBackend } from "./helpers.js";

describe("chooseEngine", () => {
  it("refuses an unknown name, naming the flag", async () => {
    await expect(chooseEngine("torch")).rejects.toThrow('--engine must be onnx or tfjs, got "torch"');
    await expect(chooseEngine("ort", "--test-engine")).rejects.toThrow(/^--test-engine must be onnx or tfjs/);
  });

  it("tfjs when asked, without probing ONNX Runtime", async () => {
    expect(await chooseEngine("tfjs")).toEqual({ engine: "tfjs", note: "--engine tfjs" });
  });

  it("the default is onnx exactly when onnxruntime-node loads", async () => {
    const probe = await probeOnnxRuntime();
    const c = await chooseEngine(undefined);
    if (probe.ok) expect(c).toEqual({ engine: "onnx", note: "default: onnxruntime-node loads" });
    else expect(c).toMatchObject({ engine: "tfjs", unavailable: probe.reason });
  });
});

describe.skipIf(ortSkip !== null)(`openModelEngine${ortSkip ? ` (skipped: ${ortSkip})` : ""}`, () => {
  beforeAll(() => useBackend("cpu"));

  it("tfjs and onnx engines agree on a width-2 segmenter in both BatchNorm modes (1e-4)", async () => {
    const model = createModelFromConfig({ variant: "torch", spatialDims: 3, width: 2 }, { seed: 3 });
    try {
      const shape = [2, 16, 16, 8, 1];
      const x = Float32Array.from({ length: 2 * 16 * 16 * 8 }, (_, i) => ((i * 7919) % 101) / 100);
      for (const bnMode of ["batch-statistics", "running-statistics"] as const) {
        const tfjs = await openModelEngine(model, defaultMetadata(model), { engine: "tfjs" }, { bnMode });
        const onnx = await openModelEngine(model, defaultMetadata(model), { engine: "onnx" }, { bnMode });
        expect(tfjs.name).toBe("tfjs");
        expect(onnx.description).toMatch(/^onnxruntime-node \S+ \(cpu\)$/);
        const a = await tfjs.forward(x, shape);
        const b = await onnx.forward(x, shape);
        expect(b.length).toBe(a.length);
        expect(maxAbsDiff(a, b)).toBeLessThanOrEqual(1e-4);
        await tfjs.dispose();
        await onnx.dispose();
      }
    } finally {
      model.dispose();
    }
  });
});
