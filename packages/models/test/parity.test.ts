/**
 * @vitest-environment node
 * Official-weight parity: every fixture of `shared/fixtures/parity` (made with PyTorch 1.13 /
 * Keras, width 4) must be reproduced to ≤ 1e-4 max abs difference on cpu and wasm.
 * The plain-JS cpu backend is slow, so on cpu the two checkpoint serialisations and the two HDF5
 * layouts are shown to hold bit-identical weights and the forward passes run once per variant/BN
 * mode; on wasm every file runs every forward pass.
 */
import path from "node:path";
import { initBackend, webgpuSkipReason } from "@models-genesis/kernels";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { importKerasH5, importTorchCheckpoint } from "../src/index.js";
import type { GenesisUNet } from "../src/unet.js";
import { hasParity, maxAbsDiff, ncdhwToNdhwc, PARITY, readNpyF32, useBackend } from "./helpers.js";

const TOL = 1e-4;
const webgpuSkip = await webgpuSkipReason();
const fx = (f: string) => path.join(PARITY, f);

async function predict(
  model: GenesisUNet,
  x: { shape: number[]; data: Float32Array },
): Promise<Float32Array> {
  const y = tf.tidy(() => model.forward(tf.tensor(x.data, x.shape), { training: false }));
  const out = (await y.data()) as Float32Array;
  y.dispose();
  return out;
}

describe.skipIf(!hasParity)("parity with the reference outputs", () => {
  let x: { shape: number[]; data: Float32Array };
  beforeAll(() => {
    x = ncdhwToNdhwc(readNpyF32(fx("input_ncdhw.npy")));
  });

  it("zip and legacy serialisations hold identical weights; both HDF5 layouts too", async () => {
    await useBackend("cpu");
    const a = await importTorchCheckpoint(fx("unet3d_w4_zip.pt"));
    const b = await importTorchCheckpoint(fx("unet3d_w4_legacy.pt"));
    expect(a.provenance.format).toBe("torch-zip");
    expect(b.provenance.format).toBe("torch-legacy");
    expect(a.provenance.wrapperKey).toBe("state_dict");
    expect(a.provenance.strippedPrefixes).toEqual(["module."]);
    const wa = await a.model.getWeights();
    const wb = await b.model.getWeights();
    expect([...wa.keys()]).toEqual([...wb.keys()]);
    for (const [k, v] of wa) expect(maxAbsDiff(v.data, wb.get(k)!.data), k).toBe(0);
    a.model.dispose();
    b.model.dispose();

    const c = await importKerasH5(fx("keras_unet3d_w4.h5"));
    const d = await importKerasH5(fx("keras_unet3d_w4_fullmodel.h5"));
    expect(c.provenance.format).toBe("keras-h5-weights-only");
    expect(d.provenance.format).toBe("keras-h5-whole-model");
    const wc = await c.model.getWeights();
    const wd = await d.model.getWeights();
    expect(wc.size).toBe(wd.size);
    for (const [k, v] of wc) expect(maxAbsDiff(v.data, wd.get(k)!.data), k).toBe(0);
    c.model.dispose();
    d.model.dispose();
  });

  describe("cpu", () => {
    beforeAll(() => useBackend("cpu"));
    // Running statistics make every sample independent of the batch: the first sample suffices.
    const first = (a: { shape: number[]; data: Float32Array }) => ({
      shape: [1, ...a.shape.slice(1)],
      data: a.data.subarray(0, a.data.length / a.shape[0]),
    });
    it("unet3d_w4_zip.pt, batch-statistics (whole batch)", async () => {
      const { model } = await importTorchCheckpoint(fx("unet3d_w4_zip.pt"), { bnMode: "batch-statistics" });
      const y = await predict(model, x);
      model.dispose();
      expect(maxAbsDiff(y, readNpyF32(fx("unet3d_w4_expected_batchstats.npy")).data)).toBeLessThanOrEqual(
        TOL,
      );
    });
    it("unet3d_w4_legacy.pt, running-statistics (first sample)", async () => {
      const { model } = await importTorchCheckpoint(fx("unet3d_w4_legacy.pt"), {
        bnMode: "running-statistics",
      });
      const y = await predict(model, first(x));
      model.dispose();
      const expected = first(readNpyF32(fx("unet3d_w4_expected_runningstats.npy")));
      expect(maxAbsDiff(y, expected.data)).toBeLessThanOrEqual(TOL);
    });
    it("keras_unet3d_w4_fullmodel.h5, running statistics (first sample)", async () => {
      const { model } = await importKerasH5(fx("keras_unet3d_w4_fullmodel.h5"));
      expect(model.architecture.bnMode).toBe("running-statistics");
      const y = await predict(model, first(x));
      model.dispose();
      expect(maxAbsDiff(y, first(readNpyF32(fx("keras_unet3d_w4_expected.npy"))).data)).toBeLessThanOrEqual(
        TOL,
      );
    });
  });

  /** Every fixture file, both variants and both BN modes, on one backend (wasm and webgpu). */
  const everyFixture = () => {
    it.each([
      ["unet3d_w4_zip.pt", "batch-statistics", "unet3d_w4_expected_batchstats.npy"],
      ["unet3d_w4_zip.pt", "running-statistics", "unet3d_w4_expected_runningstats.npy"],
      ["unet3d_w4_legacy.pt", "batch-statistics", "unet3d_w4_expected_batchstats.npy"],
      ["unet3d_w4_legacy.pt", "running-statistics", "unet3d_w4_expected_runningstats.npy"],
    ] as const)("%s, %s", async (file, bnMode, expected) => {
      const { model } = await importTorchCheckpoint(fx(file), { bnMode });
      const y = await predict(model, x);
      model.dispose();
      expect(maxAbsDiff(y, readNpyF32(fx(expected)).data)).toBeLessThanOrEqual(TOL);
    });
    it.each(["keras_unet3d_w4.h5", "keras_unet3d_w4_fullmodel.h5"])(
      "%s (running statistics)",
      async (file) => {
        const { model } = await importKerasH5(fx(file));
        const y = await predict(model, x);
        model.dispose();
        expect(maxAbsDiff(y, readNpyF32(fx("keras_unet3d_w4_expected.npy")).data)).toBeLessThanOrEqual(TOL);
      },
    );
  };

  describe("wasm", () => {
    beforeAll(() => useBackend("wasm"));
    everyFixture();
    it("the two BN modes really differ on these weights (the test can fail)", () => {
      const bs = readNpyF32(fx("unet3d_w4_expected_batchstats.npy")).data;
      const rs = readNpyF32(fx("unet3d_w4_expected_runningstats.npy")).data;
      expect(maxAbsDiff(bs, rs)).toBeGreaterThan(0.1);
    });
  });

  describe.skipIf(webgpuSkip !== null)("webgpu", () => {
    beforeAll(async () => {
      await initBackend({ backend: "webgpu", log: () => {} });
    });
    everyFixture();
  });
});
