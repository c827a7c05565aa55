import { assertSameLength, MetricInputError } from "./errors.js";

/**
 * What {@link rocAuc} does when the labels hold only one class (AUC is undefined):
 * `"throw"` raises a {@link MetricInputError} (scikit-learn's `roc_auc_score` raises ValueError);
 * `"nan"` returns `NaN` (useful for a validation split that happens to miss a class) and says so:
 * through `warn` when given, and always in {@link RocAucSummary.undefinedReason}.
 */
export type SingleClassPolicy = "throw" | "nan";

/** Options of {@link rocAuc}. */
export interface RocAucOptions {
  /** Default `"throw"`. */
  singleClass?: SingleClassPolicy;
  /**
   * Called with one line (the class counts and "returning NaN") each time `"nan"` returns NaN for
   * single-class labels, e.g. the training log. Default: nothing is called.
   */
  warn?: (message: string) => void;
}

/** {@link rocAucSummary}: the AUC with the counts it rests on. */
export interface RocAucSummary {
  /** ROC AUC, or NaN when the labels hold one class. */
  auc: number;
  samples: number;
  positives: number;
  negatives: number;
  /** Why `auc` is NaN (`"only one class: 0 positive, 12 negative"`); absent when it is defined. */
  undefinedReason?: string;
}

/**
 * Area under the ROC curve of binary `labels` (> 0.5 = positive) ranked by `scores`.
 *
 * Computed with the Mann–Whitney rank statistic, AUC = (R₊ − n₊(n₊+1)/2) / (n₊·n₋), where R₊ is the
 * sum of the positives' ranks with tied scores given their average rank. This equals the trapezoidal
 * area under the ROC curve with ties as diagonal segments — the value of scikit-learn's
 * `roc_auc_score` and of the reference's `metrics.auc(*metrics.roc_curve(y, p))`
 * (`keras/downstream_tasks/utils.py`, `classification_model_evaluation`).
 *
 * @param scores (N) predicted scores/probabilities; NaN is rejected
 * @param labels (N) 0/1 labels
 * @throws MetricInputError on length mismatch, empty input, NaN scores, or a single class under `"throw"`
 */
export function rocAuc(
  scores: ArrayLike<number>,
  labels: ArrayLike<number>,
  opts: RocAucOptions = {},
): number {
  const r = rocAucSummary(scores, labels);
  if (r.undefinedReason) {
    const msg = `rocAuc: labels hold ${r.undefinedReason}; ROC AUC is undefined`;
    if ((opts.singleClass ?? "throw") === "nan") {
      opts.warn?.(`${msg}, returning NaN`);
      return Number.NaN;
    }
    throw new MetricInputError(msg);
  }
  return r.auc;
}

/**
 * {@link rocAuc} with its counts, never throwing for single-class labels: `auc` is NaN then and
 * `undefinedReason` says why (for reports that aggregate several folds and must count the undefined ones).
 * @param scores (N) predicted scores/probabilities; NaN is rejected
 * @param labels (N) 0/1 labels (> 0.5 = positive)
 * @throws MetricInputError on length mismatch, empty input or NaN scores
 */
export function rocAucSummary(scores: ArrayLike<number>, labels: ArrayLike<number>): RocAucSummary {
  assertSameLength("rocAuc", scores, labels, ["scores", "labels"]);
  const n = scores.length;
  if (n === 0) throw new MetricInputError("rocAuc: scores and labels are empty");
  const idx = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(scores[i])) throw new MetricInputError(`rocAuc: scores[${i}] is NaN`);
    idx[i] = i;
  }
  idx.sort((a, b) => (scores[a] < scores[b] ? -1 : scores[a] > scores[b] ? 1 : 0)); // ±Infinity-safe
  let nPos = 0;
  let rankSumPos = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    const s = scores[idx[i]];
    while (j + 1 < n && scores[idx[j + 1]] === s) j++;
    const avgRank = (i + j) / 2 + 1; // ranks are 1-based
    for (let k = i; k <= j; k++) {
      if (labels[idx[k]] > 0.5) {
        nPos++;
        rankSumPos += avgRank;
      }
    }
    i = j + 1;
  }
  const nNeg = n - nPos;
  const counts = { samples: n, positives: nPos, negatives: nNeg };
  if (nPos === 0 || nNeg === 0) {
    return {
      auc: Number.NaN,
      ...counts,
      undefinedReason: `only one class (${nPos} positive, ${nNeg} negative)`,
    };
  }
  return { auc: (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg), ...counts };
}

/** Collects scores and labels batch by batch; `compute()` is {@link rocAuc} over everything seen. */
export class RocAucAccumulator {
  private scores: number[] = [];
  private labels: number[] = [];
  constructor(private readonly opts: RocAucOptions = {}) {}

  /** @param scores (B) or (B, 1) flattened; @param labels same length, 0/1 */
  update(scores: ArrayLike<number>, labels: ArrayLike<number>): void {
    assertSameLength("RocAucAccumulator.update", scores, labels, ["scores", "labels"]);
    for (let i = 0; i < scores.length; i++) {
      this.scores.push(scores[i]);
      this.labels.push(labels[i]);
    }
  }

  /** @throws MetricInputError as {@link rocAuc} (also when nothing was added) */
  compute(): number {
    return rocAuc(this.scores, this.labels, this.opts);
  }

  /** {@link rocAucSummary} over everything seen: the AUC, the class counts and why it is undefined. */
  summary(): RocAucSummary {
    return rocAucSummary(this.scores, this.labels);
  }

  reset(): void {
    this.scores = [];
    this.labels = [];
  }
}
