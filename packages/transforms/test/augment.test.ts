// @vitest-environment node
import { describe, expect, it } from "vitest";
import { gaussianNoise, intensityScaleShift, Rng, randFlip, rot90xy, type Shape3 } from "../src/index.js";

describe("rot90xy = np.rot90(m, k, axes=(0, 1))", () => {
  // m = np.arange(6).reshape(2, 3, 1); np.rot90(m, k)[..., 0] for k = 1, 2, 3 (worked by hand):
  // k=1 → [[2, 5], [1, 4], [0, 3]]; k=2 → [[5, 4, 3], [2, 1, 0]]; k=3 → [[3, 0], [4, 1], [5, 2]]
  const m = Int16Array.from([0, 1, 2, 3, 4, 5]);
  const s: Shape3 = [2, 3, 1];
  it("matches NumPy for k = 1, 2, 3 and keeps the voxel type", () => {
    expect(rot90xy(m, s, 1)).toEqual({ data: Int16Array.from([2, 5, 1, 4, 0, 3]), shape: [3, 2, 1] });
    expect(rot90xy(m, s, 2)).toEqual({ data: Int16Array.from([5, 4, 3, 2, 1, 0]), shape: [2, 3, 1] });
    expect(rot90xy(m, s, 3)).toEqual({ data: Int16Array.from([3, 0, 4, 1, 5, 2]), shape: [3, 2, 1] });
  });
  it("k then 4 − k is the identity on a 3-D array (z untouched)", () => {
    const d = Float32Array.from({ length: 4 * 5 * 3 }, (_, i) => i);
    for (const k of [1, 2, 3]) {
      const r = rot90xy(d, [4, 5, 3], k);
      expect(rot90xy(r.data, r.shape, 4 - k).data).toEqual(d);
    }
  });
});

describe("fine-tuning augmentations", () => {
  it("randFlip is its own inverse and flips each axis at the configured rate", () => {
    const t = randFlip({ prob: 0.25 });
    const img = { data: Float32Array.from({ length: 60 }, (_, i) => i), shape: [3, 4, 5] as Shape3 };
    const rng = new Rng(1);
    let flips = 0;
    for (let i = 0; i < 4000; i++) {
      const p = t.sample(rng, img.shape);
      flips += p.axes.filter(Boolean).length;
      if (i < 20) expect(t.apply(t.apply(img, p), p).data).toEqual(img.data);
    }
    expect(Math.abs(flips / 12000 - 0.25)).toBeLessThan(3 * Math.sqrt((0.25 * 0.75) / 12000));
  });

  it("intensityScaleShift computes v·scale + shift with params in range", () => {
    const t = intensityScaleShift();
    const p = t.sample(new Rng(2), [1, 1, 2]);
    expect(p.scale).toBeGreaterThanOrEqual(0.9);
    expect(p.scale).toBeLessThan(1.1);
    expect(Math.abs(p.shift)).toBeLessThanOrEqual(0.1);
    const out = t.apply({ data: Float32Array.from([0.25, 1]), shape: [1, 1, 2] }, { scale: 2, shift: -0.5 });
    expect(Array.from(out.data)).toEqual([0, 1.5]);
  });

  it("gaussianNoise adds zero-mean noise with the drawn standard deviation", () => {
    const t = gaussianNoise({ prob: 1, maxStd: 0.1 });
    const shape: Shape3 = [32, 32, 32];
    const p = t.sample(new Rng(5), shape);
    const out = t.apply({ data: new Float32Array(32 * 32 * 32).fill(0.5), shape }, p).data;
    let s = 0;
    let s2 = 0;
    for (const v of out) {
      s += v - 0.5;
      s2 += (v - 0.5) ** 2;
    }
    const mean = s / out.length;
    const std = Math.sqrt(s2 / out.length - mean * mean);
    expect(Math.abs(mean)).toBeLessThan((4 * p.std) / Math.sqrt(out.length));
    expect(Math.abs(std / p.std - 1)).toBeLessThan(0.02);
    expect(t.apply({ data: Float32Array.from([0.5]), shape: [1, 1, 1] }, { std: 0, seed: 0 }).data[0]).toBe(
      0.5,
    );
  });
});
