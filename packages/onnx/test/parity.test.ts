/**
 * @vitest-environment node
 * Every parity fixture (width-4 U-Nets made with PyTorch 1.13 / Keras; `fixtures/parity`) exported
 * to ONNX and run through ONNX Runtime reproduces the reference outputs within 1e-4.
 */
import path from "node:path";
import { defaultMetadata, importKerasH5, importTorchCheckpoint } from "@models-genesis/models";
import { beforeAll, describe, expect, it } from "vitest";
import { createOnnxEngine, exportOnnx, parseOnnxBytes } from "../src/index.js";
import { maxAbsDiff, ortSkip, PARITY, readNpyF32, useBackend } from "./helpers.js";

const TOL = 1e-4;
const fx = (f: string) => path.join(PARITY, f);

describe.skipIf(ortSkip !== null)(
  `ONNX Runtime parity with the reference outputs${ortSkip ? ` (skipped: ${ortSkip})` : ""}`,
  () => {
    // NCDHW (N, 1, D0, D1, D2) with one channel has the memory order of NDHWC (N, D0, D1, D2, 1).
    let x: { shape: number[]; data: Float32Array };
    beforeAll(async () => {
      await useBackend("cpu");
      const a = readNpyF32(fx("input_ncdhw.npy"));
      const [n, , d0, d1, d2] = a.shape;
      x = { shape: [n, d0, d1, d2, 1], data: a.data };
    });

    it.each([
      ["unet3d_w4_zip.pt", "batch-statistics", "unet3d_w4_expected_batchstats.npy"],
      ["unet3d_w4_zip.pt", "running-statistics", "unet3d_w4_expected_runningstats.npy"],
      ["unet3d_w4_legacy.pt", "batch-statistics", "unet3d_w4_expected_batchstats.npy"],
      ["unet3d_w4_legacy.pt", "running-statistics", "unet3d_w4_expected_runningstats.npy"],
      ["keras_unet3d_w4.h5", "running-statistics", "keras_unet3d_w4_expected.npy"],
      ["keras_unet3d_w4_fullmodel.h5", "running-statistics", "keras_unet3d_w4_expected.npy"],
    ] as const)("%s, %s", async (file, bnMode, expected) => {
      const imported = file.endsWith(".pt")
        ? await importTorchCheckpoint(fx(file), { bnMode })
        : await importKerasH5(fx(file));
      const meta = defaultMetadata(imported.model, { provenance: imported.provenance });
      const bytes = await exportOnnx(imported.model, meta, { bnMode });
      imported.model.dispose();
      const facts = parseOnnxBytes(bytes, file);
      expect(facts.graph.graphBnMode).toBe(bnMode);
      const engine = await createOnnxEngine(bytes, { source: file });
      const y = await engine.forward(x.data, x.shape);
      await engine.dispose();
      const want = readNpyF32(fx(expected));
      expect(y.length).toBe(want.data.length);
      expect(maxAbsDiff(y, want.data)).toBeLessThanOrEqual(TOL);
    });
  },
);
