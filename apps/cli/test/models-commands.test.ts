/**
 * @vitest-environment node
 * `genesis convert` + `genesis predict` reproduce the parity fixtures; `genesis models` lists the zoo.
 * Runs on wasm (GENESIS_BACKEND), the fast backend; the library parity suite covers cpu.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { readNpy, writeNpy } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { genesis } from "./run-cli.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/** The parity fixtures shipped in the repository (fixtures/PROVENANCE.md). */
const PARITY = path.join(repoRoot, "fixtures", "parity");
const fx = (f: string) => path.join(PARITY, f);

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("genesis models", () => {
  it("lists the three zoo entries with their parameter counts", async () => {
    const r = await genesis("models", "--json");
    expect(r.code).toBe(0);
    const zoo = JSON.parse(r.out) as { id: string; params: number }[];
    expect(zoo.map((z) => [z.id, z.params])).toEqual([
      ["genesis-unet3d", 19_073_665],
      ["genesis-unet3d-keras", 16_320_257],
      ["genesis-unet2d", expect.any(Number)],
    ]);
    const text = await genesis("models");
    expect(text.out).toContain("genesis-unet3d-keras");
    expect(text.out).toContain("19,073,665 parameters");
  });
});

describe("genesis convert + predict (parity fixtures)", () => {
  let dir: string;
  let xPath: string;
  const prevBackend = process.env.GENESIS_BACKEND;
  beforeAll(async () => {
    process.env.GENESIS_BACKEND = "wasm";
    dir = mkdtempSync(path.join(tmpdir(), "genesis-cli-models-"));
    // The fixture input is NCDHW (2, 1, 32, 32, 16); predict takes (N, rows, cols, deps).
    const x = await readNpy(fx("input_ncdhw.npy"));
    xPath = path.join(dir, "x.npy");
    await writeNpy(xPath, { data: x.data as Float32Array, shape: [x.shape[0], ...x.shape.slice(2)] });
  });
  afterAll(() => {
    if (prevBackend === undefined) delete process.env.GENESIS_BACKEND;
    else process.env.GENESIS_BACKEND = prevBackend;
    rmSync(dir, { recursive: true, force: true });
  });

  const cases = [
    ["unet3d_w4_zip.pt", [], "unet3d_w4_expected_batchstats.npy"],
    ["unet3d_w4_legacy.pt", [], "unet3d_w4_expected_batchstats.npy"],
    ["unet3d_w4_zip.pt", ["--bn-mode", "running-statistics"], "unet3d_w4_expected_runningstats.npy"],
    ["unet3d_w4_legacy.pt", ["--bn-mode", "running-statistics"], "unet3d_w4_expected_runningstats.npy"],
    ["keras_unet3d_w4.h5", [], "keras_unet3d_w4_expected.npy"],
    ["keras_unet3d_w4_fullmodel.h5", [], "keras_unet3d_w4_expected.npy"],
  ] as const;

  it.each(cases)("%s %j reproduces %s to 1e-4", async (file, extra, expected) => {
    const model = path.join(dir, `${file}-${extra.join("")}`);
    const c = await genesis("convert", fx(file), "--out", model, ...extra);
    expect(c.err).toBe("");
    expect(c.code).toBe(0);
    expect(c.out).toContain("width 4");
    const meta = JSON.parse(await readFile(path.join(model, "model.json"), "utf8"));
    expect(meta.userDefinedMetadata.modelsGenesis.preprocessing).toMatchObject({
      modality: "CT",
      window: [-1000, 1000],
      range: [0, 1],
      patchSize: [64, 64, 32],
    });
    expect(meta.userDefinedMetadata.modelsGenesis.preprocessing.source).toMatch(/Genesis_Chest_CT\.(pt|h5)/);
    const yPath = path.join(model, "y.npy");
    // Batch statistics were computed over the fixture's batch of 2.
    const p = await genesis("predict", "--model", model, "--in", xPath, "--out", yPath, "--batch-size", "2");
    expect(p.err).toBe("");
    expect(p.code).toBe(0);
    const y = await readNpy(yPath);
    const e = await readNpy(fx(expected));
    expect(y.shape).toEqual([2, 32, 32, 16]);
    expect(maxAbsDiff(y.data as Float32Array, e.data as Float32Array)).toBeLessThanOrEqual(1e-4);
  });

  it("predict --bn-mode overrides the stored mode", async () => {
    const model = path.join(dir, "override");
    expect((await genesis("convert", fx("unet3d_w4_zip.pt"), "--out", model)).code).toBe(0);
    const yPath = path.join(model, "y.npy");
    const args = [
      "predict",
      "--model",
      model,
      "--in",
      xPath,
      "--out",
      yPath,
      "--bn-mode",
      "running-statistics",
    ];
    expect((await genesis(...args)).code).toBe(0);
    const y = await readNpy(yPath);
    const e = await readNpy(fx("unet3d_w4_expected_runningstats.npy"));
    expect(maxAbsDiff(y.data as Float32Array, e.data as Float32Array)).toBeLessThanOrEqual(1e-4);
  });

  it("--preprocess window maps HU [-1000, 1000] to [0, 1] before the network", async () => {
    const model = path.join(dir, "hu");
    const c = await genesis(
      "convert",
      fx("keras_unet3d_w4_fullmodel.h5"),
      "--out",
      model,
      "--spacing",
      "0.7,0.7,1.25",
    );
    expect(c.code).toBe(0);
    const meta = JSON.parse(await readFile(path.join(model, "model.json"), "utf8")).userDefinedMetadata
      .modelsGenesis;
    expect(meta).toMatchObject({
      id: "genesis-unet3d-keras",
      preprocessing: { spacing: [0.7, 0.7, 1.25], window: [-1000, 1000] },
      bnMode: "running-statistics",
    });
    expect(meta.provenance.format).toBe("keras-h5-whole-model");
    const x = await readNpy(xPath);
    const hu = Float32Array.from(x.data as Float32Array, (v) => v * 2000 - 1000);
    const huPath = path.join(dir, "hu.npy");
    await writeNpy(huPath, { data: hu, shape: x.shape });
    const yPath = path.join(model, "y.npy");
    expect(
      (await genesis("predict", "--model", model, "--in", huPath, "--out", yPath, "--preprocess", "window"))
        .code,
    ).toBe(0);
    const y = await readNpy(yPath);
    const e = await readNpy(fx("keras_unet3d_w4_expected.npy"));
    expect(maxAbsDiff(y.data as Float32Array, e.data as Float32Array)).toBeLessThanOrEqual(1e-4);
  });

  it("convert --head classification keeps the encoder and predicts (N, n)", async () => {
    const model = path.join(dir, "cls");
    const c = await genesis(
      "convert",
      fx("unet3d_w4_legacy.pt"),
      "--out",
      model,
      "--head",
      "classification",
      "--n-classes",
      "2",
    );
    expect(c.code).toBe(0);
    expect(c.out).toContain("classification head (2 sigmoid)");
    const yPath = path.join(model, "y.npy");
    expect((await genesis("predict", "--model", model, "--in", xPath, "--out", yPath)).code).toBe(0);
    expect((await readNpy(yPath)).shape).toEqual([2, 2]);
  });

  it("reports bad inputs as one line naming the file", async () => {
    const model = path.join(dir, "bad");
    expect((await genesis("convert", fx("unet3d_w4_zip.pt"), "--out", model)).code).toBe(0);
    const odd = path.join(dir, "odd.npy");
    await writeNpy(odd, { data: new Float32Array(12 * 8 * 8), shape: [1, 12, 8, 8] });
    const r = await genesis("predict", "--model", model, "--in", odd, "--out", path.join(dir, "o.npy"));
    expect(r.code).toBe(1);
    expect(r.err).toBe(`genesis: ${odd}: every spatial size must be a multiple of 8, got (12, 8, 8)\n`);
    const notWeights = await genesis("convert", xPath, "--out", path.join(dir, "nw"));
    expect(notWeights.code).toBe(1);
    expect(notWeights.err).toContain(xPath);
  });
});
