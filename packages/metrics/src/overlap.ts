import { assertSameLength, MetricInputError } from "./errors.js";

/**
 * What a ratio metric returns when its denominator is zero — for Dice and IoU that is "both masks
 * empty", for sensitivity "no positive voxels in the target", for specificity "no negative voxels".
 *
 * - `"one"`: return 1 (perfect agreement on nothing). The reference's binary `dice(im1, im2,
 *   empty_score=1.0)` in `keras/downstream_tasks/utils.py` does this.
 * - `"zero"`: return 0.
 * - `"nan"`: return `NaN` (0/0). The reference's binary `iou(im1, im2)` in
 *   `keras/downstream_tasks/utils.py` has no empty rule and divides 0 by 0, i.e. this.
 *
 * There is deliberately no default: every caller states the policy (MONAI `compute_iou`'s
 * `ignore_empty` is required in the same spirit).
 */
export type EmptyPolicy = "one" | "zero" | "nan";

/** The reference's empty policy for binary Dice (`keras/downstream_tasks/utils.py`, `empty_score=1.0`). */
export const REFERENCE_DICE_EMPTY_POLICY: EmptyPolicy = "one";
/** The reference's (absent) empty rule for binary IoU: 0/0 = NaN (`keras/downstream_tasks/utils.py`, `iou`). */
export const REFERENCE_IOU_EMPTY_POLICY: EmptyPolicy = "nan";

/** Options of the binary overlap metrics. */
export interface BinaryMetricOptions {
  /**
   * Binarisation threshold, applied to both arrays with a strict `>` (the reference thresholds both
   * masks with `> 0.5`, `keras/downstream_tasks/utils.py`). Default 0.5.
   */
  threshold?: number;
  /** Value when the denominator is zero; see {@link EmptyPolicy}. Required. */
  emptyPolicy: EmptyPolicy;
}

/** Counts of a binary confusion matrix (voxels or samples). */
export interface BinaryConfusion {
  /** pred = 1, target = 1 */
  tp: number;
  /** pred = 1, target = 0 */
  fp: number;
  /** pred = 0, target = 1 */
  fn: number;
  /** pred = 0, target = 0 */
  tn: number;
}

/**
 * Binary confusion counts of `pred > threshold` against `target > threshold`.
 *
 * @param pred probabilities or a mask, any shape, flattened (e.g. an NDHWC batch in C order)
 * @param target mask of the same length (values 0/1, or probabilities)
 * @param threshold strict binarisation threshold for both arrays, default 0.5
 * @throws MetricInputError if the lengths differ
 */
export function binaryConfusion(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  threshold = 0.5,
): BinaryConfusion {
  assertSameLength("binaryConfusion", pred, target);
  let tp = 0;
  let fp = 0;
  let fn = 0;
  const n = pred.length;
  for (let i = 0; i < n; i++) {
    const p = pred[i] > threshold;
    const t = target[i] > threshold;
    if (p) {
      if (t) tp++;
      else fp++;
    } else if (t) fn++;
  }
  return { tp, fp, fn, tn: n - tp - fp - fn };
}

function ratio(num: number, den: number, policy: EmptyPolicy, fn: string): number {
  if (den > 0) return num / den;
  switch (policy) {
    case "one":
      return 1;
    case "zero":
      return 0;
    case "nan":
      return Number.NaN;
    default:
      throw new MetricInputError(
        `${fn}: unknown emptyPolicy ${JSON.stringify(policy)} (use "one", "zero" or "nan")`,
      );
  }
}

function checkPolicy(fn: string, opts: BinaryMetricOptions | undefined): void {
  if (!opts || opts.emptyPolicy === undefined) {
    throw new MetricInputError(`${fn}: options.emptyPolicy is required ("one", "zero" or "nan")`);
  }
}

