import { describe, expect, it } from "vitest";
import { makePlan } from "../src/plan.js";
import { buildReport, reportMarkdown } from "../src/report.js";

describe("report caveats", () => {
  it("marks quick runs on sample data as not comparable with the paper (report.json and report.md)", () => {
    const plan = makePlan({ tasks: ["ncs"], inits: ["scratch"], runs: 1, budget: { quick: true } });
    const r = buildReport(plan, new Map());
    expect([r.quick, r.sampleData, r.comparable, r.synthetic]).toEqual([true, true, false, false]);
    expect(reportMarkdown(r)).toContain("**Quick run on sample data — not comparable with the paper.**");
  });

  it("marks sample data alone, and nothing for a full run on the task's own dataset", () => {
    const sample = buildReport(
      makePlan({ tasks: ["ncs"], inits: ["scratch"], runs: 1, budget: { quick: false } }),
      new Map(),
    );
    expect([sample.quick, sample.sampleData, sample.comparable]).toEqual([false, true, false]);
    expect(reportMarkdown(sample)).toMatch(/\*\*Sample data \(.*\) — not comparable with the paper\.\*\*/);
    const full = buildReport(
      makePlan({
        tasks: ["ncs"],
        inits: ["scratch"],
        runs: 1,
        data: { ncs: "/data/lidc" },
        budget: { quick: false },
      }),
      new Map(),
    );
    expect([full.quick, full.sampleData, full.comparable]).toEqual([false, false, true]);
    expect(reportMarkdown(full)).not.toContain("not comparable");
  });
});
