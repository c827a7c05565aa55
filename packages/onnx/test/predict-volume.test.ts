/**
 * @vitest-environment node
 * Whole-volume prediction (`predictVolume`: resampling, sliding window, Gaussian blending,
 * geometry) gives the same mask on both engines, tfjs and ONNX Runtime, for a small model.
 */

import { predictVolume, tfjsEngine } from "@models-genesis/inference";
import { createModelFromConfig, defaultMetadata, type GenesisUNet } from "@models-genesis/models";
import { recordFor, type Volume } from "@models-genesis/volume-io";
import { beforeAll, describe, expect, it } from "vitest";
import { createOnnxEngine, exportOnnx } from "../src/index.js";
import { maxAbsDiff, ortSkip, useBackend } from "./helpers.js";

/** A synthetic chest-like CT: air-filled ellipsoid body (HU ≈ −800) with a denser sphere and noise. */
function phantom(shape: [number, number, number]): Volume<Float32Array> {
  const [X, Y, Z] = shape;
  const data = new Float32Array(X * Y * Z);
  let s = 7;
  let i = 0;
  for (let x = 0; x < X; x++)
    for (let y = 0; y < Y; y++)
      for (let z = 0; z < Z; z++, i++) {
        s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
        const body = ((x - X / 2) / (X * 0.45)) ** 2 + ((y - Y / 2) / (Y * 0.4)) ** 2 < 1;
        const nodule = (x - X * 0.6) ** 2 + (y - Y * 0.4) ** 2 + ((z - Z / 2) * 2) ** 2 < 36;
        data[i] = (nodule ? 40 : body ? -800 : -1000) + (s / 2 ** 32 - 0.5) * 100;
      }
  return {
    data,
    shape,
    channels: 1,
    spacing: [0.8, 0.8, 2],
    origin: [0, 0, 0],
    direction: [
      [1, 0, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
    kind: "intensity",
    meta: { file: "phantom.nii" },
  };
}

describe.skipIf(ortSkip !== null)(
  `predictVolume on both engines${ortSkip ? ` (skipped: ${ortSkip})` : ""}`,
  () => {
    beforeAll(() => useBackend("wasm"));

    it.each(["running-statistics", "batch-statistics"] as const)(
      "same mask and probabilities (%s)",
      async (bnMode) => {
        const model = createModelFromConfig({ variant: "torch", width: 4, bnMode }, { seed: 3 });
        await spreadHead(model);
        const meta = defaultMetadata(model, {
          preprocessing: recordFor({ modality: "CT", spacing: [1, 1, 2], source: "test" }),
          inferenceBnMode: bnMode,
        });
        const vol = phantom([40, 36, 16]);
        const opts = { patchSize: [16, 16, 8] as [number, number, number], batchSize: 2, overlap: 0.5 };
        const t = await predictVolume(model, meta, vol, {
          ...opts,
          output: "probabilities",
          engine: tfjsEngine(model, bnMode),
        });
        const engine = await createOnnxEngine(await exportOnnx(model, meta, { bnMode }), { bnMode });
        const o = await predictVolume({ architecture: model.architecture }, meta, vol, {
          ...opts,
          output: "probabilities",
          engine,
        });
        expect(o.info).toEqual(t.info);
        expect(o.volume.shape).toEqual(vol.shape);
        expect(maxAbsDiff(o.volume.data as Float32Array, t.volume.data as Float32Array)).toBeLessThanOrEqual(
          1e-4,
        );
        await engine.dispose();
        model.dispose();
        // Masks (predictVolume's rule, probability ≥ threshold) at a threshold that splits the volume:
        // voxel disagreement ≤ 0.01 %.
        const threshold = median(t.volume.data as Float32Array);
        const a = (t.volume.data as Float32Array).map((p) => (p >= threshold ? 1 : 0));
        const b = (o.volume.data as Float32Array).map((p) => (p >= threshold ? 1 : 0));
        let differ = 0;
        let ones = 0;
        for (let i = 0; i < a.length; i++) {
          if (a[i] !== b[i]) differ++;
          ones += a[i];
        }
        expect(ones).toBeGreaterThan(a.length * 0.2); // a real two-class mask, not all-0 or all-1
        expect(ones).toBeLessThan(a.length * 0.8);
        expect(differ / a.length).toBeLessThanOrEqual(1e-4);
      },
    );
  },
);

/**
 * A random network's probabilities crowd around one value, where any rounding flips a mask voxel;
 * scaling the 1×1×1 head kernel spreads the logits, as training does.
 */
async function spreadHead(model: GenesisUNet): Promise<void> {
  const w = await model.getWeights();
  const k = w.get("out_tr.final_conv.weight")!;
  model.setWeights(
    new Map([["out_tr.final_conv.weight", { shape: k.shape, data: k.data.map((v) => v * 40) }]]),
    {
      allowMissing: () => true,
    },
  );
}

function median(a: Float32Array): number {
  const s = Float32Array.from(a).sort();
  return s[Math.floor(s.length / 2)];
}
