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
export function bezierCurve(
  points: readonly Point2[],
  nTimes: number,
  out?: { x: Float64Array; y: Float64Array },
): { x: Float64Array; y: Float64Array } {
  if (points.length !== 4)
    throw new Error(`transforms/bezierCurve: needs 4 control points, got ${points.length}`);
  if (!Number.isInteger(nTimes) || nTimes < 2) {
    throw new Error(`transforms/bezierCurve: nTimes must be an integer ≥ 2, got ${nTimes}`);
  }
  const [x0, y0] = points[0];
  const [x1, y1] = points[1];
  const [x2, y2] = points[2];
  const [x3, y3] = points[3];
  const xs = out && out.x.length >= nTimes ? out.x.subarray(0, nTimes) : new Float64Array(nTimes);
  const ys = out && out.y.length >= nTimes ? out.y.subarray(0, nTimes) : new Float64Array(nTimes);
  const step = 1 / (nTimes - 1);
  for (let i = 0; i < nTimes; i++) {
    const t = i === nTimes - 1 ? 1 : i * step;
    const u = 1 - t;
    const b0 = t * t * t;
    const b1 = 3 * (t * t) * u;
    const b2 = 3 * t * (u * u);
    const b3 = u * u * u;
    xs[i] = x0 * b0 + x1 * b1 + x2 * b2 + x3 * b3;
    ys[i] = y0 * b0 + y1 * b1 + y2 * b2 + y3 * b3;
  }
  return { x: xs, y: ys };
}

/**
 * Sort a float64 array ascending (values only; same result as `np.sort`) in O(n log r) where r
 * is the number of monotone runs: a Bézier coordinate has at most three, so this is linear in
 * practice. Returns a new array.
 */
export function sortRuns(a: Float64Array): Float64Array {
  const out = Float64Array.from(a);
  sortRunsInPlace(out, new Float64Array(a.length));
  return out;
}

/** In-place variant of {@link sortRuns}; `scratch` needs at least `a.length` elements. */
export function sortRunsInPlace(a: Float64Array, scratch: Float64Array): void {
  const n = a.length;
  let src = a;
  let dst = scratch.subarray(0, n);
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
    bounds = next;
    const t = src;
    src = dst;
    dst = t;
  }
  if (src !== a) a.set(src);
}

/** Number of lookup buckets of {@link Interp1D}. */
const BUCKETS = 1 << 14;

/**
 * Bucket table over [xp[0], xp[n−1]]: bucket b spans [edge(b), edge(b+1)) with
 * edge(b) = xp[0] + b·width (edge(BUCKETS) = xp[n−1]), recomputed identically at query time;
 * `counts[b]` = number of xp ≤ edge(b).
 */
interface Buckets {
  counts: Int32Array;
  lo: number;
  width: number;
  invWidth: number;
}

function buildBuckets(xp: Float64Array, counts: Int32Array): Buckets {
  const n = xp.length;
  const lo = xp[0];
  const width = (xp[n - 1] - lo) / BUCKETS;
  let c = 0;
  for (let b = 0; b <= BUCKETS; b++) {
    const e = b === BUCKETS ? xp[n - 1] : lo + b * width;
    while (c < n && xp[c] <= e) c++;
    counts[b] = c;
  }
  return { counts, lo, width, invWidth: width > 0 ? 1 / width : 0 };
}

/**
 * `np.interp` of one value (see {@link Interp1D} for the semantics). `xf` interleaves the table:
 * xf[2j] = xp[j], xf[2j+1] = fp[j] (one cache line serves both), `n` = table length.
 */
function interpOne(x: number, xf: Float64Array, n: number, bk: Buckets): number {
  if (Number.isNaN(x)) return x;
  if (x < xf[0]) return xf[1];
  const last = xf[2 * n - 2];
  if (x >= last) return xf[2 * n - 1];
  const { counts, lo, width } = bk;
  let b = ((x - lo) * bk.invWidth) | 0;
  if (b < 0) b = 0;
  else if (b > BUCKETS - 1) b = BUCKETS - 1;
  // re-check against the exact edges so that rounding of the bucket index cannot misplace x
  while (b > 0 && x < lo + b * width) b--;
  while (b < BUCKETS - 1 && x >= lo + (b + 1) * width) b++;
  // edge(b) ≤ x < edge(b+1): the count of xp ≤ x lies in [counts[b], counts[b+1]].
  let l = counts[b];
  let h = counts[b + 1];
  while (l < h) {
    const mid = (l + h) >>> 1;
    if (xf[2 * mid] <= x) l = mid + 1;
    else h = mid;
  }
  return atSegment(x, l - 1, xf);
}

/**
 * NumPy's value for x on segment j (j = last index with xp[j] ≤ x, 0 ≤ j < n − 1): exact hit →
 * fp[j], else slope·(x − xp[j]) + fp[j] with the NaN fallbacks of `arr_interp`.
 */
