import type { Rng } from "../rng.js";
import type { FloatImage, Transform } from "../types.js";
import { checkImage } from "../types.js";

/**
 * `sort_x_only`: only the curve's x values are sorted (the y values keep their t order, which
 * yields a decreasing, intensity-inverting mapping); `sort_both`: x and y are sorted
 * independently (an increasing mapping). Reference: `pytorch/utils.py`,
 * `nonlinear_transformation`, `if random.random() < 0.5: xvals = np.sort(xvals)`.
 */
export type BezierSortMode = "sort_x_only" | "sort_both";

/** A 2-D point `[x, y]`. */
export type Point2 = readonly [number, number];

/** Params of {@link nonlinearIntensity}: the 4 Bézier control points, the sort mode and the sample count. */
export interface NonlinearParams {
  points: readonly [Point2, Point2, Point2, Point2];
  mode: BezierSortMode;
  /** Curve samples; reference `nTimes = 100000`. */
  nTimes: number;
}

/**
 * The reference's cubic Bézier (`pytorch/utils.py`, `bezier_curve` / `bernstein_poly`), sampled at
 * `t = linspace(0, 1, nTimes)`: value(t) = Σ_i P_i · C(3, i) · t^(3−i) · (1 − t)^i. Note the
 * reference's Bernstein indexing: t = 0 gives the **last** point and t = 1 the first, so for
 * points (0,0)…(1,1) the samples run from (1, 1) down to (0, 0).
 *
 * `t` is built as NumPy's `linspace` does (`i · step`, last sample exactly 1).
 * @returns x and y samples, float64, length `nTimes`.
 */
export function bezierCurve(points: readonly Point2[], nTimes: number): { x: Float64Array; y: Float64Array } {
  if (points.length !== 4)
    throw new Error(`transforms/bezierCurve: needs 4 control points, got ${points.length}`);
  if (!Number.isInteger(nTimes) || nTimes < 2) {
    throw new Error(`transforms/bezierCurve: nTimes must be an integer ≥ 2, got ${nTimes}`);
  }
  const [p0, p1, p2, p3] = points;
  const xs = new Float64Array(nTimes);
  const ys = new Float64Array(nTimes);
  const step = 1 / (nTimes - 1);
  for (let i = 0; i < nTimes; i++) {
    const t = i === nTimes - 1 ? 1 : i * step;
    const u = 1 - t;
    const b0 = t * t * t;
    const b1 = 3 * (t * t) * u;
    const b2 = 3 * t * (u * u);
    const b3 = u * u * u;
    xs[i] = p0[0] * b0 + p1[0] * b1 + p2[0] * b2 + p3[0] * b3;
    ys[i] = p0[1] * b0 + p1[1] * b1 + p2[1] * b2 + p3[1] * b3;
  }
  return { x: xs, y: ys };
}

/**
 * Sort a float64 array ascending (values only; same result as `np.sort`) in O(n log r) where r
 * is the number of monotone runs: a Bézier coordinate has at most three, so this is linear in
 * practice. Returns a new array.
 */
