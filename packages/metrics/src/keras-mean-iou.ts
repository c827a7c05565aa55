import { assertSameLength } from "./errors.js";

/**
 * The thresholds of the reference's Keras `mean_iou`: `np.arange(0.5, 1.0, 0.05)` =
 * 0.50, 0.55, …, 0.95 (10 values) (`keras/downstream_tasks/utils.py`). Each is computed as
 * numpy does (0.5 + k·0.05 in float64) and then rounded to float32, because TensorFlow casts the
 * Python float to the float32 dtype of `y_pred` before `y_pred > t`.
 */
export const KERAS_MEAN_IOU_THRESHOLDS: readonly number[] = Object.freeze(
  Array.from({ length: 10 }, (_, k) => Math.fround(0.5 + k * 0.05)),
);

/**
 * Two-class mean IoU of one confusion matrix, exactly as TF1 `tf.metrics.mean_iou(…, num_classes=2)`
 * computes it: per class c, IoU_c = cm[c][c] / (row_c + col_c − cm[c][c]); classes whose denominator
 * is 0 (absent from both labels and predictions) are left out of the mean; 0 when no class is valid.
 *
 * @param cm 2×2 counts flattened row-major: [tn, fp, fn, tp] = [[t0p0, t0p1], [t1p0, t1p1]]
 */
export function twoClassMeanIoU(cm: ArrayLike<number>): number {
  const [c00, c01, c10, c11] = [cm[0], cm[1], cm[2], cm[3]];
  const den0 = c00 + c01 + c10; // row0 + col0 − diag0
  const den1 = c11 + c10 + c01;
  let sum = 0;
  let valid = 0;
  if (den0 > 0) {
    sum += c00 / den0;
    valid++;
  }
  if (den1 > 0) {
    sum += c11 / den1;
    valid++;
  }
  return valid > 0 ? sum / valid : 0;
}

/**
 * The paper's IoU: the reference's Keras `mean_iou` metric (`keras/downstream_tasks/utils.py`),
 * accumulated over a dataset. For each threshold t in {@link KERAS_MEAN_IOU_THRESHOLDS} it keeps a
 * 2×2 confusion matrix of (target, pred > t) over every voxel seen; `compute()` is the mean over
 * thresholds of the two-class (background + foreground) mean IoU ({@link twoClassMeanIoU}).
 *
 * Because background is included it reads much higher than foreground IoU (the reference notes
 * 77.14 % vs 59.22 % for one NCS run, `spec/reference-facts.md`). Report it named as such, beside
 * the plain foreground {@link iou}.
 *
 * Empty policy: TF's own — a class absent from both target and prediction is excluded from the mean;
 * with no data at all the value is 0. Target voxels are foreground when `target > 0.5` (TF casts the
 * 0/1 labels to int; identical for 0/1 masks).
 */
export class KerasMeanIoUAccumulator {
  /** 10 thresholds × [t0p0, t0p1, t1p0, t1p1] */
  private readonly cms = new Float64Array(KERAS_MEAN_IOU_THRESHOLDS.length * 4);

  /**
   * Add a batch or a case.
   * @param pred probabilities (sigmoid output), any shape, flattened
   * @param target 0/1 mask of the same length
   * @throws MetricInputError on length mismatch
   */
  update(pred: ArrayLike<number>, target: ArrayLike<number>): void {
    assertSameLength("KerasMeanIoUAccumulator.update", pred, target);
    const ts = KERAS_MEAN_IOU_THRESHOLDS;
    const nt = ts.length;
    const cms = this.cms;
    for (let i = 0; i < pred.length; i++) {
      const p = pred[i];
      const row = target[i] > 0.5 ? 2 : 0;
      for (let k = 0; k < nt; k++) {
        cms[k * 4 + row + (p > ts[k] ? 1 : 0)]++;
      }
    }
  }

  /** Mean over the 10 thresholds of the two-class mean IoU of the accumulated matrices. */
  compute(): number {
    let s = 0;
    const nt = KERAS_MEAN_IOU_THRESHOLDS.length;
    for (let k = 0; k < nt; k++) s += twoClassMeanIoU(this.cms.subarray(k * 4, k * 4 + 4));
    return s / nt;
  }

  /** Per-threshold two-class mean IoU, in threshold order. */
  computePerThreshold(): number[] {
    return KERAS_MEAN_IOU_THRESHOLDS.map((_, k) => twoClassMeanIoU(this.cms.subarray(k * 4, k * 4 + 4)));
  }

  reset(): void {
    this.cms.fill(0);
  }
}

/**
 * One-shot paper IoU (Keras `mean_iou`) of one array pair — e.g. a whole test set's predictions and
 * masks flattened together, which is how the reference evaluates. See {@link KerasMeanIoUAccumulator}.
 *
 * @param pred probabilities, any shape, flattened
 * @param target 0/1 mask, same length
 * @returns value in [0, 1]
 * @throws MetricInputError on length mismatch
 */
export function kerasMeanIoU(pred: ArrayLike<number>, target: ArrayLike<number>): number {
  const acc = new KerasMeanIoUAccumulator();
  acc.update(pred, target);
  return acc.compute();
}