function atSegment(x: number, j: number, xf: Float64Array): number {
  const j2 = 2 * j;
  const xj = xf[j2];
  const fj = xf[j2 + 1];
  if (xj === x) return fj;
  const x1 = xf[j2 + 2];
  const f1 = xf[j2 + 3];
  const slope = (f1 - fj) / (x1 - xj);
  let r = slope * (x - xj) + fj;
  if (Number.isNaN(r)) {
    r = slope * (x - x1) + f1;
    if (Number.isNaN(r) && fj === f1) r = fj;
  }
  return r;
}

/** Scratch of {@link interpSortedInto} (grown on demand, reused). */
let sortScratch = {
  keys: new Uint32Array(0),
  idx: new Uint32Array(0),
  keys2: new Uint32Array(0),
  idx2: new Uint32Array(0),
};
const radixCounts = new Int32Array(256);
const convU32 = new Uint32Array(1);
const convF32 = new Float32Array(convU32.buffer);

/**
 * `np.interp` of a float32 array by walking the queries in ascending order (LSD radix sort on the
 * order-preserving transform of the float32 bits) alongside the table: sequential memory access,
 * O(m + n). Used when the input has too many distinct values for the memo. Results are identical
 * to {@link interpOne} (same segment j, same arithmetic).
 */
function interpSortedInto(input: Float32Array, out: Float32Array, xf: Float64Array, n: number): void {
  const m = input.length;
  if (sortScratch.keys.length < m) {
    sortScratch = {
      keys: new Uint32Array(m),
      idx: new Uint32Array(m),
      keys2: new Uint32Array(m),
      idx2: new Uint32Array(m),
    };
  }
  const bits = new Uint32Array(input.buffer, input.byteOffset, m);
  let { keys, idx, keys2, idx2 } = sortScratch;
  for (let i = 0; i < m; i++) {
    const b = bits[i];
    keys[i] = (b & 0x80000000 ? ~b : b | 0x80000000) >>> 0;
    idx[i] = i;
  }
  for (let shift = 0; shift < 32; shift += 8) {
    radixCounts.fill(0);
    for (let i = 0; i < m; i++) radixCounts[(keys[i] >>> shift) & 255]++;
    let sum = 0;
    for (let b = 0; b < 256; b++) {
      const c = radixCounts[b];
      radixCounts[b] = sum;
      sum += c;
    }
    for (let i = 0; i < m; i++) {
      const k = keys[i];
      const p = radixCounts[(k >>> shift) & 255]++;
      keys2[p] = k;
      idx2[p] = idx[i];
    }
    [keys, keys2] = [keys2, keys];
    [idx, idx2] = [idx2, idx];
  }
  const first = xf[0];
  const last = xf[2 * n - 2];
  let j = 0;
  for (let q = 0; q < m; q++) {
    const i = idx[q];
    const k = keys[q];
    convU32[0] = k & 0x80000000 ? k ^ 0x80000000 : ~k;
    const x = convF32[0];
    if (Number.isNaN(x)) out[i] = x;
    else if (x < first) out[i] = xf[1];
    else if (x >= last) out[i] = xf[2 * n - 1];
    else {
      while (xf[2 * (j + 1)] <= x) j++;
      out[i] = atSegment(x, j, xf);
    }
  }
}

/** Entries of the float32 memo of {@link interpFloat32Into} (a direct-mapped cache). */
const MEMO = 1 << 14;
const memoKeys = new Int32Array(MEMO);
const memoVals = new Float64Array(MEMO);
/** A float32 NaN payload used as the empty marker (a NaN key maps to NaN anyway). */
const EMPTY = 0x7fc0dead;

/**
 * `np.interp` of a float32 array into `out` (may alias), memoised on the float32 bit pattern:
 * CT cubes windowed from integer HU hold at most 2,001 distinct values, so most voxels hit the
 * memo instead of the 100,000-point table. Results are identical to {@link interpOne}.
 */
function interpFloat32Into(
  input: Float32Array,
  out: Float32Array,
  xf: Float64Array,
  n: number,
  bk: Buckets,
): void {
  const bits = new Int32Array(input.buffer, input.byteOffset, input.length);
  memoKeys.fill(EMPTY);
  const len = input.length;
  // Memo first; if the first 16,384 voxels miss more than a quarter of the time, the input has
  // many distinct values and the sorted walk is cheaper than random table lookups.
  const probe = Math.min(len, 16384);
  let misses = 0;
  for (let i = 0; i < len; i++) {
    const k = bits[i];
    const slot = Math.imul(k ^ (k >>> 16), 0x45d9f3b) >>> 18;
    if (memoKeys[slot] === k) {
      out[i] = memoVals[slot];
    } else {
      const v = interpOne(input[i], xf, n, bk);
      memoKeys[slot] = k;
      memoVals[slot] = v;
      out[i] = v;
      misses++;
    }
    if (i + 1 === probe && len > 4 * probe && misses * 4 > probe) {
      if (input.buffer === out.buffer) {
        // in place: the walk needs the untouched inputs, so finish the rest out of place
        const rest = input.slice(probe);
        interpSortedInto(rest, out.subarray(probe), xf, n);
      } else {
        interpSortedInto(input.subarray(probe), out.subarray(probe), xf, n);
      }
      return;
    }
  }
}