export function sortRuns(a: Float64Array): Float64Array {
  const n = a.length;
  let src = Float64Array.from(a);
  // Find maximal monotone runs; reverse descending runs in place.
  const starts: number[] = [];
  let i = 0;
  while (i < n) {
    starts.push(i);
    let j = i + 1;
    if (j < n && src[j] < src[i]) {
      while (j < n && src[j] <= src[j - 1]) j++;
      src.subarray(i, j).reverse();
    } else {
      while (j < n && src[j] >= src[j - 1]) j++;
    }
    i = j;
  }
  starts.push(n);
  if (starts.length <= 2) return src;
  let dst = new Float64Array(n);
  let bounds = starts;
  while (bounds.length > 2) {
    const next: number[] = [0];
    for (let r = 0; r + 1 < bounds.length; r += 2) {
      const lo = bounds[r];
      const mid = bounds[r + 1];
      const hi = r + 2 < bounds.length ? bounds[r + 2] : mid;
      let p = lo;
      let q = mid;
      let k = lo;
      while (p < mid && q < hi) dst[k++] = src[q] < src[p] ? src[q++] : src[p++];
      while (p < mid) dst[k++] = src[p++];
      while (q < hi) dst[k++] = src[q++];
      next.push(hi);
    }
    bounds = next[next.length - 1] === n ? next : [...next, n];
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/** Number of lookup buckets of {@link Interp1D}. */
const BUCKETS = 1 << 16;

/**
 * Piecewise-linear interpolation with exactly `np.interp`'s semantics (NumPy
 * `compiled_base.c`, `arr_interp`): for a query x, j = the last index with xp[j] ≤ x;
 * x < xp[0] → fp[0]; x > xp[n−1] or j = n−1 → fp[n−1]; xp[j] = x → fp[j]; otherwise
 * slope = (fp[j+1] − fp[j]) / (xp[j+1] − xp[j]) and result = slope·(x − xp[j]) + fp[j]
 * (with NumPy's NaN fallbacks). All arithmetic in float64.
 *
 * The search for j is exact: a 65,536-bucket table over [xp[0], xp[n−1]] (bucket edges stored and
 * re-checked, so float rounding of the bucket index cannot misplace a query) narrows a binary search.
 *
 * @param xp increasing sample positions (sorted; duplicates allowed), length n ≥ 1.
 * @param fp sample values, length n.
 */
export class Interp1D {
  private readonly xp: Float64Array;
  private readonly fp: Float64Array;
  private readonly slopes: Float64Array;
  private readonly edges: Float64Array;
  /** counts[b] = number of xp ≤ edges[b]. */
  private readonly counts: Int32Array;
  private readonly lo: number;
  private readonly invWidth: number;

  constructor(xp: Float64Array, fp: Float64Array) {
    const n = xp.length;
    if (n === 0 || fp.length !== n) {
      throw new Error(
        `transforms/Interp1D: xp and fp must be non-empty and equally long (got ${n} and ${fp.length})`,
      );
    }
    this.xp = xp;
    this.fp = fp;
    this.slopes = new Float64Array(Math.max(n - 1, 0));
    for (let i = 0; i < n - 1; i++) this.slopes[i] = (fp[i + 1] - fp[i]) / (xp[i + 1] - xp[i]);
    this.lo = xp[0];
    const width = (xp[n - 1] - xp[0]) / BUCKETS;
    this.invWidth = width > 0 ? 1 / width : 0;
    this.edges = new Float64Array(BUCKETS + 1);
    this.counts = new Int32Array(BUCKETS + 1);
    let c = 0;
    for (let b = 0; b <= BUCKETS; b++) {
      const e = b === BUCKETS ? xp[n - 1] : xp[0] + b * width;
      this.edges[b] = e;
      while (c < n && xp[c] <= e) c++;
      this.counts[b] = c;
    }
  }

  /** Last index j with xp[j] ≤ x (−1 when x < xp[0]); n−1 for x ≥ xp[n−1]. */
  private search(x: number): number {
    const xp = this.xp;
    const n = xp.length;
    if (x < xp[0]) return -1;
    if (x >= xp[n - 1]) return n - 1;
    let b = Math.floor((x - this.lo) * this.invWidth);
    if (b < 0) b = 0;
    if (b > BUCKETS - 1) b = BUCKETS - 1;
    const edges = this.edges;
    while (b > 0 && x < edges[b]) b--;
    while (b < BUCKETS - 1 && x >= edges[b + 1]) b++;
    // edges[b] ≤ x < edges[b+1]: the count of xp ≤ x lies in [counts[b], counts[b+1]].
    let lo = this.counts[b];
    let hi = this.counts[b + 1];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (xp[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Interpolated value at x (float64). NaN in → NaN out. */
  at(x: number): number {
    if (Number.isNaN(x)) return x;
    const xp = this.xp;
    const fp = this.fp;
    const n = xp.length;
    if (x > xp[n - 1]) return fp[n - 1];
    const j = this.search(x);
    if (j === -1) return fp[0];
    if (j === n - 1) return fp[n - 1];
    if (xp[j] === x) return fp[j];
    const slope = this.slopes[j];
    let r = slope * (x - xp[j]) + fp[j];
    if (Number.isNaN(r)) {
      r = slope * (x - xp[j + 1]) + fp[j + 1];
      if (Number.isNaN(r) && fp[j] === fp[j + 1]) r = fp[j];
    }
    return r;
  }

  /** Map every value of `input` into `out` (may alias `input`). */
  mapInto(input: ArrayLike<number>, out: { [i: number]: number; length: number }): void {
    for (let i = 0; i < input.length; i++) out[i] = this.at(input[i]);
  }
}

/**
 * The (xp, fp) table of the non-linear transform: Bézier samples, then the sort mode (values
 * sorted with {@link sortRuns}, identical to `np.sort`).
 */
export function nonlinearTable(params: NonlinearParams): Interp1D {
  const { x, y } = bezierCurve(params.points, params.nTimes);
  const xs = sortRuns(x);
  const ys = params.mode === "sort_both" ? sortRuns(y) : y;
  return new Interp1D(xs, ys);
}

/**
 * Draw non-linear params in the reference order: control points
 * `[[0,0], [r, r], [r, r], [1,1]]` (4 × `random()`), then `random() < 0.5` → `sort_x_only`.
 */
export function sampleNonlinear(rng: Rng, nTimes = 100000): NonlinearParams {
  const r1 = rng.random();
  const r2 = rng.random();
  const r3 = rng.random();
  const r4 = rng.random();
  const mode: BezierSortMode = rng.random() < 0.5 ? "sort_x_only" : "sort_both";
  return {
    points: [
      [0, 0],
      [r1, r2],
      [r3, r4],
      [1, 1],
    ],
    mode,
    nTimes,
  };
}

/**
 * Apply the non-linear mapping to arbitrary float64 values (`np.interp(x, xvals, yvals)`).
 * @returns float64 results, same length as `input`.
 */
export function nonlinearValues(input: ArrayLike<number>, params: NonlinearParams): Float64Array {
  const out = new Float64Array(input.length);
  nonlinearTable(params).mapInto(input, out);
  return out;
}

/** Options of {@link nonlinearIntensity}. */
export interface NonlinearOptions {
  /** Curve samples; reference 100,000 (`nonlinear_transformation`, `nTimes=100000`). */
  nTimes?: number;
}

/**
 * Non-linear intensity transform (Models Genesis; `pytorch/utils.py`,
 * `nonlinear_transformation`, applied with probability `nonlinear_rate` = 0.9): a random
 * monotone (sort_both) or inverting (sort_x_only) cubic Bézier mapping of [0, 1] onto itself,
 * applied by exact `np.interp` semantics in float64 and rounded to float32. Input float32
 * image, any shape; shape kept. Intensity-only (skips labels).
 */
export function nonlinearIntensity(options: NonlinearOptions = {}): Transform<FloatImage, NonlinearParams> {
  const { nTimes = 100000 } = options;
  return {
    name: "nonlinearIntensity",
    kind: "intensity",
    sample: (rng) => sampleNonlinear(rng, nTimes),
    apply(input, params) {
      checkImage("nonlinearIntensity", input);
      const out = new Float32Array(input.data.length);
      nonlinearTable(params).mapInto(input.data, out);
      return { ...input, data: out };
    },
  };
}
