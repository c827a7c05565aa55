import { assertSameLength, MetricInputError } from "./errors.js";

/**
 * What {@link hausdorff95} returns when a mask is empty (a distance to nothing is undefined):
 * - `"nan"`: `NaN` whenever either mask is empty (MONAI `compute_hausdorff_distance` does this).
 * - `"bounded"`: 0 when both are empty (perfect agreement on nothing); when exactly one is empty,
 *   the diagonal of the volume in mm, √Σ(nᵢ·sᵢ)², the largest distance the grid can express.
 * Required: there is no default.
 */
export type HausdorffEmptyPolicy = "nan" | "bounded";

/** Options of {@link hausdorff95} / {@link hausdorffPercentile}. */
export interface HausdorffOptions {
  /** Voxel spacing in mm along (x, y, z), same order as `shape`. */
  spacing: readonly [number, number, number] | readonly number[];
  /** Strict binarisation threshold for both arrays (`> threshold`), default 0.5. */
  threshold?: number;
  /** See {@link HausdorffEmptyPolicy}. Required. */
  emptyPolicy: HausdorffEmptyPolicy;
}

const BIG = 1e20;

function checkShape(fn: string, shape: readonly number[], n: number, spacing: readonly number[]): void {
  if (shape.length !== 3 || shape.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new MetricInputError(
      `${fn}: shape must be 3 positive integers (x, y, z), got [${shape.join(", ")}]`,
    );
  }
  if (shape[0] * shape[1] * shape[2] !== n) {
    throw new MetricInputError(
      `${fn}: shape [${shape.join(", ")}] holds ${shape[0] * shape[1] * shape[2]} voxels but the arrays have ${n}`,
    );
  }
  if (spacing?.length !== 3 || spacing.some((s) => !(s > 0) || !Number.isFinite(s))) {
    throw new MetricInputError(
      `${fn}: spacing must be 3 positive finite mm values, got [${spacing?.join(", ")}]`,
    );
  }
}

/**
 * Surface voxels of a binary mask: foreground voxels with at least one 6-connected neighbour that is
 * background or outside the volume — i.e. `mask XOR binary_erosion(mask)` with SciPy's default
 * cross-shaped structure and zero border (MONAI `get_mask_edges`).
 *
 * @param mask (X·Y·Z) 0/1, C order over (x, y, z), z fastest
 * @param shape [X, Y, Z]
 * @returns (X·Y·Z) Uint8Array, 1 on the surface
 */
export function surfaceVoxels(mask: ArrayLike<number>, shape: readonly number[]): Uint8Array {
  const [nx, ny, nz] = shape;
  const syz = ny * nz;
  const out = new Uint8Array(nx * ny * nz);
  for (let x = 0; x < nx; x++) {
    for (let y = 0; y < ny; y++) {
      for (let z = 0; z < nz; z++) {
        const i = x * syz + y * nz + z;
        if (!mask[i]) continue;
        if (
          x === 0 ||
          x === nx - 1 ||
          y === 0 ||
          y === ny - 1 ||
          z === 0 ||
          z === nz - 1 ||
          !mask[i - syz] ||
          !mask[i + syz] ||
          !mask[i - nz] ||
          !mask[i + nz] ||
          !mask[i - 1] ||
          !mask[i + 1]
        ) {
          out[i] = 1;
        }
      }
    }
  }
  return out;
}

/**
 * Exact squared Euclidean distance (mm²) from every voxel to the nearest voxel with `feature = 1`,
 * for anisotropic spacing — Felzenszwalb & Huttenlocher's separable lower-envelope algorithm, one
 * pass per axis. Voxels with no feature in the volume get ≥ 1e20.
 *
 * @param feature (X·Y·Z) 0/1, C order over (x, y, z)
 * @param shape [X, Y, Z]
 * @param spacing mm per axis
 */
export function squaredDistanceTransform(
  feature: ArrayLike<number>,
  shape: readonly number[],
  spacing: readonly number[],
): Float64Array {
  const [nx, ny, nz] = shape;
  const n = nx * ny * nz;
  const d = new Float64Array(n);
  for (let i = 0; i < n; i++) d[i] = feature[i] ? 0 : BIG;
  const maxLen = Math.max(nx, ny, nz);
  const f = new Float64Array(maxLen);
  const out = new Float64Array(maxLen);
  const v = new Int32Array(maxLen);
  const zb = new Float64Array(maxLen + 1);
  const strides = [ny * nz, nz, 1];
  for (let axis = 0; axis < 3; axis++) {
    const len = shape[axis];
    const stride = strides[axis];
    const sp = spacing[axis];
    // iterate over all lines along `axis`
    const others = [0, 1, 2].filter((a) => a !== axis);
    const [a0, a1] = others;
    for (let i0 = 0; i0 < shape[a0]; i0++) {
      for (let i1 = 0; i1 < shape[a1]; i1++) {
        const base = i0 * strides[a0] + i1 * strides[a1];
        for (let q = 0; q < len; q++) f[q] = d[base + q * stride];
        edt1d(f, len, sp, out, v, zb);
        for (let q = 0; q < len; q++) d[base + q * stride] = out[q];
      }
    }
  }
  return d;
}

