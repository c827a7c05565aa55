import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BinarySegmentationAccumulator,
  binaryConfusion,
  dice,
  Hausdorff95Accumulator,
  hausdorff95,
  iou,
  KERAS_MEAN_IOU_THRESHOLDS,
  kerasMeanIoU,
  MetricInputError,
  RocAucAccumulator,
  rocAuc,
  rocAucSummary,
  squaredDistanceTransform,
  surfaceVoxels,
  twoClassMeanIoU,
} from "../src/index.js";

const mask = (n: number) => fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n });
const pair = fc.integer({ min: 1, max: 60 }).chain((n) => fc.tuple(mask(n), mask(n)));

describe("empty-mask policies", () => {
  const z = new Float32Array(8);
  it("Dice of two empty masks follows the policy (reference: 1)", () => {
    expect(dice(z, z, { emptyPolicy: "one" })).toBe(1);
    expect(dice(z, z, { emptyPolicy: "zero" })).toBe(0);
    expect(dice(z, z, { emptyPolicy: "nan" })).toBeNaN();
  });
  it("IoU of two empty masks follows the policy (reference: 0/0)", () => {
    expect(iou(z, z, { emptyPolicy: "nan" })).toBeNaN();
    expect(iou(z, z, { emptyPolicy: "one" })).toBe(1);
  });
  it("a policy is required", () => {
    // @ts-expect-error: emptyPolicy is required
    expect(() => dice(z, z, {})).toThrow(MetricInputError);
  });
  it("one empty mask gives 0 whatever the policy", () => {
    const t = Float32Array.from([0, 1, 0, 0, 0, 0, 0, 0]);
    for (const p of ["one", "zero", "nan"] as const) {
      expect(dice(z, t, { emptyPolicy: p })).toBe(0);
      expect(iou(t, z, { emptyPolicy: p })).toBe(0);
    }
  });
  it("HD95: nan policy vs bounded policy", () => {
    const shape = [4, 5, 6];
    const e = new Float32Array(120);
    const m = new Float32Array(120);
    m[30] = 1;
    const spacing = [1, 2, 3];
    expect(hausdorff95(e, e, shape, { spacing, emptyPolicy: "nan" })).toBeNaN();
    expect(hausdorff95(e, e, shape, { spacing, emptyPolicy: "bounded" })).toBe(0);
    expect(hausdorff95(e, m, shape, { spacing, emptyPolicy: "bounded" })).toBeCloseTo(
      Math.hypot(4, 10, 18),
      12,
    );
    expect(hausdorff95(m, e, shape, { spacing, emptyPolicy: "nan" })).toBeNaN();
  });
});

describe("input errors", () => {
  it("length mismatch names the function and lengths", () => {
    expect(() => dice([1, 0], [1], { emptyPolicy: "one" })).toThrow(
      /binaryConfusion: pred has 2 elements but target has 1/,
    );
    expect(() => rocAuc([0.1], [1, 0])).toThrow(MetricInputError);
  });
  it("ROC AUC single-class policy", () => {
    expect(() => rocAuc([0.1, 0.9], [1, 1])).toThrow(/only one class/);
    expect(rocAuc([0.1, 0.9], [0, 0], { singleClass: "nan" })).toBeNaN();
    expect(() => new RocAucAccumulator().compute()).toThrow(/empty/);
  });
  it("HD95 rejects bad shapes and spacing", () => {
    const a = new Float32Array(8);
    expect(() => hausdorff95(a, a, [2, 2, 3], { spacing: [1, 1, 1], emptyPolicy: "nan" })).toThrow(
      /holds 12/,
    );
    expect(() => hausdorff95(a, a, [2, 2, 2], { spacing: [1, 0, 1], emptyPolicy: "nan" })).toThrow(/spacing/);
  });
});

