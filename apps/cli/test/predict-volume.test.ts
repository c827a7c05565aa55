/**
 * @vitest-environment node
 * Whole-volume inference (`predictVolume`, `genesis predict <volume>`) on real CT shipped in
 * apps/cli/sample and a shipped DICOM slice (the 79-slice DICOM case needs ../shared) with width-4 models on the wasm backend
 * (≈ 0.9 s per 64×64×32 patch here).
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { predictVolume } from "@models-genesis/inference";
import { initBackend } from "@models-genesis/kernels";
import {
  createModel,
  type GenesisUNet,
  loadModel,
  type ModelMetadata,
  saveModel,
  upgradeMetadata,
} from "@models-genesis/models";
import { gridPatchCorners, PatchStitcher, type Shape3 } from "@models-genesis/transforms";
import {
  affineOf,
  readNifti,
  readVolume,
  resample,
  resampleArray,
  type Vec3,
  type Volume,
  writeNifti,
} from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { predictArray } from "../src/commands/predict.js";
import { genesis } from "./run-cli.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SHARED = process.env.GENESIS_SHARED_DIR ?? path.resolve(repoRoot, "../shared");
/** COPDGene 10002K chest CT (64×64×79), shipped in apps/cli/sample (same bytes as the shared ct64 NIfTI). */
const CT64_NII = path.join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");
/** The DICOM series (79 files) of the same scan: only in ../shared, not shipped with the repository. */
const CT64_DICOM = path.join(SHARED, "data/ct/chest_copdgene_cip_ct64/dicom");
/** A one-slice CT DICOM file shipped in fixtures/volume-io (pydicom's CT_small.dcm, MIT). */
const CT_SMALL_DCM = path.join(repoRoot, "fixtures/volume-io/formats/dicom/pydicom/CT_small.dcm");
/** LIDC-IDRI nodule VOIs shipped in apps/cli/sample. */
const LIDC = path.join(repoRoot, "apps/cli/sample/lidc-voi/image");

/** The box [start, start + size) of a scalar volume with its geometry (origin moved to `start`). */
function crop(vol: Volume, start: Vec3, size: Vec3): Volume<Float32Array> {
  const [, ny, nz] = vol.shape;
  const data = new Float32Array(size[0] * size[1] * size[2]);
  let k = 0;
  for (let x = 0; x < size[0]; x++)
    for (let y = 0; y < size[1]; y++)
      for (let z = 0; z < size[2]; z++)
        data[k++] = vol.data[((start[0] + x) * ny + start[1] + y) * nz + start[2] + z] as number;
  const origin = [0, 1, 2].map(
    (r) => vol.origin[r] + [0, 1, 2].reduce((s, c) => s + vol.direction[r][c] * vol.spacing[c] * start[c], 0),
  ) as Vec3;
  return { ...vol, data, shape: [...size] as Vec3, origin };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function expectSameGeometry(out: Volume, ref: Volume): void {
  expect(out.shape).toEqual(ref.shape);
  const A = affineOf(out);
  const B = affineOf(ref);
  for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) expect(A[r][c]).toBeCloseTo(B[r][c], 4);
}

describe("patch helpers", () => {
  it("the grid sampler gives every voxel of an odd-sized volume a weight", () => {
    for (const [shape, patch] of [
      [
        [37, 45, 23],
        [16, 16, 8],
      ],
      [
        [37, 45, 23],
        [64, 64, 32],
      ],
      [
        [65, 9, 33],
        [64, 8, 32],
      ],
    ] as [Shape3, Shape3][]) {
      const s = new PatchStitcher(shape, patch);
      const ones = new Float32Array(patch[0] * patch[1] * patch[2]).fill(1);
      for (const c of gridPatchCorners(shape, patch, 0.5)) s.add(c, ones);
      // the blend of all-ones patches is 1 where covered and 0 where no patch reached
      expect(Math.min(...s.result())).toBe(1);
    }
  });

  it("a model's record carries its patch size (format-1 models: extra.patchSize, else 64×64×32)", () => {
    expect(upgradeMetadata({}, "model.json").preprocessing.patchSize).toEqual([64, 64, 32]);
    const old = { extra: { finetuning: { inputSize: [64, 64, 64] } } } as Record<string, unknown>;
    expect(upgradeMetadata(old, "model.json").preprocessing.patchSize).toEqual([64, 64, 64]);
    expect(
      upgradeMetadata({ extra: { patchSize: [32, 32, 16] } }, "model.json").preprocessing.patchSize,
    ).toEqual([32, 32, 16]);
  });
});

