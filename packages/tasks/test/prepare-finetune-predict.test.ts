/**
 * Data → model → prediction, end to end, on data shipped with the repository (no `../shared`):
 * the runner prepares a task with its real preparation, fine-tunes a width-2 model for one step,
 * and `predictVolume` (`@models-genesis/inference`) applies the record saved with the model.
 *
 * - LCS (resized case): a LiTS-layout folder made of the bundled chest CT
 *   (`apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz`, 64×64×79, real HU, x and y axes
 *   flipped: direction diag(−1, −1, 1)) cut along z into cases 0 / 100 / 115, with a synthetic "liver" mask. The
 *   saved record says resize [0.5, 0.5, 1]; the network must see the CT at half in-plane
 *   resolution (known answer: with the half-pixel mapping a 0.5 scale is the mean of 2×2 voxels),
 *   exactly as the preparation fed it in training, and the mask must come back on the input's grid.
 * - BMS (windowed case): the BMS sample layout (DeepMedic BraTS folders) made of bundled LIDC VOIs;
 *   the record says MRI [−5, 5]; the network must see `clip(v, −5, 5)` scaled to [0, 1], not a CT
 *   window; and the scan is scaled by the record's `resize` 0.64 (training's 100×100×50 crop
 *   resized to the 64×64×32 patch) before the windows slide.
 */
