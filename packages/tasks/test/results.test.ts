import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { summarize, writeResults } from "../src/results.js";
import { withTmp } from "./shared.js";

describe("results", () => {
  it("summarize: mean and sample sd (n − 1)", () => {
    const s = summarize([0.9, 0.95, 1.0]);
    expect(s.mean).toBeCloseTo(0.95, 12);
    expect(s.sd).toBeCloseTo(0.05, 12);
    expect(summarize([0.7])).toEqual({ values: [0.7], mean: 0.7, sd: null });
    expect(summarize([])).toEqual({ values: [], mean: null, sd: null });
  });

  it("writeResults writes results.json and a table beside the paper", async () => {
    await withTmp(async (dir) => {
      await writeResults(dir, {
        task: "ncc",
        kind: "classification",
        metric: "auc",
        runs: { scratch: [0.8, 0.9], genesis: [0.95, 0.97] },
        extra: { genesis: { dice: [0.5, 0.7] } },
        notes: { quick: true },
      });
      const json = JSON.parse(await readFile(join(dir, "results.json"), "utf8"));
      expect(json.task).toBe("ncc");
      expect(json.runs.genesis.values).toEqual([0.95, 0.97]);
      expect(json.runs.genesis.mean).toBeCloseTo(0.96, 12);
      expect(json.runs.scratch.sd).toBeCloseTo(Math.SQRT1_2 * 0.1, 12);
      expect(json.paper.genesis).toEqual({ mean: 98.07, sd: 0.59 });
      expect(json.runs.genesis.extra.dice.mean).toBeCloseTo(0.6, 12);
      const md = await readFile(join(dir, "results.md"), "utf8");
      expect(md).toContain("| genesis | 2 | 96.00 ± 1.41 | 95.00, 97.00 | 98.07 ± 0.59 (AUC) |");
      expect(md).toContain("| genesis: dice | 2 | 60.00 ± 14.14 | 50.00, 70.00 | — |");
      expect(md).toContain("| scratch | 2 | 85.00 ± 7.07 | 80.00, 90.00 | 94.25 ± 5.07 (AUC) |");
    });
  });

  it("2-D rows: no paper number is invented; the table says so", async () => {
    await withTmp(async (dir) => {
      const f = await writeResults(dir, {
        task: "ncs",
        kind: "segmentation",
        metric: "IoU (paper)",
        runs: { "scratch-2d": [0.4, 0.6], official: [0.7] },
      });
      expect(f.runs["scratch-2d"].mean).toBeCloseTo(0.5, 12);
      const md = await readFile(join(dir, "results.md"), "utf8");
      expect(md).toContain("| scratch-2d | 2 | 50.00 ± 14.14 | 40.00, 60.00 | not reported here |");
      expect(md).toContain("| official | 1 | 70.00 ± — | 70.00 | — |");
      expect(md).toContain("| scratch | 0 | not run |  | 74.05 ± 1.97 (IoU (paper)) |");
      expect(md).toContain("The paper's 2D numbers are not reproduced in this table.");
    });
  });

  it("rejects non-finite values", async () => {
    await withTmp(async (dir) => {
      await expect(
        writeResults(dir, {
          task: "lcs",
          kind: "segmentation",
          metric: "iou",
          runs: { scratch: [Number.NaN] },
        }),
      ).rejects.toThrow(/non-finite/);
    });
  });
});
