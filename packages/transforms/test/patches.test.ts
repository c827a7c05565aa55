// @vitest-environment node
import { describe, expect, it } from "vitest";
import {
  extractPatch,
  gaussianImportance,
  gridPatchCorners,
  PatchStitcher,
  Rng,
  randomPatches,
  type Shape3,
} from "../src/index.js";

const vol = (shape: Shape3) =>
  Float32Array.from({ length: shape[0] * shape[1] * shape[2] }, (_, i) => Math.sin(i) + 2);

describe("grid sampling and stitching", () => {
  it("grid windows cover every voxel, the last window is flush with the far edge", () => {
    const shape: Shape3 = [70, 50, 33];
    const patch: Shape3 = [32, 32, 16];
    const corners = gridPatchCorners(shape, patch, 0.25);
    const cover = new Uint8Array(70 * 50 * 33);
    for (const [x0, y0, z0] of corners)
      for (let x = x0; x < x0 + 32; x++)
        for (let y = y0; y < y0 + 32; y++)
          for (let z = z0; z < z0 + 16; z++) cover[(x * 50 + y) * 33 + z] = 1;
    expect(cover.every((c) => c === 1)).toBe(true);
    expect(new Set(corners.map((c) => c[0]))).toEqual(new Set([0, 24, 38]));
    expect(new Set(corners.map((c) => c[2]))).toEqual(new Set([0, 12, 17]));
  });

  it("stitching the patches of a volume (padded at the edges) gives the volume back", () => {
    for (const [shape, patch] of [
      [
        [40, 37, 21],
        [16, 16, 8],
      ],
      [
        [10, 12, 6],
        [16, 16, 8],
      ],
    ] as [Shape3, Shape3][]) {
      const v = vol(shape);
      for (const mode of ["gaussian", "constant"] as const) {
        const st = new PatchStitcher(shape, patch, mode);
        for (const c of gridPatchCorners(shape, patch, 0.5)) st.add(c, extractPatch(v, shape, c, patch, -7));
        const out = st.result();
        let maxErr = 0;
        for (let i = 0; i < v.length; i++) maxErr = Math.max(maxErr, Math.abs(out[i] - v[i]));
        expect(maxErr).toBeLessThan(1e-5);
      }
    }
  });

  it("extractPatch pads outside the image", () => {
    const shape: Shape3 = [2, 2, 2];
    const p = extractPatch(Int16Array.from([1, 2, 3, 4, 5, 6, 7, 8]), shape, [-1, 0, 1], [2, 2, 2], 9);
    expect(Array.from(p)).toEqual([9, 9, 9, 9, 2, 9, 4, 9]);
  });

  it("the Gaussian importance map peaks at 1 in the centre and is symmetric", () => {
    const w = gaussianImportance([5, 5, 5]);
    expect(w[(2 * 5 + 2) * 5 + 2]).toBe(1);
    expect(w[0]).toBe(w[w.length - 1]);
    expect(Math.min(...w)).toBeGreaterThanOrEqual(1e-3);
  });
});

describe("random patches", () => {
  it("centres the foreground ratio of patches on the label and cuts image and label alike", () => {
    const shape: Shape3 = [60, 60, 40];
    const image = { data: vol(shape), shape };
    const lab = new Uint8Array(60 * 60 * 40);
    for (let x = 40; x < 44; x++)
      for (let y = 5; y < 9; y++) for (let z = 30; z < 33; z++) lab[(x * 60 + y) * 40 + z] = 1;
    const label = { data: lab, shape, kind: "label" as const };
    const n = 2000;
    const patches = randomPatches(image, label, new Rng(3), {
      patchSize: [16, 16, 8],
      count: n,
      foregroundRatio: 0.6,
    });
    let withFg = 0;
    for (const p of patches) {
      if (p.label!.some((v) => v > 0)) withFg++;
      expect(p.corner.every((c, a) => c >= 0 && c + [16, 16, 8][a] <= shape[a])).toBe(true);
    }
    // uniform placement also hits the lesion sometimes: P(hit) ≈ 0.6 + 0.4·q with q the uniform hit rate
    expect(withFg / n).toBeGreaterThan(0.6 - 3 * Math.sqrt(0.24 / n));
    const p0 = patches[0];
    expect(p0.image).toEqual(extractPatch(image.data, shape, p0.corner, [16, 16, 8]));
    expect(() =>
      randomPatches(image, { data: lab.subarray(0, 10), shape: [1, 2, 5] }, new Rng(1), {
        patchSize: [4, 4, 4],
        count: 1,
      }),
    ).toThrow(/label shape/);
  });

  it("pads volumes smaller than the patch", () => {
    const shape: Shape3 = [4, 4, 4];
    const [p] = randomPatches({ data: new Float32Array(64).fill(1), shape }, undefined, new Rng(1), {
      patchSize: [8, 4, 4],
      count: 1,
    });
    expect(p.corner).toEqual([-2, 0, 0]);
    expect(p.image.reduce((a, b) => a + b, 0)).toBe(64);
  });
});
