// Test oracle shared by the fine-tuning tests (packages/train, apps/ncs): metrics counted voxel by
// voxel, independently of @models-genesis/metrics.

/**
 * Dice and IoU of `pred > 0.5` against the 0/1 mask, and the paper's IoU (Keras `mean_iou`: over
 * the thresholds 0.5, 0.55, …, 0.95, the mean of background and foreground IoU), from voxel counts.
 */
export function countedMetrics(pred: ArrayLike<number>, mask: ArrayLike<number>) {
  const count = (t: number) => {
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    for (let i = 0; i < pred.length; i++) {
      const p = pred[i] > t;
      const m = mask[i] > 0.5;
      if (p && m) tp++;
      else if (p) fp++;
      else if (m) fn++;
      else tn++;
    }
    return { tp, fp, fn, tn };
  };
  const { tp, fp, fn } = count(0.5);
  let paper = 0;
  for (let k = 0; k < 10; k++) {
    const c = count(0.5 + 0.05 * k);
    const ious = [c.tn / (c.tn + c.fp + c.fn), c.tp / (c.tp + c.fp + c.fn)].filter((v) => !Number.isNaN(v));
    paper += ious.reduce((a, b) => a + b, 0) / ious.length / 10;
  }
  return { dice: (2 * tp) / (2 * tp + fp + fn), iou: tp / (tp + fp + fn), paperIoU: paper };
}
