/**
 * The engine-neutral forward pass of `predictVolume`: any `ForwardEngine` drives the same sliding
 * window and blending (a constant engine gives that constant everywhere; the engine sees NDHWC
 * batches of the patch size); a model that only lends its architecture needs an engine; an engine
 * with a fixed BatchNorm mode must agree with the resolved mode.
 */
import { initBackend } from "@models-genesis/kernels";
import { createModel, defaultMetadata } from "@models-genesis/models";
import type { Volume } from "@models-genesis/volume-io";
import { beforeAll, describe, expect, it } from "vitest";
import { type ForwardEngine, predictVolume, tfjsEngine } from "../src/index.js";

function volume(shape: [number, number, number]): Volume<Float32Array> {
  const n = shape[0] * shape[1] * shape[2];
  return {
    data: Float32Array.from({ length: n }, (_, i) => -1000 + (i % 200) * 10),
    shape,
    channels: 1,
    spacing: [1, 1, 1],
    origin: [0, 0, 0],
    direction: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    kind: "intensity",
    meta: { file: "v.nii" },
  };
}

describe("predictVolume engines", () => {
  beforeAll(() => initBackend({ backend: "cpu", log: () => {} }));

  it("a custom engine sees NDHWC patch batches and its output is blended", async () => {
    const model = createModel("genesis-unet3d", { width: 2 });
    const shapes: number[][] = [];
    const engine: ForwardEngine = {
      name: "const",
      description: "constant 0.25",
      async forward(batch, shape) {
        shapes.push([...shape]);
        expect(batch.length).toBe(shape.reduce((a, b) => a * b, 1));
        return new Float32Array(batch.length).fill(0.25);
      },
    };
    const { volume: y, info } = await predictVolume(
      { architecture: model.architecture },
      defaultMetadata(model),
      volume([20, 16, 12]),
      {
        patchSize: [16, 16, 8],
        batchSize: 2,
        output: "probabilities",
        engine,
      },
    );
    model.dispose();
    expect(info.patches).toBe(4); // 2 × 1 × 2 windows
    expect(shapes).toEqual([
      [2, 16, 16, 8, 1],
      [2, 16, 16, 8, 1],
    ]);
    for (const v of y.data as Float32Array) expect(v).toBeCloseTo(0.25, 6);
  });

  it("refuses an architecture without an engine, and an engine with another BN mode", async () => {
    const model = createModel("genesis-unet3d", { width: 2 });
    const meta = defaultMetadata(model, { inferenceBnMode: "running-statistics" });
    const vol = volume([16, 16, 8]);
    await expect(
      predictVolume({ architecture: model.architecture }, meta, vol, { patchSize: [16, 16, 8] }),
    ).rejects.toThrow("predictVolume: give a GenesisUNet, or an architecture with opts.engine");
    const fixed = tfjsEngine(model, "batch-statistics");
    await expect(predictVolume(model, meta, vol, { patchSize: [16, 16, 8], engine: fixed })).rejects.toThrow(
      "v.nii: the tfjs engine's network uses batch-statistics BatchNorm, prediction asked for running-statistics (metadata)",
    );
    model.dispose();
  });
});