describe("whole-volume predict on real CT", () => {
  let dir: string;
  let modelDir: string;
  let model: GenesisUNet;
  let metadata: ModelMetadata;
  let ct: Volume;

  beforeAll(async () => {
    await initBackend({ backend: "wasm", log: () => {} });
    dir = mkdtempSync(path.join(tmpdir(), "genesis-predict-volume-"));
    modelDir = path.join(dir, "model");
    const m = createModel("genesis-unet3d", { width: 4, seed: 7 });
    await saveModel(modelDir, m);
    m.dispose();
    ({ model, metadata } = await loadModel(modelDir));
    ct = await readVolume(CT64_NII);
  });

  afterAll(() => {
    model?.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("genesis predict writes a label map and probabilities in the input's geometry (64×64×79 chest CT)", async () => {
    const input = CT64_NII;
    const maskFile = path.join(dir, "mask.nii.gz");
    const r = await genesis("predict", "--model", modelDir, input, "--out", maskFile, "--backend", "wasm");
    expect(r.err).toContain("predict: 4/4 patches");
    expect(r.code).toBe(0);
    expect(r.out).toContain("4 patches 64×64×32");
    const mask = await readNifti(maskFile);
    expectSameGeometry(mask, ct);
    expect(mask.data).toBeInstanceOf(Uint8Array);
    expect(mask.channels).toBe(1);
    expect([...new Set(mask.data)].every((v) => v === 0 || v === 1)).toBe(true);

    const probFile = path.join(dir, "prob.nii.gz");
    const rp = await genesis(
      "predict",
      "--model",
      modelDir,
      input,
      "--out",
      probFile,
      "--probabilities",
      "--backend",
      "wasm",
    );
    expect(rp.code).toBe(0);
    const prob = await readNifti(probFile);
    expectSameGeometry(prob, ct);
    expect(prob.data).toBeInstanceOf(Float32Array);
    let lo = 1;
    let hi = 0;
    for (const v of prob.data as Float32Array) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    // sigmoid output: strictly inside (0, 1) everywhere, i.e. every voxel was covered
    expect(lo).toBeGreaterThan(0);
    expect(hi).toBeLessThan(1);
    // the label map is the probability map thresholded at 0.5
    let disagree = 0;
    for (let i = 0; i < mask.data.length; i++) if ((prob.data[i] >= 0.5 ? 1 : 0) !== mask.data[i]) disagree++;
    expect(disagree).toBe(0);
  });

  it("reads a DICOM folder and writes the mask in the series' geometry (shipped pydicom CT slice, 128×128×1)", async () => {
    // a series folder as a scanner writes it: one slice, no extension (fixtures/volume-io, MIT)
    const series = path.join(dir, "dicom-series");
    mkdirSync(series);
    copyFileSync(CT_SMALL_DCM, path.join(series, "IM0001"));
    const ref = await readVolume(series);
    expect(ref.shape).toEqual([128, 128, 1]);
    const out = path.join(dir, "dicom-slice-mask.nii");
    const r = await genesis("predict", "--model", modelDir, series, "--out", out, "--backend", "wasm");
    expect(r.code).toBe(0);
    const mask = await readNifti(out);
    expectSameGeometry(mask, ref);
    expect(mask.data.every((v) => v === 0 || v === 1)).toBe(true); // a label map
  });

  it.skipIf(!existsSync(CT64_DICOM))(
    "reads a 79-slice DICOM folder and writes the mask in the series' geometry (needs ../shared: the series is not shipped)",
    async () => {
      const dcm = CT64_DICOM;
      const series = await readVolume(dcm);
      const out = path.join(dir, "dicom-mask.nii");
      const r = await genesis("predict", "--model", modelDir, dcm, "--out", out, "--backend", "wasm");
      expect(r.code).toBe(0);
      const mask = await readNifti(out);
      expectSameGeometry(mask, series);
    },
  );

  it("a patch-size input gives the array predict's output on the windowed array (1e-5)", async () => {
    const cube = crop(ct, [0, 0, 24], [64, 64, 32]);
    const { volume: y, info } = await predictVolume(model, metadata, cube, { output: "probabilities" });
    expect(info.patches).toBe(1);
    const ref = await predictArray(
      model,
      metadata,
      { data: cube.data, shape: [1, 64, 64, 32] },
      {
        preprocess: "window",
      },
    );
    expect(ref.shape).toEqual([1, 64, 64, 32]);
    expect(maxAbsDiff(y.data as Float32Array, ref.data)).toBeLessThan(1e-5);
    // and not trivially: the prediction varies over the cube
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (const v of ref.data) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(hi - lo).toBeGreaterThan(1e-3);
  });

  it("covers an odd-sized volume completely (37×45×23, 16×16×8 patches, batches of 3)", async () => {
    const vol = crop(ct, [11, 7, 30], [37, 45, 23]);
    const seen: number[] = [];
    const { volume: y, info } = await predictVolume(model, metadata, vol, {
      output: "probabilities",
      patchSize: [16, 16, 8],
      batchSize: 3,
      onProgress: (done) => seen.push(done),
    });
    expect(info.patches).toBe(gridPatchCorners([37, 45, 23], [16, 16, 8], 0.5).length);
    expect(seen[seen.length - 1]).toBe(info.patches);
    expectSameGeometry(y, vol);
    // sigmoid probabilities are > 0; an uncovered voxel would be exactly 0
    expect((y.data as Float32Array).reduce((m, v) => Math.min(m, v), 1)).toBeGreaterThan(0);
  });

  it("segments LIDC nodule VOIs smaller than a patch in the input's geometry", async () => {
    const files = readdirSync(LIDC)
      .filter((f) => f.endsWith(".nii.gz"))
      .sort()
      .slice(0, 2);
    expect(files.length).toBe(2);
    for (const f of files) {
      const voi = await readVolume(path.join(LIDC, f));
      const { volume: y } = await predictVolume(model, metadata, voi, { patchSize: [32, 32, 16] });
      expectSameGeometry(y, voi);
      expect(y.kind).toBe("label");
      expect(y.data).toBeInstanceOf(Uint8Array);
    }
  });

  it("resamples to the model's spacing and back (round trip to the input grid)", async () => {
    const vol = crop(ct, [10, 10, 20], [20, 18, 14]);
    const half = vol.spacing.map((s) => s / 2);
    const md: ModelMetadata = {
      ...metadata,
      preprocessing: { ...metadata.preprocessing, spacing: half as [number, number, number] },
    };
    const { volume: y, info } = await predictVolume(model, md, vol, {
      output: "probabilities",
      patchSize: [16, 16, 8],
    });
    expect(info.resampled).toBe(true);
    expect(info.modelGridShape).toEqual([40, 36, 28]);
    expectSameGeometry(y, vol);
    // the same pipeline by hand: resample, predict at the model spacing, sample back at the input voxels
    const fine = resample(vol, { spacing: half });
    const { volume: yFine, info: fineInfo } = await predictVolume(
      model,
      { ...metadata, preprocessing: { ...metadata.preprocessing, spacing: null } },
      fine,
      {
        output: "probabilities",
        patchSize: [16, 16, 8],
      },
    );
    expect(fineInfo.resampled).toBe(false);
    const back = resampleArray(yFine.data as Float32Array, fine.shape, vol.shape, {
      mapping: "origin",
      step: [0, 1, 2].map((k) => vol.spacing[k] / fine.spacing[k]) as Vec3,
    });
    expect(maxAbsDiff(y.data as Float32Array, back)).toBeLessThan(1e-6);
    // input voxel i sits on fine voxel 2i: the output there is the fine prediction itself
    const [, fy, fz] = fine.shape;
    const [, ny, nz] = vol.shape;
    for (const [x, yy, z] of [
      [0, 0, 0],
      [3, 5, 7],
      [19, 17, 13],
    ]) {
      expect(y.data[(x * ny + yy) * nz + z]).toBeCloseTo(
        yFine.data[(2 * x * fy + 2 * yy) * fz + 2 * z] as number,
        6,
      );
    }
    // the metadata spacing equal to the volume's means no resampling
    const same = await predictVolume(
      model,
      { ...metadata, preprocessing: { ...metadata.preprocessing, spacing: [...vol.spacing] as Vec3 } },
      vol,
      {
        patchSize: [16, 16, 8],
      },
    );
    expect(same.info.resampled).toBe(false);
  });

  it("softmax heads give an argmax label map; multi-channel probabilities keep one channel per class", async () => {
    const m3 = createModel("genesis-unet3d", {
      width: 4,
      seed: 3,
      head: { kind: "segmentation", nClasses: 3, activation: "softmax" },
    });
    try {
      const vol = crop(ct, [0, 0, 0], [24, 20, 12]);
      const opts = { patchSize: [16, 16, 8] as Shape3 };
      const p = await predictVolume(m3, metadata, vol, { ...opts, output: "probabilities" });
      expect(p.volume.channels).toBe(3);
      const l = await predictVolume(m3, metadata, vol, opts);
      expect(l.volume.channels).toBe(1);
      const pd = p.volume.data as Float32Array;
      for (let i = 0; i < l.volume.data.length; i++) {
        const probs = [pd[i * 3], pd[i * 3 + 1], pd[i * 3 + 2]];
        expect(probs[l.volume.data[i] as number]).toBe(Math.max(...probs));
      }
      expect(Math.abs(pd[0] + pd[1] + pd[2] - 1)).toBeLessThan(1e-5);
    } finally {
      m3.dispose();
    }
  });

  it("2-D (slice-wise) models predict each axial slice as the array predict does", async () => {
    const m2 = createModel("genesis-unet2d", { width: 4, seed: 5 });
    try {
      const vol = crop(ct, [8, 8, 30], [16, 24, 3]);
      const { volume: y, info } = await predictVolume(m2, metadata, vol, {
        output: "probabilities",
        patchSize: [16, 24, 32],
      });
      expect(info.patchSize).toEqual([16, 24, 1]);
      expect(info.patches).toBe(3);
      expectSameGeometry(y, vol);
      // the same slices as an array (N = z, rows, cols)
      const [nx, ny, nz] = vol.shape;
      const slices = new Float32Array(nx * ny * nz);
      for (let z = 0; z < nz; z++)
        for (let i = 0; i < nx * ny; i++) slices[z * nx * ny + i] = vol.data[i * nz + z];
      const ref = await predictArray(
        m2,
        metadata,
        { data: slices, shape: [nz, nx, ny] },
        { preprocess: "window" },
      );
      const back = new Float32Array(nx * ny * nz);
      for (let z = 0; z < nz; z++)
        for (let i = 0; i < nx * ny; i++) back[i * nz + z] = ref.data[z * nx * ny + i];
      expect(maxAbsDiff(y.data as Float32Array, back)).toBeLessThan(1e-5);
    } finally {
      m2.dispose();
    }
  });

  it("bad input gives a clear error naming the file", async () => {
    const missing = path.join(dir, "no-such-volume.nii.gz");
    const r1 = await genesis("predict", "--model", modelDir, missing, "--out", path.join(dir, "o.nii.gz"));
    expect(r1.code).toBe(1);
    expect(r1.err).toContain(missing);

    const junk = path.join(dir, "junk.nii.gz");
    writeFileSync(junk, "this is not a NIfTI file");
    const r2 = await genesis("predict", "--model", modelDir, junk, "--out", path.join(dir, "o.nii.gz"));
    expect(r2.code).toBe(1);
    expect(r2.err).toContain(junk);

    const r3 = await genesis(
      "predict",
      "--model",
      modelDir,
      CT64_NII,
      "--out",
      path.join(dir, "o.nii.gz"),
      "--patch-size",
      "60x64x32",
    );
    expect(r3.code).toBe(1);
    expect(r3.err).toMatch(/multiples of 8/);
    const both = ["--patch-size", "16x16x8", "--patch", "16,16,8"];
    const r3b = await genesis(
      "predict",
      "--model",
      modelDir,
      CT64_NII,
      "--out",
      path.join(dir, "o.nii.gz"),
      ...both,
    );
    expect(r3b.code).toBe(1);
    expect(r3b.err).toContain("--patch is a deprecated alias of --patch-size; give only --patch-size");

    const r4 = await genesis("predict", "--model", modelDir, CT64_NII, "--out", "o.npy");
    expect(r4.code).toBe(1);
    expect(r4.err).toContain(".nii");

    const r5 = await genesis("predict", "--model", modelDir, "--out", path.join(dir, "o.nii.gz"));
    expect(r5.code).toBe(1);
    expect(r5.err).toContain("nothing to predict");

    // a label map (air below −400 HU, as a lung mask marks it) is refused, and named
    const label: Volume = { ...ct, data: Uint8Array.from(ct.data, (v) => (v < -400 ? 1 : 0)), kind: "label" };
    await expect(predictVolume(model, metadata, label, { source: "lung_mask.nii.gz" })).rejects.toThrow(
      /lung_mask\.nii\.gz.*label map/,
    );
  });

  it("array mode still runs (--in x.npy --out y.npy)", async () => {
    const { writeNpy, readNpy } = await import("@models-genesis/volume-io");
    const cube = crop(ct, [0, 0, 0], [16, 16, 8]);
    const x = path.join(dir, "x.npy");
    const yFile = path.join(dir, "y.npy");
    await writeNpy(x, { data: cube.data, shape: [1, 16, 16, 8] });
    const r = await genesis(
      "predict",
      "--model",
      modelDir,
      "--in",
      x,
      "--out",
      yFile,
      "--preprocess",
      "window",
      "--backend",
      "wasm",
    );
    expect(r.code).toBe(0);
    const y = await readNpy(yFile);
    expect(y.shape).toEqual([1, 16, 16, 8]);
    const lib = await predictVolume(model, metadata, cube, {
      output: "probabilities",
      patchSize: [16, 16, 8],
    });
    expect(maxAbsDiff(y.data as Float32Array, lib.volume.data as Float32Array)).toBeLessThan(1e-5);
    // write a NIfTI of the cube for the volume mode and compare the CLI against the library
    const cubeFile = path.join(dir, "cube.nii.gz");
    await writeNifti(cubeFile, cube);
    const probFile = path.join(dir, "cube-prob.nii.gz");
    const rv = await genesis(
      "predict",
      "--model",
      modelDir,
      cubeFile,
      "--out",
      probFile,
      "--probabilities",
      "--patch",
      "16,16,8", // the deprecated alias: one warning line, same result
      "--backend",
      "wasm",
    );
    expect(rv.code).toBe(0);
    expect(rv.err.split("\n").filter((l) => l.includes("deprecated"))).toEqual([
      "genesis predict: warning: --patch is deprecated, use --patch-size",
    ]);
    const prob = await readNifti(probFile);
    expect(maxAbsDiff(prob.data as Float32Array, y.data as Float32Array)).toBeLessThan(1e-5);
  });
});
