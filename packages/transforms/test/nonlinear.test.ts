// @vitest-environment node
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  bezierCurve,
  Interp1D,
  type NonlinearParams,
  nonlinearIntensity,
  nonlinearValues,
  sortRuns,
} from "../src/index.js";
import { REPO_ROOT } from "./shared.js";

interface Case {
  points: [number, number][];
  n_times: number;
  mode: "sort_x_only" | "sort_both";
  input: number[];
  expected: number[];
}

describe("Bézier fixture parity (fixtures/transforms/bezier_cases.json, shipped in the repository)", () => {
  const file = path.join(REPO_ROOT, "fixtures/transforms/bezier_cases.json");
  const cases: Case[] = JSON.parse(readFileSync(file, "utf8")).cases;
  it("has cases in both modes", () => {
    expect(cases.length).toBeGreaterThanOrEqual(2);
    expect(new Set(cases.map((c) => c.mode))).toEqual(new Set(["sort_x_only", "sort_both"]));
  });
  for (const [i, c] of cases.entries()) {
    it(`case ${i} (${c.mode}, n=${c.n_times}) matches to 1e-6`, () => {
      const params: NonlinearParams = {
        points: c.points as unknown as NonlinearParams["points"],
        mode: c.mode,
        nTimes: c.n_times,
      };
      const got = nonlinearValues(c.input, params);
      expect(got.length).toBe(c.expected.length);
      for (let k = 0; k < got.length; k++) expect(Math.abs(got[k] - c.expected[k])).toBeLessThan(1e-6);
      // the float32 image path agrees with the float64 path after rounding
      const img = nonlinearIntensity({ nTimes: c.n_times }).apply(
        { data: Float32Array.from(c.input), shape: [c.input.length, 1, 1] },
        params,
      );
      const f64 = nonlinearValues(Float32Array.from(c.input), params);
      for (let k = 0; k < got.length; k++) expect(img.data[k]).toBe(Math.fround(f64[k]));
    });
  }
});

/** Direct transcription of NumPy's arr_interp loop with a plain binary search (the oracle). */
function npInterp(x: number, xp: Float64Array, fp: Float64Array): number {
  const n = xp.length;
  if (x < xp[0]) return fp[0];
  if (x > xp[n - 1]) return fp[n - 1];
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (x >= xp[mid]) lo = mid + 1;
    else hi = mid;
  }
  const j = lo - 1;
  if (j === n - 1 || xp[j] === x) return fp[j];
  return ((fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j])) * (x - xp[j]) + fp[j];
}

describe("Interp1D = np.interp", () => {
  it("matches the plain binary-search oracle bit for bit on a Bézier table and random queries", () => {
    const { x, y } = bezierCurve(
      [
        [0, 0],
        [0.9, 0.1],
        [0.05, 0.95],
        [1, 1],
      ],
      100000,
    );
    const xs = sortRuns(x);
    const t = new Interp1D(xs, y);
    let s = 12345;
    const rand = () => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648;
    };
    for (let i = 0; i < 20000; i++) {
      const q = i < 100 ? xs[i * 997] : i < 200 ? Math.fround(rand()) : rand() * 1.2 - 0.1;
      expect(t.at(q)).toBe(npInterp(q, xs, y));
    }
  });
  it("handles duplicates and exact hits like NumPy (last duplicate wins, hits return fp[j])", () => {
    const xp = Float64Array.from([0, 0.5, 0.5, 0.5, 1]);
    const fp = Float64Array.from([0, 1, 2, 3, 4]);
    const t = new Interp1D(xp, fp);
    expect(t.at(0.5)).toBe(3);
    expect(t.at(0.25)).toBe(0.5);
    expect(t.at(0.75)).toBe(3.5);
    expect(t.at(-1)).toBe(0);
    expect(t.at(2)).toBe(4);
    expect(t.at(1)).toBe(4);
  });
});

describe("sortRuns", () => {
  it("equals a full numeric sort on arrays with many runs", () => {
    let s = 7;
    for (const n of [1, 2, 3, 10, 1000, 4097]) {
      const a = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        s = (s * 69069 + 1) % 4294967296;
        a[i] = i % 17 < 8 ? s / 4294967296 : Math.sin(i);
      }
      expect(Array.from(sortRuns(a))).toEqual(Array.from(Float64Array.from(a).sort()));
    }
  });
});