import { copyFile, mkdir, readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { loadVolume, subVolume, writeNiftiAs } from "@models-genesis/datasets";
import { predictVolume } from "@models-genesis/inference";
import { initBackend } from "@models-genesis/kernels";
import { type GenesisUNet, loadModel, type ModelMetadata } from "@models-genesis/models";
import { readVolume, resample, type Vec3, type Volume, windowIntensity } from "@models-genesis/volume-io";
import { beforeAll, describe, expect, it } from "vitest";
import type { PreparedTask } from "../src/app.js";
import { BMS_TASK } from "../src/bms/index.js";
import { finetuneTask } from "../src/finetune.js";
import { LCS_TASK } from "../src/lcs/index.js";
import { runTaskMain } from "../src/main.js";
import { withTmp } from "./shared.js";

const REPO = resolve(__dirname, "../../..");
const CHEST_CT = join(REPO, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");
const VOIS = join(REPO, "apps/cli/sample/lidc-voi");

/** One fine-tuning step of a width-2 model from scratch: the runner's step with a tiny budget. */
const tinyFinetune = (req: Parameters<typeof finetuneTask>[0]) =>
  finetuneTask(req, { epochs: 1, stepsPerEpoch: 1, scratchWidth: 2, batchSize: 2 });

/** Record every forward pass of `model`: the input's shape and values (B, x, y, z, C). */
function spyForward(model: GenesisUNet): { shapes: number[][]; inputs: Float32Array[] } {
  const seen = { shapes: [] as number[][], inputs: [] as Float32Array[] };
  const forward = model.forward.bind(model);
  model.forward = (x, opts) => {
    seen.shapes.push([...x.shape]);
    seen.inputs.push(Float32Array.from(x.dataSync()));
    return forward(x, opts);
  };
  return seen;
}

/** Largest |a − b| over the voxels of grid `g` (x, y, z; z fastest) inside a patch at `start`. */
function patchVsGrid(
  patch: Float32Array,
  size: Vec3,
  start: Vec3,
  g: { data: ArrayLike<number>; shape: readonly number[] },
): { maxDiff: number; inside: number; outsideMax: number } {
  let maxDiff = 0;
  let inside = 0;
  let outsideMax = 0;
  const [, ny, nz] = g.shape;
  for (let i = 0; i < size[0]; i++)
    for (let j = 0; j < size[1]; j++)
      for (let k = 0; k < size[2]; k++) {
        const v = patch[(i * size[1] + j) * size[2] + k];
        const x = start[0] + i;
        const y = start[1] + j;
        const z = start[2] + k;
        if (x < 0 || y < 0 || z < 0 || x >= g.shape[0] || y >= ny || z >= nz) {
          outsideMax = Math.max(outsideMax, Math.abs(v));
          continue;
        }
        maxDiff = Math.max(maxDiff, Math.abs(v - g.data[(x * ny + y) * nz + z]));
        inside++;
      }
  return { maxDiff, inside, outsideMax };
}

function expectSameGeometry(out: Volume, input: Volume): void {
  expect(out.shape).toEqual(input.shape);
  expect(out.spacing).toEqual(input.spacing);
  expect(out.origin).toEqual(input.origin);
  expect(out.direction).toEqual(input.direction);
  expect(out.data.length).toBe(input.shape[0] * input.shape[1] * input.shape[2]);
}

describe("prepare → fine-tune → predictVolume (bundled data)", () => {
  beforeAll(async () => {
    await initBackend({ log: () => {} });
  });

  it("LCS: the record's resize [0.5, 0.5, 1] is applied at prediction as in training, and the mask comes back on the input's grid", async () => {
    await withTmp(async (dir) => {
      // a LiTS layout: the bundled chest CT cut along z into cases 0 (train), 100 (val), 115 (test)
      const data = join(dir, "lits");
      await mkdir(data);
      const ct = await loadVolume(CHEST_CT);
      expect(ct.shape).toEqual([64, 64, 79]);
      const [nx, ny, nz] = ct.shape;
      // synthetic "liver": soft tissue (HU > −300) in the x < 40, 16 ≤ y < 48 box
      const liver: Volume = {
        ...ct,
        kind: "label",
        data: Uint8Array.from(ct.data, (v, i) => {
          const x = Math.floor(i / (ny * nz));
          const y = Math.floor(i / nz) % ny;
          return v > -300 && x < 40 && y >= 16 && y < 48 ? 1 : 0;
        }),
      };
      for (const [n, z0, depth] of [
        [0, 0, 26],
        [100, 26, 26],
        [115, 52, 27],
      ] as const) {
        const size: Vec3 = [nx, ny, depth];
        await writeNiftiAs(join(data, `volume-${n}.nii`), subVolume(ct, [0, 0, z0], size), "int16");
        await writeNiftiAs(join(data, `segmentation-${n}.nii`), subVolume(liver, [0, 0, z0], size), "uint8");
      }
      let prepared: PreparedTask | undefined;
      const out = join(dir, "out");
      const code = await runTaskMain(
        ["node", "lcs", "--data", data, "--out", out, "--quick", "--threads", "1", "--seed", "0"],
        {
          ...LCS_TASK,
          prepare: async (o, s, log) => {
            prepared = await LCS_TASK.prepare(o, s, log);
            return prepared;
          },
          finetune: tinyFinetune,
        },
      );
      expect(code).toBe(0);
      const { model, metadata } = await loadModel(join(out, "model/scratch-run0"));
      try {
        // the saved record is the preparation's
        expect(metadata.preprocessing).toMatchObject({
          modality: "CT",
          window: [-1000, 1000],
          range: [0, 1],
          resize: [0.5, 0.5, 1],
          spacing: null,
          crop: null,
          patchSize: [64, 64, 32],
        });
        expect(metadata.preprocessing).toEqual(prepared?.preprocessing);

        // predict the test case at full resolution (64×64×27, 4.17 mm in-plane, flipped x/y)
        const input = await readVolume(join(data, "volume-115.nii"));
        expect(input.shape).toEqual([64, 64, 27]);
        const seen = spyForward(model);
        const { volume: mask, info } = await predictVolume(model, metadata, input);
        expectSameGeometry(mask, input);
        expect(mask.kind).toBe("label");
        expect(mask.data).toBeInstanceOf(Uint8Array);
        expect(new Set(mask.data).size).toBeLessThanOrEqual(2);
        expect(info.resampled).toBe(true);
        expect(info.modelGridShape).toEqual([32, 32, 27]); // half in-plane, depth kept
        expect(info.preprocessing.resize).toEqual([0.5, 0.5, 1]);
        // one 64×64×32 patch covers the 32×32×27 model grid (the full-resolution grid would also
        // fit one, so the input's values decide): the network saw the half-resolution CT
        expect(seen.shapes).toEqual([[1, 64, 64, 32, 1]]);
        // known answer: a 0.5 scale with the half-pixel mapping samples input x = 2i + 0.5, i.e. the
        // mean of voxels 2i and 2i + 1 (and likewise in y), then the CT window → [0, 1]
        const half = new Float32Array(32 * 32 * 27);
        for (let i = 0; i < 32; i++)
          for (let j = 0; j < 32; j++)
            for (let k = 0; k < 27; k++) {
              let s = 0;
              for (const [a, b] of [
                [0, 0],
                [0, 1],
                [1, 0],
                [1, 1],
              ])
                s += input.data[((2 * i + a) * 64 + 2 * j + b) * 27 + k];
              half[(i * 32 + j) * 27 + k] = Math.min(1, Math.max(0, (s / 4 + 1000) / 2000));
            }
        const vsHalf = patchVsGrid(seen.inputs[0], [64, 64, 32], [0, 0, 0], {
          data: half,
          shape: [32, 32, 27],
        });
        expect(vsHalf.inside).toBe(32 * 32 * 27);
        expect(vsHalf.maxDiff).toBeLessThan(1e-5);
        expect(vsHalf.outsideMax).toBe(0); // padded with the range's lower value
        // … and not the full-resolution CT
        const full = windowIntensity(input.data as ArrayLike<number>, [-1000, 1000]);
        const vsFull = patchVsGrid(seen.inputs[0], [64, 64, 32], [0, 0, 0], {
          data: full,
          shape: input.shape,
        });
        expect(vsFull.maxDiff).toBeGreaterThan(0.1);
        // the same values the preparation put in the test arrays of this case (training = prediction)
        const test = prepared!.folds[0].test;
        expect(test.ids.length).toBe(1);
        const m = /^volume-115#(-?\d+),(-?\d+),(-?\d+)$/.exec(test.ids[0]);
        expect(m).not.toBeNull();
        const start = [Number(m![1]), Number(m![2]), Number(m![3])] as Vec3;
        const vsPrepared = patchVsGrid(test.x.subarray(0, 64 * 64 * 32), [64, 64, 32], start, {
          data: half,
          shape: [32, 32, 27],
        });
        expect(vsPrepared.inside).toBe(32 * 32 * 27);
        expect(vsPrepared.maxDiff).toBeLessThan(1e-5);
        // (windowing before scaling, as the preparation once did, would not: the clipped air and
        // bone of this CT average differently)
        const windowFirst = new Float32Array(32 * 32 * 27);
        const unit = (hu: number) => Math.min(1, Math.max(0, (hu + 1000) / 2000));
        for (let i = 0; i < 32; i++)
          for (let j = 0; j < 32; j++)
            for (let k = 0; k < 27; k++) {
              const at = (a: number, b: number) => unit(input.data[((2 * i + a) * 64 + 2 * j + b) * 27 + k]);
              windowFirst[(i * 32 + j) * 27 + k] = (at(0, 0) + at(0, 1) + at(1, 0) + at(1, 1)) / 4;
            }
        const vsWindowFirst = patchVsGrid(seen.inputs[0], [64, 64, 32], [0, 0, 0], {
          data: windowFirst,
          shape: [32, 32, 27],
        });
        expect(vsWindowFirst.maxDiff).toBeGreaterThan(0.005);

        // the way back: the probabilities on the input grid are the half-resolution prediction
        // upsampled with the same half-pixel mapping (input x ↔ model-grid x / 2 − 0.25)
        const probs = await predictVolume(model, metadata, input, { output: "probabilities" });
        expectSameGeometry(probs.volume, input);
        const onHalf = await predictVolume(
          model,
          { ...metadata, preprocessing: { ...metadata.preprocessing, resize: null } },
          { ...input, shape: [32, 32, 27], data: half.map((v) => v * 2000 - 1000) },
          { output: "probabilities" },
        );
        expect(onHalf.info.resampled).toBe(false);
        const p = probs.volume.data as Float32Array;
        const q = onHalf.volume.data as Float32Array;
        // input voxel (2i + 1, 2j + 1, k) sits at model-grid (i + 0.25, j + 0.25, k): weights ¾, ¼
        let worst = 0;
        for (let i = 0; i < 31; i++)
          for (let j = 0; j < 31; j++)
            for (let k = 0; k < 27; k++) {
              const at = (a: number, b: number) => q[((i + a) * 32 + j + b) * 27 + k];
              const want =
                0.75 * 0.75 * at(0, 0) + 0.75 * 0.25 * (at(1, 0) + at(0, 1)) + 0.25 * 0.25 * at(1, 1);
              worst = Math.max(worst, Math.abs(p[((2 * i + 1) * 64 + 2 * j + 1) * 27 + k] - want));
            }
        expect(worst).toBeLessThan(1e-4);
      } finally {
        model.dispose();
      }
    });
  });

  it("BMS: the record's MRI window [−5, 5] is what prediction applies (a CT window would differ)", async () => {
    await withTmp(async (dir) => {
      // the BMS sample layout (DeepMedic BraTS folders) made of bundled LIDC VOIs
      const shared = join(dir, "shared");
      const names = (await readdir(join(VOIS, "image"))).sort().slice(0, 6);
      for (const [k, name] of names.entries()) {
        const part = k < 3 ? "train" : k < 4 ? "validation" : "test";
        const caseDir = join(shared, "mri/brats2015_deepmedic", part, `case${k}`);
        await mkdir(caseDir, { recursive: true });
        await copyFile(join(VOIS, "image", name), join(caseDir, "Flair_subtrMeanDivStd.nii.gz"));
        await copyFile(join(VOIS, "image", name), join(caseDir, "T1c_subtrMeanDivStd.nii.gz"));
        await copyFile(join(VOIS, "mask", name), join(caseDir, "OTMultiClass.nii.gz"));
      }
      const out = join(dir, "out");
      const code = await runTaskMain(["node", "bms", "--out", out, "--quick", "--threads", "1"], {
        ...BMS_TASK,
        prepare: (o, _sampleData, log) => BMS_TASK.prepare(o, shared, log),
        finetune: tinyFinetune,
      });
      expect(code).toBe(0);
      const { model, metadata } = await loadModel(join(out, "model/scratch-run0"));
      try {
        expect(metadata.preprocessing).toMatchObject({
          modality: "MRI",
          window: [-5, 5],
          range: [0, 1],
          resize: [0.64, 0.64, 0.64],
          spacing: null,
          crop: [100, 100, 50],
          patchSize: [64, 64, 32],
        });
        // an MRI-like volume of z-scores in about [−8, 8], 40×48×24 voxels, 0.9 mm, moved origin
        const shape: Vec3 = [40, 48, 24];
        const data = new Float32Array(shape[0] * shape[1] * shape[2]);
        for (let i = 0; i < data.length; i++) data[i] = 8 * Math.sin(i * 0.37) * Math.cos(i * 0.011);
        const input: Volume = {
          data,
          shape,
          spacing: [0.9, 0.9, 1.5],
          origin: [-12, 30, 7],
          direction: [
            [-1, 0, 0],
            [0, -1, 0],
            [0, 0, 1],
          ],
          channels: 1,
          kind: "intensity",
          meta: {},
        };
        const seen = spyForward(model);
        const { volume: mask, info } = await predictVolume(model, metadata, input);
        expectSameGeometry(mask, input);
        // the record's scale: the whole scan × 0.64 (the 100×100×50 crop → 64×64×32 of training)
        const scaled = resample(input, { scale: [0.64, 0.64, 0.64] });
        expect(info.resampled).toBe(true);
        expect(info.modelGridShape).toEqual(scaled.shape);
        expect(scaled.shape).toEqual([26, 31, 15]);
        expect(info.preprocessing.window).toEqual([-5, 5]);
        expect(info.preprocessing.modality).toBe("MRI");
        expect(seen.shapes).toEqual([[1, 64, 64, 32, 1]]);
        // known answer: the scaled scan clipped to [−5, 5], then (v + 5) / 10
        const z = scaled.data as ArrayLike<number>;
        const mri = Float32Array.from(z, (v) => (Math.min(5, Math.max(-5, v)) + 5) / 10);
        const vsMri = patchVsGrid(seen.inputs[0], [64, 64, 32], [0, 0, 0], {
          data: mri,
          shape: scaled.shape,
        });
        expect(vsMri.inside).toBe(mri.length);
        expect(vsMri.maxDiff).toBeLessThan(1e-6);
        expect(vsMri.outsideMax).toBe(0);
        // a CT-windowed path ([−1000, 1000]: every z-score ≈ 0.5) would feed something else
        const ct = Float32Array.from(z, (v) => (v + 1000) / 2000);
        const vsCt = patchVsGrid(seen.inputs[0], [64, 64, 32], [0, 0, 0], { data: ct, shape: scaled.shape });
        expect(vsCt.maxDiff).toBeGreaterThan(0.4);
        // and predictVolume itself, given a CT record, feeds the CT window: the record decides
        const ctMeta = {
          ...metadata,
          preprocessing: {
            ...metadata.preprocessing,
            modality: "CT" as const,
            window: [-1000, 1000] as const,
          },
        } as ModelMetadata;
        await predictVolume(model, ctMeta, input);
        expect(seen.shapes.length).toBe(2);
        expect(
          patchVsGrid(seen.inputs[1], [64, 64, 32], [0, 0, 0], { data: ct, shape: scaled.shape }).maxDiff,
        ).toBeLessThan(1e-6);
      } finally {
        model.dispose();
      }
    });
  });
});
