/**
 * @vitest-environment node
 * `genesis predict --in` with 2-D (slice-wise) models: a 2-D model fine-tuned on 3-D patches by the
 * target-task pipeline (`runFinetuning`, as `--init scratch-2d` does) predicts cubes slice by slice.
 * Real CT from apps/cli/sample (shipped with the repository), width-2 models on the wasm backend.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "@models-genesis/kernels";
import { createModel, loadModel, type ModelMetadata, REFERENCE_CT_RECORD } from "@models-genesis/models";
import { predictArrays, predictSlicewise, runFinetuning, sliceAxial } from "@models-genesis/train";
import { readNpy, readVolume, writeNpy } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictArray } from "../src/commands/predict.js";
import { genesis } from "./run-cli.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/** COPDGene 10002K chest CT (64×64×79), shipped in apps/cli/sample (same bytes as the shared ct64 NIfTI). */
const CT64 = path.join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");
const CUBE: [number, number, number] = [16, 16, 8];

describe("genesis predict with 2-D models on 3-D cubes", () => {
  let dir: string;
  /** Six real CT cubes (6, 16, 16, 8) in [0, 1] (HU [-1000, 1000]) and thresholded masks. */
  let x: Float32Array;
  beforeAll(async () => {
    await initBackend({ backend: "wasm", log: () => {} });
    dir = mkdtempSync(path.join(tmpdir(), "genesis-predict-2d-"));
    const vol = await readVolume(CT64);
    const [, ny, nz] = vol.shape;
    const per = CUBE[0] * CUBE[1] * CUBE[2];
    x = new Float32Array(6 * per);
    for (let i = 0; i < 6; i++) {
      const [x0, y0, z0] = [8 + 6 * i, 20, 10 + 2 * i];
      let o = i * per;
      for (let a = 0; a < CUBE[0]; a++)
        for (let b = 0; b < CUBE[1]; b++)
          for (let c = 0; c < CUBE[2]; c++) {
            const hu = vol.data[((x0 + a) * ny + (y0 + b)) * nz + (z0 + c)] as number;
            x[o++] = (Math.min(1000, Math.max(-1000, hu)) + 1000) / 2000;
          }
    }
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a slice-wise fine-tuned segmentation model: predict --in cubes.npy stacks its slice predictions", async () => {
    const per = CUBE[0] * CUBE[1] * CUBE[2];
    const part = (from: number, n: number) => {
      const xs = x.slice(from * per, (from + n) * per);
      return {
        x: xs,
        xShape: [n, ...CUBE, 1],
        y: xs.map((v) => (v > 0.45 ? 1 : 0)),
        yShape: [n, ...CUBE, 1],
      };
    };
    const modelDir = path.join(dir, "scratch-2d-run0");
    const ft = await runFinetuning({
      task: "segmentation",
      data: { train: part(0, 3), val: part(3, 1), test: part(4, 2) },
      init: { kind: "scratch", modelId: "genesis-unet2d", width: 2 },
      batchSize: 8,
      epochs: 1,
      seed: 1,
      modelDir,
      plainProgress: true,
    });
    expect(ft.slicewise).toBe(true);
    const test = part(4, 2);
    const inFile = path.join(dir, "cubes.npy");
    await writeNpy(inFile, { data: test.x, shape: [2, ...CUBE] });
    const outFile = path.join(dir, "pred.npy");
    const r = await genesis(
      "predict",
      "--model",
      modelDir,
      "--in",
      inFile,
      "--out",
      outFile,
      "--batch-size",
      "8",
      // train's predictSlicewise normalises with batch statistics; predict's default for a model
      // trained here is running statistics (metadata inferenceBnMode)
      "--bn-mode",
      "batch-statistics",
      // bit-for-bit equality with train's tfjs forward pass: the same engine
      "--engine",
      "tfjs",
    );
    expect(r.out).toMatch(/BN batch-statistics \(--bn-mode\)/);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const y = await readNpy(outFile);
    expect(y.shape).toEqual([2, ...CUBE]);
    const { model } = await loadModel(modelDir);
    const ref = await predictSlicewise(model, test.x, test.xShape, 8);
    model.dispose();
    expect(Array.from(y.data as Float32Array)).toEqual(Array.from(ref));
  });

  it("genesis pretrain --model genesis-unet2d writes a 2-D Genesis model that predict --in accepts", async () => {
    const out = path.join(dir, "pre2d");
    const r = await genesis(
      "pretrain",
      CT64,
      "--out",
      out,
      "--model",
      "genesis-unet2d",
      "--patch-size",
      "16x16x16",
      "--scale",
      "8",
      "--border-xy",
      "2",
      "--border-z",
      "2",
      "--lung-max",
      "1",
      "--width",
      "2",
      "--batch-size",
      "4",
      "--epochs",
      "1",
      "--steps-per-epoch",
      "2",
      "--slices-per-cube",
      "4",
      "--optimizer",
      "adam",
      "--backend",
      "wasm",
      "--plain",
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain("2-D: 4 axial slices of 16×16 per cube and epoch");
    const summary = JSON.parse(readFileSync(path.join(out, "pretrain.json"), "utf8"));
    expect(summary).toMatchObject({ model_id: "genesis-unet2d", spatial_dims: 2, width: 2, epochs: 1 });
    expect(summary.slices.per_cube).toBe(4);
    const { model } = await loadModel(path.join(out, "model"));
    expect(model.architecture.spatialDims).toBe(2);
    model.dispose();
    // the restoration model predicts cubes slice by slice: (N, rows, cols, deps) in, same out
    const inFile = path.join(dir, "cubes8.npy");
    await writeNpy(inFile, { data: x.subarray(0, 2 * 16 * 16 * 8), shape: [2, ...CUBE] });
    const p = await genesis(
      "predict",
      "--model",
      path.join(out, "model"),
      "--in",
      inFile,
      "--out",
      path.join(dir, "r.npy"),
    );
    expect(p.code, p.err).toBe(0);
    expect((await readNpy(path.join(dir, "r.npy"))).shape).toEqual([2, ...CUBE]);
  });

  it("classification: a cube's score is the mean of its slices' probabilities; a wrong channel count is named", async () => {
    const m = createModel("genesis-unet2d", {
      width: 2,
      seed: 2,
      bnMode: "running-statistics",
      head: { kind: "classification", nClasses: 1, hiddenUnits: 8 },
    });
    try {
      const per = CUBE[0] * CUBE[1] * CUBE[2];
      const cubes = x.subarray(0, 2 * per);
      const a = m.architecture;
      const meta: ModelMetadata = {
        variant: a.variant,
        spatialDims: 2,
        width: 2,
        head: a.head,
        bnMode: a.bnMode,
        inputLayout: "NHWC",
        spatialMultiple: 8,
        preprocessing: { ...REFERENCE_CT_RECORD },
      };
      const y = await predictArray(m, meta, { data: cubes, shape: [2, ...CUBE] }, { batchSize: 3 });
      expect(y.shape).toEqual([2, 1]);
      const slices = await predictArrays(m, sliceAxial(cubes, 2, CUBE), [16, 16, 16, 1], 1);
      for (let i = 0; i < 2; i++) {
        const mean = slices.subarray(i * 8, (i + 1) * 8).reduce((a, b) => a + b, 0) / 8;
        expect(y.data[i]).toBeCloseTo(mean, 5);
      }
      await expect(
        predictArray(
          m,
          meta,
          { data: new Float32Array(2 * per * 2), shape: [2, ...CUBE, 2] },
          { source: "two.npy" },
        ),
      ).rejects.toThrow(/two\.npy: expected cubes \(N, rows, cols, deps\) or \(N, rows, cols, deps, 1\)/);
    } finally {
      m.dispose();
    }
  });
});
