import { initBackend } from "@models-genesis/kernels";
import { createModel } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type CubeSet,
  genesisSliceSource,
  meanOverSlices,
  predictArrays,
  predictSlicewise,
  Rng,
  repeatPerSlice,
  sliceAxial,
  sliceSplit,
  stackSlices,
} from "../src/index.js";

beforeAll(async () => {
  await initBackend({ backend: "wasm", log: () => {} });
});

/** Distinct values: voxel (i, r, c, d, ch) of n patches (rows, cols, deps, C) holds a code of its indices. */
function coded(n: number, [R, C, D]: [number, number, number], ch: number): Float32Array {
  const a = new Float32Array(n * R * C * D * ch);
  let o = 0;
  for (let i = 0; i < n; i++)
    for (let r = 0; r < R; r++)
      for (let c = 0; c < C; c++)
        for (let d = 0; d < D; d++)
          for (let k = 0; k < ch; k++) a[o++] = i * 10000 + r * 1000 + c * 100 + d * 10 + k;
  return a;
}

describe("axial slicing", () => {
  it("slice i·deps + d holds depth d of patch i, (rows, cols, C) in C order; stacking inverts it", () => {
    const shape: [number, number, number] = [3, 4, 5];
    for (const ch of [1, 2]) {
      const x = coded(2, shape, ch);
      const s = sliceAxial(x, 2, shape, ch);
      // patch 1, depth 3, row 2, col 1, channel ch-1
      const plane = 3 * 4 * ch;
      expect(s[(1 * 5 + 3) * plane + (2 * 4 + 1) * ch + (ch - 1)]).toBe(10000 + 2000 + 100 + 30 + (ch - 1));
      expect(stackSlices(s, 2, shape, ch)).toEqual(x);
    }
    expect(() => sliceAxial(new Float32Array(7), 1, shape)).toThrow(/7 values are not 1 × 60/);
  });

  it("labels repeat per slice; a patch's score is the mean of its slices' probabilities", () => {
    expect(Array.from(repeatPerSlice([1, 0], 2, 1, 3))).toEqual([1, 1, 1, 0, 0, 0]);
    const probs = [0.1, 0.2, 0.6, 0.9, 0.5, 0.4];
    expect(Array.from(meanOverSlices(probs, 2, 3))).toEqual([
      Math.fround(0.3),
      Math.fround((0.9 + 0.5 + 0.4) / 3),
    ]);
    // two output columns: means per column
    const two = meanOverSlices([0.2, 1, 0.4, 0], 1, 2, 2);
    expect(two[0]).toBeCloseTo(0.3, 6);
    expect(two[1]).toBeCloseTo(0.5, 6);
  });

  it("sliceSplit: image slice → mask slice (segmentation), slice → its patch's label (classification)", () => {
    const shape: [number, number, number] = [8, 8, 4];
    const x = coded(3, shape, 1);
    const seg = sliceSplit({ x, xShape: [3, ...shape, 1], y: x, yShape: [3, ...shape, 1] }, "segmentation");
    expect(seg.xShape).toEqual([12, 8, 8, 1]);
    expect(seg.yShape).toEqual([12, 8, 8, 1]);
    expect(seg.y).toEqual(seg.x);
    const cls = sliceSplit(
      { x, xShape: [3, ...shape, 1], y: Float32Array.of(0, 1, 0), yShape: [3, 1] },
      "classification",
    );
    expect(cls.yShape).toEqual([12, 1]);
    expect(Array.from(cls.y)).toEqual([0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0]);
  });
});

describe("predictSlicewise (2-D U-Net on 3-D patches)", () => {
  const shape: [number, number, number] = [8, 8, 3];
  const x = Float32Array.from({ length: 2 * 8 * 8 * 3 }, (_, i) => ((i * 2654435761) % 997) / 997);

  it("classification: each patch scores the mean of its slices' probabilities, each slice predicted alone", async () => {
    const m = createModel("genesis-unet2d", {
      width: 2,
      seed: 3,
      // moving statistics: a slice's output does not depend on the others in its batch
      bnMode: "running-statistics",
      head: { kind: "classification", nClasses: 1, hiddenUnits: 8 },
    });
    const before = tf.memory().numTensors;
    const scores = await predictSlicewise(m, x, [2, ...shape, 1], 4);
    expect(scores).toHaveLength(2);
    for (let i = 0; i < 2; i++) {
      let sum = 0;
      for (let d = 0; d < 3; d++) {
        // slice d of patch i by hand: voxel (r, c) = x[i, r, c, d]
        const s = new Float32Array(64);
        for (let p = 0; p < 64; p++) s[p] = x[i * 192 + p * 3 + d];
        sum += (await predictArrays(m, s, [1, 8, 8, 1], 1))[0];
      }
      expect(scores[i]).toBeCloseTo(sum / 3, 5);
    }
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });

  it("segmentation: slice predictions stacked back into (N, rows, cols, deps); 3-D models are refused", async () => {
    const m = createModel("genesis-unet2d", { width: 2, seed: 4, bnMode: "running-statistics" });
    const out = await predictSlicewise(m, x, [2, ...shape, 1], 6);
    const slices = await predictArrays(m, sliceAxial(x, 2, shape), [6, 8, 8, 1], 1);
    expect(out).toHaveLength(x.length);
    // voxel (patch 1, row 5, col 2, depth 2) = pixel (5, 2) of slice 1·3 + 2
    expect(out[192 + (5 * 8 + 2) * 3 + 2]).toBeCloseTo(slices[5 * 64 + 5 * 8 + 2], 5);
    m.dispose();
    const m3 = createModel("genesis-unet3d", { width: 1 });
    await expect(predictSlicewise(m3, x, [2, ...shape, 1], 1)).rejects.toThrow(/needs a 2-D model/);
    m3.dispose();
  });
});

describe("genesisSliceSource (2-D Genesis pretraining batches)", () => {
  const shape: [number, number, number] = [16, 16, 16];
  const per = 16 * 16 * 16;
  const cubes: CubeSet = {
    data: Float32Array.from({ length: 5 * per }, (_, i) => ((i * 40503) % 1009) / 1009),
    count: 5,
    shape,
    sources: ["a", "b", "c", "d", "e"],
  };

  it("yields the announced batches of NHWC slices; targets are axial slices of the cubes; deterministic", () => {
    // no flips: every target slice must be one of the cubes' own axial slices
    const src = genesisSliceSource({ cubes, batchSize: 3, slicesPerCube: 4, genesis: { flipRate: 0 } });
    // groups of 3 cubes: 3·4 = 12 slices → 4 batches; the last 2 cubes: 8 slices → 2 batches
    expect(src.length).toBe(6);
    const originals = new Set<string>();
    const all = sliceAxial(cubes.data, 5, shape);
    for (let s = 0; s < 5 * 16; s++) originals.add(all.subarray(s * 256, (s + 1) * 256).join(","));
    const batches = [
      ...(src.batches(0, new Rng(9)) as Iterable<{ x: Float32Array; y: Float32Array; xShape: number[] }>),
    ];
    expect(batches).toHaveLength(6);
    for (const b of batches) {
      expect(b.xShape).toEqual([3, 16, 16, 1]);
      for (let j = 0; j < 3; j++)
        expect(originals.has(b.y.subarray(j * 256, (j + 1) * 256).join(","))).toBe(true);
    }
    const again = [...(src.batches(0, new Rng(9)) as Iterable<{ x: Float32Array }>)];
    expect(again[5].x).toEqual(batches[5].x);
    expect(() => genesisSliceSource({ cubes, batchSize: 2, slicesPerCube: 17 })).toThrow(/1…16/);
  });
});
