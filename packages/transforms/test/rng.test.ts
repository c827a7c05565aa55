// @vitest-environment node
import { describe, expect, it } from "vitest";
import { Rng } from "../src/index.js";

describe("Rng", () => {
  it("is reproducible from its seed and differs between seeds", () => {
    const a = new Rng(42);
    const b = new Rng(42);
    const c = new Rng(43);
    const sa = Array.from({ length: 20 }, () => a.random());
    expect(Array.from({ length: 20 }, () => b.random())).toEqual(sa);
    expect(Array.from({ length: 20 }, () => c.random())).not.toEqual(sa);
  });

  it("neighbouring seeds give independent-looking first draws (seed expansion)", () => {
    const n = 20000;
    const bins = new Array(10).fill(0);
    for (let seed = 0; seed < n; seed++) bins[Math.floor(new Rng(seed).random() * 10)]++;
    const sigma = Math.sqrt(0.1 * 0.9 * n);
    for (const b of bins) expect(Math.abs(b - n / 10)).toBeLessThan(4 * sigma);
  });

  it("randint includes both ends, like Python's random.randint, with uniform frequencies", () => {
    const r = new Rng(1);
    const counts = new Map<number, number>();
    const n = 60000;
    for (let i = 0; i < n; i++) {
      const v = r.randint(3, 8);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([3, 4, 5, 6, 7, 8]);
    const p = 1 / 6;
    const sigma = Math.sqrt((p * (1 - p)) / n);
    for (const c of counts.values()) expect(Math.abs(c / n - p)).toBeLessThan(4 * sigma);
    expect(r.randint(5, 5)).toBe(5);
    expect(() => r.randint(4, 3)).toThrow(/empty range/);
  });

  it("below(n) is uniform on [0, n) for odd ranges (Lemire rejection)", () => {
    const r = new Rng(7);
    const n = 90000;
    const counts = new Array(9).fill(0);
    for (let i = 0; i < n; i++) counts[r.below(9)]++;
    const p = 1 / 9;
    const sigma = Math.sqrt((p * (1 - p)) / n);
    for (const c of counts) expect(Math.abs(c / n - p)).toBeLessThan(4 * sigma);
    const big = 3_000_000_000;
    for (let i = 0; i < 100; i++) {
      const v = r.below(big);
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThan(big);
    }
  });

  it("random() and float32() stay in [0, 1); float32 values are exact float32", () => {
    const r = new Rng(3);
    let bad = 0;
    for (let i = 0; i < 100000; i++) {
      const u = r.random();
      const f = r.float32();
      if (!(u >= 0 && u < 1) || Math.fround(f) !== f || !(f >= 0 && f < 1)) bad++;
    }
    expect(bad).toBe(0);
  });

  it("normal() has the requested mean and standard deviation", () => {
    const r = new Rng(11);
    const n = 40000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const v = r.normal(2, 0.5);
      s += v;
      s2 += v * v;
    }
    const mean = s / n;
    const std = Math.sqrt(s2 / n - mean * mean);
    expect(Math.abs(mean - 2)).toBeLessThan(4 * (0.5 / Math.sqrt(n)));
    expect(Math.abs(std - 0.5)).toBeLessThan(0.01);
  });

  it("fork() gives reproducible children that advance the parent by one draw", () => {
    const a = new Rng(5);
    const b = new Rng(5);
    const ca = a.fork();
    const cb = b.fork();
    expect(ca.seed).toBe(cb.seed);
    expect(ca.random()).toBe(cb.random());
    const x = new Rng(5);
    x.uint32();
    expect(a.random()).toBe(x.random());
  });

  it("shuffle() permutes", () => {
    const r = new Rng(9);
    const arr = [...Array(50).keys()];
    const s = r.shuffle([...arr]);
    expect([...s].sort((p, q) => p - q)).toEqual(arr);
    expect(s).not.toEqual(arr);
  });

  it("getState()/fromState() continue the stream draw for draw (checkpoint resume)", () => {
    const r = new Rng(11);
    r.random();
    r.shuffle([1, 2, 3, 4]);
    const state = r.getState();
    expect(state).toHaveLength(4);
    for (const v of state) expect(v).toBe(v | 0);
    const back = Rng.fromState(JSON.parse(JSON.stringify(state)), 11);
    expect(back.seed).toBe(11);
    const want = [r.random(), r.randint(0, 1000), r.uint32(), r.below(7)];
    expect([back.random(), back.randint(0, 1000), back.uint32(), back.below(7)]).toEqual(want);
    expect(() => Rng.fromState([1, 2.5, 3, 4])).toThrow(/four int32 numbers/);
  });
});