describe("known answers", () => {
  it("Dice/IoU by hand", () => {
    const p = [1, 1, 0, 0, 0.6];
    const t = [1, 0, 1, 0, 1];
    // tp=2 (idx 0, 4), fp=1, fn=1
    expect(binaryConfusion(p, t)).toEqual({ tp: 2, fp: 1, fn: 1, tn: 1 });
    expect(dice(p, t, { emptyPolicy: "one" })).toBeCloseTo(4 / 6, 15);
    expect(iou(p, t, { emptyPolicy: "one" })).toBeCloseTo(2 / 4, 15);
    // threshold is strict: 0.5 is background
    expect(binaryConfusion([0.5], [1]).fn).toBe(1);
  });
  it("AUC: perfect, inverted, all tied", () => {
    expect(rocAuc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(rocAuc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(rocAuc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1])).toBe(0.5);
    // infinite logits sort and tie correctly
    expect(
      rocAuc([Number.NEGATIVE_INFINITY, 0, Number.POSITIVE_INFINITY, Number.POSITIVE_INFINITY], [0, 1, 1, 0]),
    ).toBe(0.625);
  });
  it("kerasMeanIoU: perfect prediction = 1, thresholds are the float32 arange(0.5, 1, 0.05)", () => {
    expect(KERAS_MEAN_IOU_THRESHOLDS.length).toBe(10);
    expect(KERAS_MEAN_IOU_THRESHOLDS[0]).toBe(0.5);
    expect(KERAS_MEAN_IOU_THRESHOLDS[9]).toBe(Math.fround(0.95));
    expect(kerasMeanIoU([1, 0, 1, 0], [1, 0, 1, 0])).toBe(1);
    // a prediction of 0.7 is foreground at 0.50..0.65 (4 thresholds) and background at 0.70..0.95 (6)
    // target [1, 0]: at t ≤ 0.65 IoU_bg = IoU_fg = 1; else bg IoU = 1/2, fg IoU = 0 → mean 0.25
    // (float32 input, as a sigmoid output is: fround(0.7) is not > fround(0.7))
    expect(kerasMeanIoU(Float32Array.from([0.7, 0]), [1, 0])).toBeCloseTo((4 * 1 + 6 * 0.25) / 10, 15);
    // TF leaves absent classes out of the mean: all background, all predicted background → 1
    expect(twoClassMeanIoU([5, 0, 0, 0])).toBe(1);
    expect(twoClassMeanIoU([0, 0, 0, 0])).toBe(0);
  });
  it("HD95 of a single voxel shifted by 2 voxels along z with 2.5 mm spacing is 5 mm", () => {
    const shape = [5, 5, 7];
    const a = new Float32Array(175);
    const b = new Float32Array(175);
    a[2 * 35 + 2 * 7 + 2] = 1;
    b[2 * 35 + 2 * 7 + 4] = 1;
    expect(hausdorff95(a, b, shape, { spacing: [1, 1, 2.5], emptyPolicy: "nan" })).toBeCloseTo(5, 12);
  });
});

