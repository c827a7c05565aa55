import normalCdf from "@stdlib/stats-base-dists-normal-cdf";
import tCdf from "@stdlib/stats-base-dists-t-cdf";

/** Arithmetic mean; NaN for no values. */
export function mean(v: readonly number[]): number {
  return v.length === 0 ? Number.NaN : v.reduce((a, b) => a + b, 0) / v.length;
}

/** Sample standard deviation (n − 1 denominator, as the paper's ± and numpy `std(ddof=1)`); NaN below 2 values. */
export function sampleSd(v: readonly number[]): number {
  if (v.length < 2) return Number.NaN;
  const m = mean(v);
  return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1));
}

/** A two-sided test result. */
export interface TestResult {
  /** The statistic: t for the t-tests, U of the first sample for the rank-sum test. */
  readonly statistic: number;
  /** Two-sided p-value. */
  readonly p: number;
  /** Degrees of freedom (t-tests). */
  readonly df?: number;
  /** How the p-value was computed (`exact` or `asymptotic`, rank-sum test). */
  readonly method?: "exact" | "asymptotic";
}

/**
 * Independent two-sample Student's t-test with pooled variance (the paper's test; `scipy.stats.ttest_ind`
 * with `equal_var=True`), two-sided; p from the t distribution's CDF (`@stdlib/stats-base-dists-t-cdf`).
 * @returns undefined when a sample has fewer than 2 values or both have zero variance.
 */
export function studentTTest(a: readonly number[], b: readonly number[]): TestResult | undefined {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < 2 || n2 < 2) return undefined;
  const df = n1 + n2 - 2;
  const sp2 = ((n1 - 1) * sampleSd(a) ** 2 + (n2 - 1) * sampleSd(b) ** 2) / df;
  if (sp2 === 0) return undefined;
  const t = (mean(a) - mean(b)) / Math.sqrt(sp2 * (1 / n1 + 1 / n2));
  return { statistic: t, df, p: Math.min(1, 2 * tCdf(-Math.abs(t), df)) };
}

/**
 * Welch's unequal-variance t-test (`scipy.stats.ttest_ind(equal_var=False)`), two-sided,
 * Welch–Satterthwaite degrees of freedom.
 * @returns undefined when a sample has fewer than 2 values or both have zero variance.
 */
export function welchTTest(a: readonly number[], b: readonly number[]): TestResult | undefined {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 < 2 || n2 < 2) return undefined;
  const v1 = sampleSd(a) ** 2 / n1;
  const v2 = sampleSd(b) ** 2 / n2;
  if (v1 + v2 === 0) return undefined;
  const t = (mean(a) - mean(b)) / Math.sqrt(v1 + v2);
  const df = (v1 + v2) ** 2 / (v1 ** 2 / (n1 - 1) + v2 ** 2 / (n2 - 1));
  return { statistic: t, df, p: Math.min(1, 2 * tCdf(-Math.abs(t), df)) };
}

/** Number of arrangements of n1 + n2 values giving each U (index u = 0 … n1·n2), as doubles. */
function uCounts(n1: number, n2: number): Float64Array {
  // f[i][j][u] = f[i-1][j][u-j] + f[i][j-1][u], kept as one (n2+1) × (n1·n2+1) slab per i
  const size = n1 * n2 + 1;
  let prev: Float64Array[] = Array.from({ length: n2 + 1 }, () => {
    const r = new Float64Array(size);
    r[0] = 1;
    return r;
  });
  for (let i = 1; i <= n1; i++) {
    const cur: Float64Array[] = [];
    const c0 = new Float64Array(size);
    c0[0] = 1;
    cur.push(c0);
    for (let j = 1; j <= n2; j++) {
      const r = new Float64Array(size);
      const left = cur[j - 1];
      const up = prev[j];
      for (let u = 0; u < size; u++) r[u] = left[u] + (u >= j ? up[u - j] : 0);
      cur.push(r);
    }
    prev = cur;
  }
  return prev[n2];
}

/**
 * Wilcoxon rank-sum (Mann–Whitney U) test, two-sided, as `scipy.stats.mannwhitneyu(a, b)` with its
 * defaults (`method="auto"`, `use_continuity=True`): the exact null distribution when one sample
 * has at most 8 values and there are no ties, otherwise the normal approximation with tie and
 * continuity corrections. Ties get average ranks.
 * @returns U of `a` and the p-value; undefined when a sample is empty.
 */
export function rankSumTest(a: readonly number[], b: readonly number[]): TestResult | undefined {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) return undefined;
  const all = [...a.map((v) => ({ v, s: 0 })), ...b.map((v) => ({ v, s: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Float64Array(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = r;
    const t = j - i + 1;
    tieTerm += t ** 3 - t;
    i = j + 1;
  }
  let r1 = 0;
  for (let k = 0; k < all.length; k++) if (all[k].s === 0) r1 += ranks[k];
  const u1 = r1 - (n1 * (n1 + 1)) / 2;
  const u2 = n1 * n2 - u1;
  const uMax = Math.max(u1, u2);
  if (Math.min(n1, n2) <= 8 && tieTerm === 0) {
    const counts = uCounts(n1, n2);
    let total = 0;
    for (const c of counts) total += c;
    let tail = 0; // P(U ≥ uMax)
    for (let u = Math.round(uMax); u < counts.length; u++) tail += counts[u];
    return { statistic: u1, p: Math.min(1, (2 * tail) / total), method: "exact" };
  }
  const n = n1 + n2;
  const mu = (n1 * n2) / 2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  if (sigma === 0) return { statistic: u1, p: 1, method: "asymptotic" };
  const z = (uMax - mu - 0.5) / sigma;
  return { statistic: u1, p: Math.min(1, 2 * normalCdf(-z, 0, 1)), method: "asymptotic" };
}