/** Interleave xp and fp into `xf` (length ≥ 2n). */
function interleave(xp: Float64Array, fp: Float64Array, xf: Float64Array): Float64Array {
  const n = xp.length;
  for (let j = 0; j < n; j++) {
    xf[2 * j] = xp[j];
    xf[2 * j + 1] = fp[j];
  }
  return xf;
}

/**
 * Piecewise-linear interpolation with exactly `np.interp`'s semantics (NumPy
 * `compiled_base.c`, `arr_interp`): for a query x, j = the last index with xp[j] ≤ x;
 * x < xp[0] → fp[0]; x ≥ xp[n−1] → fp[n−1]; xp[j] = x → fp[j]; otherwise
 * slope = (fp[j+1] − fp[j]) / (xp[j+1] − xp[j]) and result = slope·(x − xp[j]) + fp[j]
 * (with NumPy's NaN fallbacks). All arithmetic in float64.
 *
 * The search for j is exact: a 16,384-bucket table over [xp[0], xp[n−1]] (bucket edges recomputed
 * and re-checked at query time, so float rounding of the bucket index cannot misplace a query) narrows a binary search.
 *
 * @param xp increasing sample positions (sorted; duplicates allowed), length n ≥ 1.
 * @param fp sample values, length n.
 */
export class Interp1D {
  private readonly xf: Float64Array;
  private readonly n: number;
  private readonly buckets: Buckets;

  constructor(xp: Float64Array, fp: Float64Array) {
    const n = xp.length;
    if (n === 0 || fp.length !== n) {
      throw new Error(
        `transforms/Interp1D: xp and fp must be non-empty and equally long (got ${n} and ${fp.length})`,
      );
    }
    this.n = n;
    this.xf = interleave(xp, fp, new Float64Array(2 * n));
    this.buckets = buildBuckets(xp, new Int32Array(BUCKETS + 1));
  }

  /** Interpolated value at x (float64). NaN in → NaN out. */
  at(x: number): number {
    return interpOne(x, this.xf, this.n, this.buckets);
  }

  /** Map every value of `input` into `out` (may alias `input`); float32 input/output uses the memo. */
  mapInto(input: ArrayLike<number>, out: { [i: number]: number; length: number }): void {
    if (input instanceof Float32Array && out instanceof Float32Array) {
      interpFloat32Into(input, out, this.xf, this.n, this.buckets);
      return;
    }
    for (let i = 0; i < input.length; i++) out[i] = interpOne(input[i], this.xf, this.n, this.buckets);
  }
}

/** Reusable float64 buffers for the hot path (JS is single-threaded; never retained across calls). */
let workspace: {
  n: number;
  x: Float64Array;
  y: Float64Array;
  scratch: Float64Array;
  xf: Float64Array;
  counts: Int32Array;
} | null = null;

function getWorkspace(n: number) {
  if (!workspace || workspace.n < n) {
    workspace = {
      n,
      x: new Float64Array(n),
      y: new Float64Array(n),
      scratch: new Float64Array(n),
      xf: new Float64Array(2 * n),
      counts: new Int32Array(BUCKETS + 1),
    };
  }
  return workspace;
}

/**
 * Apply the non-linear mapping of `params` to `src` into `dst` (may alias): the allocation-free
 * hot path of {@link nonlinearIntensity} and `genesisPair`. Same results as {@link nonlinearValues}.
 */
export function nonlinearInto(
  src: ArrayLike<number>,
  dst: { [i: number]: number; length: number },
  params: NonlinearParams,
): void {
  const n = params.nTimes;
  const ws = getWorkspace(n);
  const { x, y } = bezierCurve(params.points, n, ws);
  const scratch = ws.scratch.subarray(0, n);
  sortRunsInPlace(x, scratch);
  if (params.mode === "sort_both") sortRunsInPlace(y, scratch);
  const bk = buildBuckets(x, ws.counts);
  const xf = interleave(x, y, ws.xf);
  if (src instanceof Float32Array && dst instanceof Float32Array) {
    interpFloat32Into(src, dst, xf, n, bk);
    return;
  }
  for (let i = 0; i < src.length; i++) dst[i] = interpOne(src[i], xf, n, bk);
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
  nonlinearInto(input, out, params);
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
      nonlinearInto(input.data, out, params);
      return { ...input, data: out };
    },
    applyInto: (src, dst, _shape, params) => nonlinearInto(src, dst, params),
  };
}
