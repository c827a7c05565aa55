import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  dice,
  type EmptyPolicy,
  hausdorff95,
  hausdorffPercentile,
  iou,
  KerasMeanIoUAccumulator,
  kerasMeanIoU,
  RocAucAccumulator,
  rocAuc,
  sensitivity,
  specificity,
} from "../src/index.js";

interface Fixtures {
  binary: Array<Record<string, unknown> & { pred: number[]; target: number[]; empty: boolean }>;
  kerasMeanIoU: Array<{
    pred: number[];
    target: number[];
    expected: number;
    perThreshold: number[];
    chunks: number[];
  }>;
  rocAuc: Array<{ scores: number[]; labels: number[]; expected: number; expectedTrapezoid: number }>;
  hausdorff: Array<{
    shape: number[];
    spacing: number[];
    pred: number[];
    target: number[];
    hd95: number;
    hd100: number;
    hd50: number;
  }>;
}

const here = dirname(fileURLToPath(import.meta.url));
const fx = JSON.parse(readFileSync(join(here, "fixtures", "expected.json"), "utf8")) as Fixtures;

describe("binary metrics vs scikit-learn (fixtures/make_expected.py)", () => {
  it.each(fx.binary.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    const pred = Float32Array.from(c.pred);
    const target = Float32Array.from(c.target);
    for (const policy of ["one", "zero"] as EmptyPolicy[]) {
      expect(dice(pred, target, { emptyPolicy: policy })).toBeCloseTo(c[`dice_${policy}`] as number, 12);
      expect(iou(pred, target, { emptyPolicy: policy })).toBeCloseTo(c[`iou_${policy}`] as number, 12);
      expect(sensitivity(pred, target, { emptyPolicy: policy })).toBeCloseTo(
        c[`sensitivity_${policy}`] as number,
        12,
      );
      expect(specificity(pred, target, { emptyPolicy: policy })).toBeCloseTo(
        c[`specificity_${policy}`] as number,
        12,
      );
    }
    if (c.empty) {
      expect(dice(pred, target, { emptyPolicy: "nan" })).toBeNaN();
      expect(iou(pred, target, { emptyPolicy: "nan" })).toBeNaN();
    }
  });
  it("covers the empty cases it claims to", () => {
    expect(fx.binary.filter((c) => c.empty).length).toBeGreaterThan(0);
  });
});

describe("kerasMeanIoU vs TF1 mean_iou re-done with scikit-learn", () => {
  it.each(fx.kerasMeanIoU.map((c, i) => [i, c] as const))(
    "case %i, one shot and accumulated in chunks",
    (_i, c) => {
      const pred = Float32Array.from(c.pred);
      const target = Float32Array.from(c.target);
      expect(kerasMeanIoU(pred, target)).toBeCloseTo(c.expected, 12);
      const acc = new KerasMeanIoUAccumulator();
      let off = 0;
      for (const len of c.chunks) {
        acc.update(pred.subarray(off, off + len), target.subarray(off, off + len));
        off += len;
      }
      expect(acc.compute()).toBeCloseTo(c.expected, 12);
      const per = acc.computePerThreshold();
      per.forEach((v, k) => {
        expect(v).toBeCloseTo(c.perThreshold[k], 12);
      });
      acc.reset();
      expect(acc.compute()).toBe(0);
    },
  );
});

describe("rocAuc vs sklearn roc_auc_score and auc(roc_curve)", () => {
  it.each(fx.rocAuc.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    const v = rocAuc(Float32Array.from(c.scores), Float32Array.from(c.labels));
    expect(v).toBeCloseTo(c.expected, 12);
    expect(v).toBeCloseTo(c.expectedTrapezoid, 12);
    const acc = new RocAucAccumulator();
    const half = Math.floor(c.scores.length / 2);
    acc.update(c.scores.slice(0, half), c.labels.slice(0, half));
    acc.update(c.scores.slice(half), c.labels.slice(half));
    expect(acc.compute()).toBeCloseTo(c.expected, 12);
  });
});

describe("Hausdorff vs SciPy (binary_erosion surfaces, distance_transform_edt with sampling)", () => {
  it.each(fx.hausdorff.map((c, i) => [i, c] as const))("case %i", (_i, c) => {
    const opts = { spacing: c.spacing, emptyPolicy: "nan" as const };
    const pred = Float32Array.from(c.pred);
    const target = Float32Array.from(c.target);
    expect(hausdorff95(pred, target, c.shape, opts)).toBeCloseTo(c.hd95, 9);
    expect(hausdorffPercentile(pred, target, c.shape, 100, opts)).toBeCloseTo(c.hd100, 9);
    expect(hausdorffPercentile(pred, target, c.shape, 50, opts)).toBeCloseTo(c.hd50, 9);
  });
});