/** Dice = 2·TP / (2·TP + FP + FN) from confusion counts; `policy` when both masks are empty. */
export function diceFromConfusion(c: BinaryConfusion, policy: EmptyPolicy): number {
  return ratio(2 * c.tp, 2 * c.tp + c.fp + c.fn, policy, "diceFromConfusion");
}

/** IoU (Jaccard) = TP / (TP + FP + FN) from confusion counts; `policy` when both masks are empty. */
export function iouFromConfusion(c: BinaryConfusion, policy: EmptyPolicy): number {
  return ratio(c.tp, c.tp + c.fp + c.fn, policy, "iouFromConfusion");
}

/** Sensitivity (recall, TPR) = TP / (TP + FN); `policy` when the target has no positives. */
export function sensitivityFromConfusion(c: BinaryConfusion, policy: EmptyPolicy): number {
  return ratio(c.tp, c.tp + c.fn, policy, "sensitivityFromConfusion");
}

/** Specificity (TNR) = TN / (TN + FP); `policy` when the target has no negatives. */
export function specificityFromConfusion(c: BinaryConfusion, policy: EmptyPolicy): number {
  return ratio(c.tn, c.tn + c.fp, policy, "specificityFromConfusion");
}

/**
 * Binary Dice coefficient of `pred > threshold` and `target > threshold`, over all elements
 * together (one case, or a whole flattened dataset as the reference's `dice(p, y)` does).
 * This is the hard (thresholded) Dice; the soft Dice loss lives in `@models-genesis/train`.
 *
 * @param pred probabilities or mask, any shape, flattened
 * @param target mask, same length
 * @param opts threshold (default 0.5, strict `>`) and the required `emptyPolicy`
 *   (reference: `"one"`, see {@link REFERENCE_DICE_EMPTY_POLICY})
 * @returns Dice in [0, 1]
 * @throws MetricInputError on length mismatch or a missing policy
 */
export function dice(pred: ArrayLike<number>, target: ArrayLike<number>, opts: BinaryMetricOptions): number {
  checkPolicy("dice", opts);
  return diceFromConfusion(binaryConfusion(pred, target, opts.threshold ?? 0.5), opts.emptyPolicy);
}

/**
 * Foreground IoU (Jaccard) of `pred > threshold` and `target > threshold` — the plain binary IoU
 * (reference `iou(im1, im2)`, whose empty case is 0/0 = `"nan"`). Not the paper's IoU: see
 * {@link kerasMeanIoU}.
 *
 * @param pred probabilities or mask, any shape, flattened
 * @param target mask, same length
 * @param opts threshold (default 0.5, strict `>`) and the required `emptyPolicy`
 * @returns IoU in [0, 1]
 * @throws MetricInputError on length mismatch or a missing policy
 */
export function iou(pred: ArrayLike<number>, target: ArrayLike<number>, opts: BinaryMetricOptions): number {
  checkPolicy("iou", opts);
  return iouFromConfusion(binaryConfusion(pred, target, opts.threshold ?? 0.5), opts.emptyPolicy);
}

/**
 * Sensitivity (recall) of `pred > threshold` against `target > threshold`.
 * @param opts `emptyPolicy` applies when the target has no positive element
 * @throws MetricInputError on length mismatch or a missing policy
 */
export function sensitivity(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  opts: BinaryMetricOptions,
): number {
  checkPolicy("sensitivity", opts);
  return sensitivityFromConfusion(binaryConfusion(pred, target, opts.threshold ?? 0.5), opts.emptyPolicy);
}

/**
 * Specificity of `pred > threshold` against `target > threshold`.
 * @param opts `emptyPolicy` applies when the target has no negative element
 * @throws MetricInputError on length mismatch or a missing policy
 */
export function specificity(
  pred: ArrayLike<number>,
  target: ArrayLike<number>,
  opts: BinaryMetricOptions,
): number {
  checkPolicy("specificity", opts);
  return specificityFromConfusion(binaryConfusion(pred, target, opts.threshold ?? 0.5), opts.emptyPolicy);
}