function edt1d(
  f: Float64Array,
  n: number,
  sp: number,
  out: Float64Array,
  v: Int32Array,
  z: Float64Array,
): void {
  let k = 0;
  v[0] = 0;
  z[0] = Number.NEGATIVE_INFINITY;
  z[1] = Number.POSITIVE_INFINITY;
  for (let q = 1; q < n; q++) {
    const pq = q * sp;
    // z[0] = −∞, so the loop stops at k = 0 at the latest
    let s = (f[q] + pq * pq - (f[v[k]] + v[k] * sp * v[k] * sp)) / (2 * (pq - v[k] * sp));
    while (s <= z[k]) {
      k--;
      const pv = v[k] * sp;
      s = (f[q] + pq * pq - (f[v[k]] + pv * pv)) / (2 * (pq - pv));
    }
    k++;
    v[k] = q;
    z[k] = s;
    z[k + 1] = Number.POSITIVE_INFINITY;
  }
  k = 0;
  for (let q = 0; q < n; q++) {
    const pq = q * sp;
    while (z[k + 1] < pq) k++;
    const dv = pq - v[k] * sp;
    out[q] = dv * dv + f[v[k]];
  }
}

/** Linear-interpolated percentile of a sorted array (NumPy's default `method="linear"`). */
function percentileSorted(sorted: Float64Array, p: number): number {
  const pos = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
}

function directedDistances(fromSurface: Uint8Array, dtToOther: Float64Array): Float64Array {
  let count = 0;
  for (let i = 0; i < fromSurface.length; i++) count += fromSurface[i];
  const out = new Float64Array(count);
  let j = 0;
  for (let i = 0; i < fromSurface.length; i++) if (fromSurface[i]) out[j++] = Math.sqrt(dtToOther[i]);
  return out.sort();
}

/**
 * Symmetric percentile Hausdorff distance in mm between the surfaces of two 3-D binary masks:
 * max(P_p(d(A→B)), P_p(d(B→A))), where d(A→B) are the Euclidean distances (mm, using `spacing`)
 * from each surface voxel of A to the nearest surface voxel of B ({@link surfaceVoxels}), and P_p
 * is the linear-interpolated p-th percentile. This is MONAI's `compute_hausdorff_distance(…,
 * percentile=p, directed=False)`.
 *
 * @param pred (X·Y·Z) probabilities or mask, C order over (x, y, z), z fastest
 * @param target (X·Y·Z) mask
 * @param shape [X, Y, Z]
 * @param p percentile in [0, 100] (100 = classic Hausdorff)
 * @throws MetricInputError on length/shape/spacing mismatch or a missing empty policy
 */
export function hausdorffPercentile(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  shape: readonly number[],
  p: number,
  opts: HausdorffOptions,
): number {
  const fn = "hausdorffPercentile";
  assertSameLength(fn, pred, target);
  if (!opts || (opts.emptyPolicy !== "nan" && opts.emptyPolicy !== "bounded")) {
    throw new MetricInputError(`${fn}: options.emptyPolicy is required ("nan" or "bounded")`);
  }
  checkShape(fn, shape, pred.length, opts.spacing);
  if (!(p >= 0 && p <= 100)) throw new MetricInputError(`${fn}: percentile must be in [0, 100], got ${p}`);
  const thr = opts.threshold ?? 0.5;
  const n = pred.length;
  const a = new Uint8Array(n);
  const b = new Uint8Array(n);
  let na = 0;
  let nb = 0;
  for (let i = 0; i < n; i++) {
    if (pred[i] > thr) {
      a[i] = 1;
      na++;
    }
    if (target[i] > thr) {
      b[i] = 1;
      nb++;
    }
  }
  if (na === 0 || nb === 0) {
    if (opts.emptyPolicy === "nan") return Number.NaN;
    if (na === 0 && nb === 0) return 0;
    const sp = opts.spacing;
    return Math.hypot(shape[0] * sp[0], shape[1] * sp[1], shape[2] * sp[2]);
  }
  const sa = surfaceVoxels(a, shape);
  const sb = surfaceVoxels(b, shape);
  const dtA = squaredDistanceTransform(sa, shape, opts.spacing);
  const dtB = squaredDistanceTransform(sb, shape, opts.spacing);
  const ab = directedDistances(sa, dtB);
  const ba = directedDistances(sb, dtA);
  return Math.max(percentileSorted(ab, p), percentileSorted(ba, p));
}

