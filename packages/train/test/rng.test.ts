import { Rng as TransformsRng } from "@models-genesis/transforms";
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus";
import { describe, expect, it } from "vitest";
import { Rng } from "../src/index.js";

/** Pearson correlation of two equally long samples. */
function corr(a: number[], b: number[]): number {
  const m = (x: number[]) => x.reduce((s, v) => s + v, 0) / x.length;
  const ma = m(a);
  const mb = m(b);
  let c = 0;
  let va = 0;
  let vb = 0;
  for (let i = 0; i < a.length; i++) {
    c += (a[i] - ma) * (b[i] - mb);
    va += (a[i] - ma) ** 2;
    vb += (b[i] - mb) ** 2;
  }
  return c / Math.sqrt(va * vb);
}

describe("train's Rng is the transforms Rng", () => {
  it("is one class: train and transforms draw the same stream from the same seed", () => {
    expect(Rng).toBe(TransformsRng);
    const a = new Rng(7);
    const b = new TransformsRng(7);
    expect([a.random(), a.randint(0, 100), a.childSeed()]).toEqual([
      b.random(),
      b.randint(0, 100),
      b.childSeed(),
    ]);
  });

  it("seeds s and s+1 (`--runs`) give uncorrelated first draws, unlike raw xoroshiro seeding", () => {
    const first = (s: number) => new Rng(s).random();
    const a: number[] = [];
    const b: number[] = [];
    const oldA: number[] = [];
    const oldB: number[] = [];
    for (let s = 0; s < 2000; s++) {
      a.push(first(s));
      b.push(first(s + 1));
      oldA.push(uniformFloat64(xoroshiro128plus(s)));
      oldB.push(uniformFloat64(xoroshiro128plus(s + 1)));
    }
    // independent uniforms: correlation ~ N(0, 1/2000) → |r| < 0.1 is > 4 sd; mean |a − b| = 1/3
    expect(Math.abs(corr(a, b))).toBeLessThan(0.1);
    const meanAbsDiff = a.reduce((s, v, i) => s + Math.abs(v - b[i]), 0) / a.length;
    expect(meanAbsDiff).toBeGreaterThan(0.3);
    expect(meanAbsDiff).toBeLessThan(0.37);
    // the flaw this replaces: the old train Rng (`xoroshiro128plus(seed)`) started every run near 1
    expect(corr(oldA, oldB)).toBeGreaterThan(0.99);
    expect(Math.min(...oldA.slice(0, 10))).toBeGreaterThan(0.9999);
  });

  it("loads a state saved by the old train Rng and continues its stream draw for draw", () => {
    // what a checkpoint written before the change holds: pure-rand's xoroshiro128+ state
    const old = xoroshiro128plus(5);
    const saved = [...old.getState()];
    expect(saved).toEqual([-1, -6, 5, 0]);
    const r = Rng.fromState(saved);
    const expected = [uniformFloat64(old), uniformFloat64(old), uniformFloat64(old)];
    expect([r.random(), r.random(), r.random()]).toEqual(expected);
    expect(r.getState()).toEqual([...old.getState()]);
    expect(() => Rng.fromState([1, 2, 3])).toThrow(/four int32 numbers/);
    expect(() => Rng.fromState([0, 0, 0, 0])).toThrow(/all-zero/);
  });
});
