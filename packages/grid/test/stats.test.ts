import { describe, expect, it } from "vitest";
import { mean, rankSumTest, sampleSd, studentTTest, welchTTest } from "../src/stats.js";

// Reference values: scipy 1.17.1, `scipy.stats.ttest_ind(a, b)` (Student), `ttest_ind(a, b,
// equal_var=False)` (Welch) and `mannwhitneyu(a, b)` (defaults: method="auto", use_continuity=True).
const a = [0.7741, 0.7712, 0.779, 0.7655, 0.7801, 0.7733, 0.7768, 0.7699, 0.7745, 0.772];
const b = [0.7405, 0.721, 0.7602, 0.7499, 0.7311, 0.765, 0.7188, 0.7544, 0.739, 0.742];

describe("significance tests against scipy", () => {
  it("Student's t-test (pooled variance): t = 6.147195539818068, df 18, p = 8.34855459074012e-06", () => {
    const t = studentTTest(a, b)!;
    expect(t.statistic).toBeCloseTo(6.147195539818068, 10);
    expect(t.df).toBe(18);
    expect(t.p / 8.34855459074012e-6).toBeCloseTo(1, 6);
  });

  it("Welch's t-test: df 10.395079265057513, p = 9.220055642675467e-05", () => {
    const t = welchTTest(a, b)!;
    expect(t.df!).toBeCloseTo(10.395079265057513, 9);
    expect(t.p / 9.220055642675467e-5).toBeCloseTo(1, 6);
  });

  it("small samples: t = -1.7145005089176677, p = 0.13015465997934436; Welch p = 0.14245076353855327", () => {
    const x = [1.1, 2.3, 0.7, 4.5, 3.3];
    const y = [2.0, 5.1, 6.2, 3.9];
    expect(studentTTest(x, y)!.statistic).toBeCloseTo(-1.7145005089176677, 10);
    expect(studentTTest(x, y)!.p).toBeCloseTo(0.13015465997934436, 10);
    expect(welchTTest(x, y)!.p).toBeCloseTo(0.14245076353855327, 9);
  });

  it("rank-sum, n = 10 (asymptotic): U = 100, p = 0.00018267179110955002", () => {
    const r = rankSumTest(a, b)!;
    expect(r.statistic).toBe(100);
    expect(r.method).toBe("asymptotic");
    expect(r.p / 0.00018267179110955002).toBeCloseTo(1, 6);
  });

  it("rank-sum, exact (n ≤ 8, no ties): U = 4, p = 0.19047619047619047 (= 40/210)", () => {
    const r = rankSumTest([1.1, 2.3, 0.7, 4.5, 3.3], [2.0, 5.1, 6.2, 3.9])!;
    expect(r.statistic).toBe(4);
    expect(r.method).toBe("exact");
    expect(r.p).toBeCloseTo(0.19047619047619047, 14);
  });

  it("rank-sum with ties (asymptotic, tie-corrected): U = 4.5, p = 0.06414661873440437", () => {
    const r = rankSumTest([1, 2, 2, 3, 4], [2, 3, 5, 6, 6, 7])!;
    expect(r.statistic).toBe(4.5);
    expect(r.method).toBe("asymptotic");
    expect(r.p).toBeCloseTo(0.06414661873440437, 12);
  });

  it("exact rank-sum p of completely separated samples of 3 and 3 is 2/20", () => {
    expect(rankSumTest([4, 5, 6], [1, 2, 3])!.p).toBeCloseTo(0.1, 14);
  });

  it("undefined below 2 values; mean and sample s.d.", () => {
    expect(studentTTest([1], [2, 3])).toBeUndefined();
    expect(welchTTest([1, 1], [1, 1])).toBeUndefined();
    expect(rankSumTest([], [1])).toBeUndefined();
    expect(mean([1, 2, 3, 4])).toBe(2.5);
    expect(sampleSd([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(2.138089935299395, 14); // numpy std(ddof=1)
    expect(Number.isNaN(sampleSd([1]))).toBe(true);
  });
});