describe("properties (fast-check)", () => {
  it("Dice = 2·IoU/(1+IoU), both in [0,1] and symmetric", () => {
    fc.assert(
      fc.property(pair, ([p, t]) => {
        const d = dice(p, t, { emptyPolicy: "one" });
        const j = iou(p, t, { emptyPolicy: "one" });
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(1);
        expect(d).toBeCloseTo((2 * j) / (1 + j), 12);
        expect(dice(t, p, { emptyPolicy: "one" })).toBe(d);
      }),
    );
  });
  it("Dice of a mask with itself is 1 under policy one", () => {
    fc.assert(fc.property(mask(20), (m) => dice(m, m, { emptyPolicy: "one" }) === 1));
  });
  it("accumulator over chunks = one-shot over the concatenation", () => {
    fc.assert(
      fc.property(fc.array(pair, { minLength: 1, maxLength: 5 }), (cases) => {
        const acc = new BinarySegmentationAccumulator({ emptyPolicy: "one" });
        const all: [number[], number[]] = [[], []];
        for (const [p, t] of cases) {
          acc.update(p, t);
          all[0].push(...p);
          all[1].push(...t);
        }
        const r = acc.compute();
        expect(r.dice).toBeCloseTo(dice(all[0], all[1], { emptyPolicy: "one" }), 12);
        expect(r.iou).toBeCloseTo(iou(all[0], all[1], { emptyPolicy: "one" }), 12);
        expect(r.cases).toBe(cases.length);
        const mean = cases.reduce((s, [p, t]) => s + dice(p, t, { emptyPolicy: "one" }), 0) / cases.length;
        expect(r.meanCaseDice).toBeCloseTo(mean, 12);
      }),
    );
  });
  it("AUC is invariant under strictly increasing score transforms and AUC(−s) = 1 − AUC(s)", () => {
    const arb = fc
      .integer({ min: 2, max: 40 })
      .chain((n) =>
        fc.tuple(
          fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }),
          fc.array(fc.constantFrom(0, 1), { minLength: n, maxLength: n }),
        ),
      );
    fc.assert(
      fc.property(arb, ([s, l]) => {
        fc.pre(l.includes(0) && l.includes(1));
        const a = rocAuc(s, l);
        expect(
          rocAuc(
            s.map((v) => Math.exp(v / 3) + 7),
            l,
          ),
        ).toBeCloseTo(a, 12);
        expect(
          rocAuc(
            s.map((v) => -v),
            l,
          ),
        ).toBeCloseTo(1 - a, 12);
        // pairwise definition: P(s+ > s−) + ½ P(s+ = s−)
        let num = 0;
        let den = 0;
        for (let i = 0; i < s.length; i++)
          for (let j = 0; j < s.length; j++)
            if (l[i] === 1 && l[j] === 0) {
              den++;
              num += s[i] > s[j] ? 1 : s[i] === s[j] ? 0.5 : 0;
            }
        expect(a).toBeCloseTo(num / den, 12);
      }),
    );
  });
  it("distance transform equals brute force for random anisotropic grids", () => {
    const arb = fc.tuple(
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 6 }),
      fc.integer({ min: 1, max: 6 }),
      fc.tuple(
        fc.double({ min: 0.3, max: 3, noNaN: true }),
        fc.double({ min: 0.3, max: 3, noNaN: true }),
        fc.double({ min: 0.3, max: 3, noNaN: true }),
      ),
      fc.infiniteStream(fc.boolean()),
    );
    fc.assert(
      fc.property(arb, ([nx, ny, nz, sp, bits]) => {
        const n = nx * ny * nz;
        const it = bits[Symbol.iterator]();
        const f = Uint8Array.from({ length: n }, () => (it.next().value ? 1 : 0));
        fc.pre(f.some((v) => v === 1));
        const d = squaredDistanceTransform(f, [nx, ny, nz], sp);
        for (let i = 0; i < n; i++) {
          const [x, y, z] = [Math.floor(i / (ny * nz)), Math.floor(i / nz) % ny, i % nz];
          let best = Number.POSITIVE_INFINITY;
          for (let j = 0; j < n; j++) {
            if (!f[j]) continue;
            const [a, b, c] = [Math.floor(j / (ny * nz)), Math.floor(j / nz) % ny, j % nz];
            best = Math.min(best, ((x - a) * sp[0]) ** 2 + ((y - b) * sp[1]) ** 2 + ((z - c) * sp[2]) ** 2);
          }
          expect(d[i]).toBeCloseTo(best, 9);
        }
      }),
      { numRuns: 60 },
    );
  });
  it("HD95 is symmetric, zero for identical masks, and surfaces are subsets of the mask", () => {
    const arb = fc.array(fc.constantFrom(0, 1), { minLength: 64, maxLength: 64 });
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        fc.pre(a.includes(1) && b.includes(1));
        const o = { spacing: [1, 0.5, 2], emptyPolicy: "nan" as const };
        const s = [4, 4, 4];
        expect(hausdorff95(a, b, s, o)).toBeCloseTo(hausdorff95(b, a, s, o), 12);
        expect(hausdorff95(a, a, s, o)).toBe(0);
        const sv = surfaceVoxels(a, s);
        sv.forEach((v, i) => {
          if (v) expect(a[i]).toBe(1);
        });
      }),
    );
  });
});