/**
 * 95th-percentile Hausdorff distance (HD95) in mm between two 3-D masks — see
 * {@link hausdorffPercentile} for the definition (surface voxels, symmetric, linear percentile).
 *
 * @param pred (X·Y·Z) probabilities or mask, C order over (x, y, z), z fastest
 * @param target (X·Y·Z) mask
 * @param shape [X, Y, Z]
 * @param opts spacing (mm, x/y/z), threshold (default 0.5), required emptyPolicy
 * @returns HD95 in mm
 */
export function hausdorff95(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  shape: readonly number[],
  opts: HausdorffOptions,
): number {
  return hausdorffPercentile(pred, target, shape, 95, opts);
}

/** Result of {@link Hausdorff95Accumulator.compute}. */
export interface Hausdorff95Summary {
  /**
   * Mean HD95 in mm over the included cases. `"bounded"`: every case is included (both masks empty
   * = 0, one empty = the volume diagonal, the worst case). `"nan"`: cases with both masks empty are
   * excluded (no distance, and no failure); a case with exactly one empty mask (a missed structure or
   * a false alarm) has no distance but is a failure, so it is never dropped — the mean is then NaN
   * and `failures` says how many and which (MONAI#9095: dropping them makes HD95 improve as the model
   * finds fewer structures). NaN also when no case is included.
   */
  meanHd95: number;
  /** Number of `update` calls. */
  cases: number;
  /** Cases in the mean (`"nan"`: both masks non-empty, plus the failures that make it NaN). */
  includedCases: number;
  /** Cases left out of the mean, by reason (only `"nan"` leaves any out). */
  excluded: { bothEmpty: number };
  /** Cases with exactly one empty mask, by which one: prediction empty (missed), target empty (false alarm). */
  failures: { predEmpty: number; targetEmpty: number };
}

/**
 * Mean of per-case HD95 values with the empty-mask cases accounted for: see
 * {@link Hausdorff95Summary} for which cases enter the mean, and the package README's policy table.
 */
export class Hausdorff95Accumulator {
  private sum = 0;
  private n = 0;
  private bothEmpty = 0;
  private predEmpty = 0;
  private targetEmpty = 0;
  constructor(private readonly opts: HausdorffOptions) {
    if (!opts || (opts.emptyPolicy !== "nan" && opts.emptyPolicy !== "bounded")) {
      throw new MetricInputError(
        'Hausdorff95Accumulator: options.emptyPolicy is required ("nan" or "bounded")',
      );
    }
  }

  /** Add one 3-D case; arrays and shape as in {@link hausdorff95}. */
  update(pred: ArrayLike<number>, target: ArrayLike<number>, shape: readonly number[]): void {
    const v = hausdorff95(pred, target, shape, this.opts);
    this.n++;
    const thr = this.opts.threshold ?? 0.5;
    const pe = isEmpty(pred, thr);
    const te = isEmpty(target, thr);
    if (pe && te) {
      if (this.opts.emptyPolicy === "nan") {
        this.bothEmpty++;
        return;
      }
    } else if (pe) this.predEmpty++;
    else if (te) this.targetEmpty++;
    this.sum += v; // NaN for a failure under "nan": the mean says so
  }

  /** The mean with its counts; see {@link Hausdorff95Summary}. */
  compute(): Hausdorff95Summary {
    const included = this.n - this.bothEmpty;
    return {
      meanHd95: included > 0 ? this.sum / included : Number.NaN,
      cases: this.n,
      includedCases: included,
      excluded: { bothEmpty: this.bothEmpty },
      failures: { predEmpty: this.predEmpty, targetEmpty: this.targetEmpty },
    };
  }

  reset(): void {
    this.sum = 0;
    this.n = 0;
    this.bothEmpty = 0;
    this.predEmpty = 0;
    this.targetEmpty = 0;
  }
}

function isEmpty(a: ArrayLike<number>, thr: number): boolean {
  for (let i = 0; i < a.length; i++) if (a[i] > thr) return false;
  return true;
}
