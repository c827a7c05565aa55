/**
 * @vitest-environment node
 * `genesis export`, `genesis convert --onnx` and `genesis predict --engine onnx|tfjs`: the parity
 * fixtures (shipped in `fixtures/parity`) exported from the command line reproduce the reference
 * outputs through ONNX Runtime; whole-volume masks of the sample chest CT agree between the two
 * engines; bad engine/provider choices are one line. Runs on wasm (the tfjs engine).
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "@models-genesis/kernels";
import { createModel, loadModel, saveModel } from "@models-genesis/models";
import { createOnnxEngine, parseOnnxBytes, probeOnnxRuntime, readOnnxFile } from "@models-genesis/onnx";
import { readNifti, readNpy, writeNpy } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { genesis } from "./run-cli.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const PARITY = path.join(repoRoot, "fixtures/parity");
const CT64_NII = path.join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");
const probe = await probeOnnxRuntime();
const skip = probe.ok ? null : probe.reason;

async function npyF32(file: string): Promise<{ data: Float32Array; shape: number[] }> {
  const a = await readNpy(file);
  return { data: Float32Array.from(a.data as Float32Array), shape: a.shape };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe.skipIf(skip !== null)(`ONNX commands${skip ? ` (skipped: ${skip})` : ""}`, () => {
  let dir: string;
  beforeAll(async () => {
    process.env.GENESIS_BACKEND = "wasm";
    await initBackend({ backend: "wasm", log: () => {} });
    dir = await mkdtemp(path.join(os.tmpdir(), "genesis-cli-onnx-"));
  });
  afterAll(async () => {
    delete process.env.GENESIS_BACKEND;
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ["unet3d_w4_zip.pt", "batch-statistics", "unet3d_w4_expected_batchstats.npy"],
    ["keras_unet3d_w4_fullmodel.h5", "running-statistics", "keras_unet3d_w4_expected.npy"],
  ])(
    "convert %s --onnx: the file alone reproduces the reference (%s) through ONNX Runtime",
    async (file, bn, expected) => {
      const onnx = path.join(dir, `${file}.onnx`);
      const r = await genesis("convert", path.join(PARITY, file), "--onnx", onnx);
      expect(r.err).toBe("");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`ONNX opset 17, .*BN ${bn}`));
      const { bytes, facts } = await readOnnxFile(onnx);
      expect(facts.graph.graphBnMode).toBe(bn);
      const x = await npyF32(path.join(PARITY, "input_ncdhw.npy"));
      const [n, , d0, d1, d2] = x.shape;
      const engine = await createOnnxEngine(bytes);
      const y = await engine.forward(x.data, [n, d0, d1, d2, 1]);
      await engine.dispose();
      expect(maxAbsDiff(y, (await npyF32(path.join(PARITY, expected))).data)).toBeLessThanOrEqual(1e-4);
    },
  );

  it("export MODEL_DIR writes the model's metadata into metadata_props; predict --in agrees on both engines", async () => {
    const model = path.join(dir, "keras-model");
    expect(
      (
        await genesis(
          "convert",
          path.join(PARITY, "keras_unet3d_w4.h5"),
          "--out",
          model,
          "--spacing",
          "1,1,2",
        )
      ).code,
    ).toBe(0);
    const onnx = path.join(dir, "keras.onnx");
    const r = await genesis("export", model, "--out", onnx);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const loaded = await loadModel(model);
    const facts = parseOnnxBytes(new Uint8Array(await readFile(onnx)), onnx);
    expect(facts.metadata).toEqual(loaded.metadata);
    expect(facts.preprocessing.spacing).toEqual([1, 1, 2]);
    loaded.model.dispose();

    const x = await npyF32(path.join(PARITY, "input_ncdhw.npy"));
    const xPath = path.join(dir, "x.npy");
    await writeNpy(xPath, { data: x.data, shape: [x.shape[0], ...x.shape.slice(2)] });
    const outs: Float32Array[] = [];
    for (const engine of ["tfjs", "onnx"]) {
      const yPath = path.join(dir, `y-${engine}.npy`);
      const p = await genesis("predict", "--model", model, "--in", xPath, "--out", yPath, "--engine", engine);
      expect(p.err).toBe("");
      expect(p.code).toBe(0);
      expect(p.out).toMatch(
        engine === "onnx" ? /on onnxruntime-node [\d.]+ \(cpu\) \(--engine onnx\)/ : /on tfjs \(wasm\)/,
      );
      outs.push((await npyF32(yPath)).data);
    }
    expect(maxAbsDiff(outs[0], outs[1])).toBeLessThanOrEqual(1e-4);

    // The exported file alone: predict --model model.onnx (architecture and metadata from metadata_props).
    const yOnnx = path.join(dir, "y-file.npy");
    const f = await genesis("predict", "--model", onnx, "--in", xPath, "--out", yOnnx);
    expect(f.err).toBe("");
    expect(f.code).toBe(0);
    expect(f.out).toMatch(/BN running-statistics \(fixed in the ONNX graph\)/);
    expect(maxAbsDiff((await npyF32(yOnnx)).data, outs[1])).toBe(0);
    const t = await genesis("predict", "--model", onnx, "--in", xPath, "--out", yOnnx, "--engine", "tfjs");
    expect(t.code).not.toBe(0);
    expect(t.err.trim()).toBe(
      `genesis: --model ${onnx}: an ONNX file runs on --engine onnx; --engine tfjs needs a model directory`,
    );
    const b = await genesis(
      "predict",
      "--model",
      onnx,
      "--in",
      xPath,
      "--out",
      yOnnx,
      "--bn-mode",
      "batch-statistics",
    );
    expect(b.err.trim()).toMatch(
      /^genesis: --bn-mode batch-statistics: .*keras\.onnx was exported with running-statistics BatchNorm/,
    );
  });

  it("predict a whole chest CT: the same mask on both engines (≤ 0.01 % voxels differ)", async () => {
    const model = createModel("genesis-unet3d", { width: 4, seed: 2 });
    // A random network's probabilities crowd around one value (any rounding would flip voxels, and
    // the mask could be all one label): scaling the 1×1×1 head spreads them, as training does.
    const k = (await model.getWeights()).get("out_tr.final_conv.weight")!;
    model.setWeights(
      new Map([["out_tr.final_conv.weight", { shape: k.shape, data: k.data.map((v) => v * 40) }]]),
      {
        allowMissing: () => true,
      },
    );
    const modelDir = path.join(dir, "seg");
    await saveModel(modelDir, model, {
      inferenceBnMode: "running-statistics",
      extra: { patchSize: [32, 32, 16] },
    });
    model.dispose();
    const probs: Float32Array[] = [];
    for (const engine of ["tfjs", "onnx"]) {
      const out = path.join(dir, `prob-${engine}.nii.gz`);
      const r = await genesis(
        "predict",
        "--model",
        modelDir,
        CT64_NII,
        "--out",
        out,
        "--engine",
        engine,
        "--probabilities",
      );
      expect(r.code).toBe(0);
      expect(r.err).toMatch(
        engine === "onnx"
          ? /genesis predict: engine onnxruntime-node/
          : /genesis predict: engine tfjs \(wasm\)/,
      );
      probs.push((await readNifti(out)).data as Float32Array);
    }
    expect(maxAbsDiff(probs[0], probs[1])).toBeLessThanOrEqual(1e-4);
    // Masks by predict's rule (probability ≥ threshold) at a threshold that splits the volume in two.
    const threshold = Float32Array.from(probs[0]).sort()[Math.floor(probs[0].length / 2)];
    let differ = 0;
    let ones = 0;
    for (let i = 0; i < probs[0].length; i++) {
      const a = probs[0][i] >= threshold ? 1 : 0;
      if (a !== (probs[1][i] >= threshold ? 1 : 0)) differ++;
      ones += a;
    }
    expect(ones).toBeGreaterThan(0.3 * probs[0].length);
    expect(ones).toBeLessThan(0.7 * probs[0].length);
    expect(differ / probs[0].length).toBeLessThanOrEqual(1e-4);
  });

  it("bad --engine / --ep / a missing provider are one line", async () => {
    const model = path.join(dir, "keras-model");
    const xPath = path.join(dir, "x.npy");
    const r1 = await genesis(
      "predict",
      "--model",
      model,
      "--in",
      xPath,
      "--out",
      path.join(dir, "o.npy"),
      "--engine",
      "torch",
    );
    expect(r1.code).not.toBe(0);
    expect(r1.err.trim()).toBe('genesis: --engine must be onnx or tfjs, got "torch"');
    const r2 = await genesis(
      "predict",
      "--model",
      model,
      "--in",
      xPath,
      "--out",
      path.join(dir, "o.npy"),
      "--ep",
      "rocm",
    );
    expect(r2.err.trim()).toBe('genesis: --ep must be one of cpu, cuda, tensorrt, got "rocm"');
    // No CUDA provider ships in the npm package: one line says how to get it (where one is installed, it runs).
    const r4 = await genesis(
      "predict",
      "--model",
      model,
      "--in",
      xPath,
      "--out",
      path.join(dir, "o.npy"),
      "--engine",
      "onnx",
      "--ep",
      "cuda",
    );
    if (r4.code !== 0) {
      expect(r4.err.trim().split("\n")).toHaveLength(1);
      expect(r4.err).toMatch(/^genesis: execution provider cuda is not installed here .*or use --ep cpu$/m);
    }
    const r3 = await genesis("export", path.join(dir, "nowhere"), "--out", path.join(dir, "o.onnx"));
    expect(r3.code).not.toBe(0);
    expect(r3.err.trim().split("\n")).toHaveLength(1);
    expect(r3.err).toMatch(/nowhere/);
  });
});