/** Result of {@link BinarySegmentationAccumulator.compute}. */
export interface BinarySegmentationSummary {
  /** Dataset-level (micro) values from the summed confusion counts — the reference's `dice(p, y)` over the test set. */
  dice: number;
  iou: number;
  sensitivity: number;
  specificity: number;
  /**
   * Mean over cases of the per-case Dice / IoU (each case = one `update` call), with the same empty
   * policy. Under `"nan"` a case whose masks are both empty has no Dice or IoU: it is left out of
   * these two means and counted in `excluded.bothEmpty` (it is not a failure: prediction and target
   * agree). Under `"one"` / `"zero"` every case is in the means. NaN only when no case is left.
   */
  meanCaseDice: number;
  meanCaseIoU: number;
  /** Summed confusion counts. */
  confusion: BinaryConfusion;
  /** Number of `update` calls (cases) since the last reset. */
  cases: number;
  /** Cases in `meanCaseDice` / `meanCaseIoU` (= `cases − excluded.bothEmpty`). */
  includedCases: number;
  /** Cases left out of the per-case means, by reason. */
  excluded: { bothEmpty: number };
}

/**
 * Dataset-level binary segmentation metrics. Each `update(pred, target)` adds one case's confusion
 * counts; `compute()` returns both the dataset-level (micro) ratios and the mean of per-case ratios,
 * with how many cases the means left out and why (see {@link BinarySegmentationSummary}).
 */
export class BinarySegmentationAccumulator {
  private readonly threshold: number;
  private readonly emptyPolicy: EmptyPolicy;
  private total: BinaryConfusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  private diceSum = 0;
  private iouSum = 0;
  private n = 0;
  private bothEmpty = 0;

  /** @param opts threshold (default 0.5) and the required empty policy (used for micro and per-case values) */
  constructor(opts: BinaryMetricOptions) {
    checkPolicy("BinarySegmentationAccumulator", opts);
    this.threshold = opts.threshold ?? 0.5;
    this.emptyPolicy = opts.emptyPolicy;
  }

  /** Add one case (or batch treated as one case). Arrays as in {@link binaryConfusion}. */
  update(pred: ArrayLike<number>, target: ArrayLike<number>): void {
    const c = binaryConfusion(pred, target, this.threshold);
    this.total = {
      tp: this.total.tp + c.tp,
      fp: this.total.fp + c.fp,
      fn: this.total.fn + c.fn,
      tn: this.total.tn + c.tn,
    };
    this.n++;
    // Dice and IoU share their zero denominator (both masks empty): undefined under "nan"
    const d = diceFromConfusion(c, this.emptyPolicy);
    if (Number.isNaN(d)) {
      this.bothEmpty++;
      return;
    }
    this.diceSum += d;
    this.iouSum += iouFromConfusion(c, this.emptyPolicy);
  }

  /** Values over everything seen since the last reset. `meanCase*` are NaN when no case is included. */
  compute(): BinarySegmentationSummary {
    const p = this.emptyPolicy;
    const included = this.n - this.bothEmpty;
    return {
      dice: diceFromConfusion(this.total, p),
      iou: iouFromConfusion(this.total, p),
      sensitivity: sensitivityFromConfusion(this.total, p),
      specificity: specificityFromConfusion(this.total, p),
      meanCaseDice: included > 0 ? this.diceSum / included : Number.NaN,
      meanCaseIoU: included > 0 ? this.iouSum / included : Number.NaN,
      confusion: { ...this.total },
      cases: this.n,
      includedCases: included,
      excluded: { bothEmpty: this.bothEmpty },
    };
  }

  reset(): void {
    this.total = { tp: 0, fp: 0, fn: 0, tn: 0 };
    this.diceSum = 0;
    this.iouSum = 0;
    this.n = 0;
    this.bothEmpty = 0;
  }
}
