import { assertSameLength, MetricInputError } from "./errors.js";

/**
 * What {@link rocAuc} does when the labels hold only one class (AUC is undefined):
 * `"throw"` raises a {@link MetricInputError} (scikit-learn's `roc_auc_score` raises ValueError);
 * `"nan"` returns `NaN` (useful for a validation split that happens to miss a class).
 */
export type SingleClassPolicy = "throw" | "nan";

/** Options of {@link rocAuc}. */
export interface RocAucOptions {
  /** Default `"throw"`. */
  singleClass?: SingleClassPolicy;
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
  if (nPos === 0 || nNeg === 0) {
    if ((opts.singleClass ?? "throw") === "nan") return Number.NaN;
    throw new MetricInputError(
      `rocAuc: labels hold only one class (${nPos} positive, ${nNeg} negative); ROC AUC is undefined`,
    );
  }
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
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

  reset(): void {
    this.scores = [];
    this.labels = [];
  }
}