describe("Hausdorff95Accumulator", () => {
  // 3×3×3, 1 mm: a = voxel (0,0,0), b = voxel (0,0,2) → HD95(a, b) = 2 mm
  const shape = [3, 3, 3];
  const a = new Float32Array(27);
  const b = new Float32Array(27);
  a[0] = 1;
  b[2] = 1;
  const empty = new Float32Array(27);
  const diagonal = Math.sqrt(27);

  it('"nan": excludes both-empty cases by count; a case with one empty mask makes the mean NaN, counted by kind', () => {
    const acc = new Hausdorff95Accumulator({ spacing: [1, 1, 1], emptyPolicy: "nan" });
    acc.update(a, b, shape); // 2 mm
    acc.update(a, a, shape); // 0
    acc.update(empty, empty, shape); // undefined, not a failure
    expect(acc.compute()).toEqual({
      meanHd95: 1,
      cases: 3,
      includedCases: 2,
      excluded: { bothEmpty: 1 },
      failures: { predEmpty: 0, targetEmpty: 0 },
    });
    acc.update(empty, a, shape); // the model missed the structure (MONAI#9095)
    const r = acc.compute();
    expect(r.meanHd95).toBeNaN();
    expect(r).toMatchObject({
      cases: 4,
      includedCases: 3,
      excluded: { bothEmpty: 1 },
      failures: { predEmpty: 1, targetEmpty: 0 },
    });
    acc.update(a, empty, shape); // a false alarm
    expect(acc.compute().failures).toEqual({ predEmpty: 1, targetEmpty: 1 });
    acc.reset();
    expect(acc.compute()).toMatchObject({ cases: 0, includedCases: 0, excluded: { bothEmpty: 0 } });
  });

  it('"bounded": every case is in the mean, a miss at the volume diagonal (worst case), both empty at 0', () => {
    const acc = new Hausdorff95Accumulator({ spacing: [1, 1, 1], emptyPolicy: "bounded" });
    acc.update(a, b, shape);
    acc.update(empty, a, shape);
    acc.update(empty, empty, shape);
    const r = acc.compute();
    expect(r.meanHd95).toBeCloseTo((2 + diagonal + 0) / 3, 12);
    expect(r).toMatchObject({
      cases: 3,
      includedCases: 3,
      excluded: { bothEmpty: 0 },
      failures: { predEmpty: 1, targetEmpty: 0 },
    });
  });
});

describe("BinarySegmentationAccumulator: cases left out of the per-case means", () => {
  // (pred, target): Dice 1 and IoU 1; both empty; Dice 2/3 and IoU 1/2
  const cases = [
    { p: [1, 0], t: [1, 0] },
    { p: [0, 0], t: [0, 0] },
    { p: [1, 1], t: [1, 0] },
  ];
  it('"nan": a both-empty case is excluded from meanCaseDice/IoU and counted, not turned into NaN', () => {
    const acc = new BinarySegmentationAccumulator({ emptyPolicy: "nan" });
    for (const { p, t } of cases) acc.update(p, t);
    const r = acc.compute();
    expect(r.meanCaseDice).toBeCloseTo(5 / 6, 12);
    expect(r.meanCaseIoU).toBeCloseTo(3 / 4, 12);
    expect(r).toMatchObject({ cases: 3, includedCases: 2, excluded: { bothEmpty: 1 } });
    expect(r.dice).toBeCloseTo(4 / 5, 12); // micro: 2·2 / (2·2 + 1)
  });
  it('"one": the both-empty case counts as 1 and nothing is excluded', () => {
    const acc = new BinarySegmentationAccumulator({ emptyPolicy: "one" });
    for (const { p, t } of cases) acc.update(p, t);
    const r = acc.compute();
    expect(r.meanCaseDice).toBeCloseTo(8 / 9, 12);
    expect(r.meanCaseIoU).toBeCloseTo(5 / 6, 12);
    expect(r).toMatchObject({ cases: 3, includedCases: 3, excluded: { bothEmpty: 0 } });
  });
  it('"nan" with only empty cases: NaN means, every case excluded by count', () => {
    const acc = new BinarySegmentationAccumulator({ emptyPolicy: "nan" });
    acc.update([0, 0], [0, 0]);
    const r = acc.compute();
    expect(r.meanCaseDice).toBeNaN();
    expect(r).toMatchObject({ cases: 1, includedCases: 0, excluded: { bothEmpty: 1 } });
  });
});

describe("ROC AUC of a single-class fold", () => {
  it('"nan" says so: warn gets one line with the counts; the summary carries them and the reason', () => {
    const lines: string[] = [];
    expect(rocAuc([0.1, 0.9, 0.4], [0, 0, 0], { singleClass: "nan", warn: (m) => lines.push(m) })).toBeNaN();
    expect(lines).toEqual([
      "rocAuc: labels hold only one class (0 positive, 3 negative); ROC AUC is undefined, returning NaN",
    ]);
    const acc = new RocAucAccumulator({ singleClass: "nan" });
    acc.update([0.2, 0.7], [1, 1]);
    expect(acc.summary()).toEqual({
      auc: Number.NaN,
      samples: 2,
      positives: 2,
      negatives: 0,
      undefinedReason: "only one class (2 positive, 0 negative)",
    });
    acc.update([0.1], [0]);
    expect(acc.summary()).toEqual({ auc: 1, samples: 3, positives: 2, negatives: 1 });
    expect(rocAucSummary([0.3, 0.1, 0.2, 0.9], [1, 0, 1, 0]).auc).toBe(0.5);
  });
});
