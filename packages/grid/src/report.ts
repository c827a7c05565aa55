import { join } from "node:path";
import { drawText, textWidth } from "@models-genesis/transforms";
import { writeFileAtomic } from "@models-genesis/volume-io";
import { PNG } from "pngjs";
import { paperNumbers, taskMetric } from "./cell-runner.js";
import type { GridPlan } from "./plan.js";
import type { CellResult } from "./results.js";
import { mean, rankSumTest, sampleSd, studentTTest, type TestResult, welchTTest } from "./stats.js";

/** Format tag of `report.json`. */
export const REPORT_FORMAT = "genesis-grid-report/1";

/** One task × init cell of the report. Values are fractions; `paper` is in percent, as the paper prints it. */
export interface ReportCell {
  readonly init: string;
  /** Runs planned. */
  readonly planned: number;
  readonly done: number;
  readonly failed: number;
  /** Headline metric of every done run, by run index. */
  readonly values: number[];
  readonly mean: number | null;
  /** Sample s.d. (n − 1); null below 2 runs. */
  readonly sd: number | null;
  /** Other metrics (Dice, IoU), mean and s.d. over the done runs. */
  readonly extra: Record<string, { mean: number | null; sd: number | null }>;
  readonly paper?: { mean: number; sd: number };
}

/** An initialisation against scratch on one task. */
export interface ReportComparison {
  readonly init: string;
  readonly against: "scratch";
  /** Independent two-sample Student's t-test (the paper's), two-sided. */
  readonly student: TestResult | null;
  readonly welch: TestResult | null;
  /** Wilcoxon rank-sum (Mann–Whitney U), two-sided; exact for small samples without ties. */
  readonly rankSum: TestResult | null;
}

/** The content of `report.json`. */
export interface GridReport {
  readonly format: typeof REPORT_FORMAT;
  readonly seed: number;
  /** True when the plan's cells are synthetic (a machinery test: the values are not results). */
  readonly synthetic: boolean;
  /** True when a task cell runs the apps' short `--quick` schedule (a pipeline check). */
  readonly quick: boolean;
  /** True when a task cell was planned without `--data` (the sample layout, not the task's dataset). */
  readonly sampleData: boolean;
  /** False when the values cannot be set beside the paper's: synthetic, quick or sample-data cells. */
  readonly comparable: boolean;
  readonly cells: { planned: number; done: number; failed: number; notRun: number };
  readonly tasks: Array<{
    task: string;
    metric: string;
    paperMetric?: string;
    inits: ReportCell[];
    comparisons: ReportComparison[];
  }>;
  readonly failures: Array<{ id: string; task: string; init: string; run: number; error: string }>;
}

const num = (v: number) => (Number.isFinite(v) ? v : null);

/**
 * Summarise a grid: for every task × init, mean ± s.d. of the headline metric over its done runs
 * beside the paper's numbers (`genesis` and `scratch`; Zhou et al., MedIA 2021), and every other
 * init against scratch with Student's t-test (the paper's), Welch's t-test and the Wilcoxon
 * rank-sum test; counts of done / failed / not-run cells and each failure's message. Depends only
 * on the plan and the results' values, never on timings or hosts, so the same plan gives the same
 * report however it was run.
 */
export function buildReport(plan: GridPlan, results: ReadonlyMap<string, CellResult>): GridReport {
  const failures: GridReport["failures"] = [];
  let done = 0;
  let failed = 0;
  const tasks = plan.tasks.map((task) => {
    const paper = paperNumbers(task);
    const inits = plan.inits.map((init): ReportCell => {
      const cells = plan.cells
        .filter((c) => c.task === task && c.init === init)
        .sort((a, b) => a.run - b.run);
      const values: number[] = [];
      const extras: Record<string, number[]> = {};
      let f = 0;
      for (const c of cells) {
        const r = results.get(c.id);
        if (r?.status === "done" && r.value !== undefined) {
          values.push(r.value);
          for (const [k, v] of Object.entries(r.metrics ?? {})) extras[k] = [...(extras[k] ?? []), v];
        } else if (r?.status === "failed") {
          f++;
          failures.push({ id: c.id, task, init, run: c.run, error: r.error ?? "" });
        }
      }
      done += values.length;
      failed += f;
      const p = paper?.values[init];
      return {
        init,
        planned: cells.length,
        done: values.length,
        failed: f,
        values,
        mean: num(mean(values)),
        sd: num(sampleSd(values)),
        extra: Object.fromEntries(
          Object.entries(extras).map(([k, v]) => [k, { mean: num(mean(v)), sd: num(sampleSd(v)) }]),
        ),
        ...(p ? { paper: p } : {}),
      };
    });
    const scratch = inits.find((c) => c.init === "scratch");
    const comparisons: ReportComparison[] = scratch
      ? inits
          .filter((c) => c.init !== "scratch")
          .map((c) => ({
            init: c.init,
            against: "scratch" as const,
            student: studentTTest(c.values, scratch.values) ?? null,
            welch: welchTTest(c.values, scratch.values) ?? null,
            rankSum: rankSumTest(c.values, scratch.values) ?? null,
          }))
      : [];
    return {
      task,
      metric: taskMetric(task),
      ...(paper ? { paperMetric: paper.metric } : {}),
      inits,
      comparisons,
    };
  });
  const synthetic = plan.cells.some((c) => c.kind === "synthetic");
  const quick = plan.cells.some((c) => c.kind === "task" && c.budget.quick);
  const sampleData = plan.cells.some((c) => c.kind === "task" && !c.data);
  return {
    format: REPORT_FORMAT,
    seed: plan.seed,
    synthetic,
    quick,
    sampleData,
    comparable: !synthetic && !quick && !sampleData,
    cells: { planned: plan.cells.length, done, failed, notRun: plan.cells.length - done - failed },
    tasks,
    failures,
  };
}

const pct = (v: number | null | undefined) => (v === null || v === undefined ? "–" : (100 * v).toFixed(2));
const pValue = (t: TestResult | null) =>
  t === null ? "–" : t.p < 1e-4 ? t.p.toExponential(2) : t.p.toFixed(4);

/** The report as Markdown: one table per task (mean ± s.d. in percent beside the paper), significance, failures. */
export function reportMarkdown(r: GridReport): string {
  const lines = [
    "# Grid report",
    "",
    `Cells: ${r.cells.planned} planned, ${r.cells.done} done, ${r.cells.failed} failed, ${r.cells.notRun} not run (grid seed ${r.seed}).`,
    "Values in percent, mean ± s.d. (sample s.d., n − 1) over the done runs; paper: Zhou et al., MedIA 2021 (Models Genesis and training from scratch).",
  ];
  if (r.synthetic)
    lines.push(
      "",
      "**Synthetic cells**: a test of the grid's machinery; these numbers are not fine-tuning results.",
    );
  // as the apps' results.md: a quick run or the sample layout is a pipeline check
  if (r.quick || r.sampleData) {
    const what =
      r.quick && r.sampleData
        ? "Quick run on sample data"
        : r.quick
          ? "Quick run (`--quick`: a small subset and a short schedule)"
          : "Sample data (the sample layout built from the shared/bundled data, not the tasks' datasets)";
    lines.push("", `**${what} — not comparable with the paper.**`);
  }
  for (const t of r.tasks) {
    const extraKeys = [...new Set(t.inits.flatMap((c) => Object.keys(c.extra)))].sort();
    lines.push(
      "",
      `## ${t.task.toUpperCase()} — ${t.metric}`,
      "",
      `| init | done | failed | ${t.metric}: mean ± s.d. | ${extraKeys.map((k) => `${k}: mean ± s.d. | `).join("")}paper: mean ± s.d. |`,
      `| --- | --- | --- | --- | ${extraKeys.map(() => "--- | ").join("")}--- |`,
    );
    for (const c of t.inits) {
      const ex = extraKeys.map((k) => `${pct(c.extra[k]?.mean)} ± ${pct(c.extra[k]?.sd)} | `).join("");
      const paper = c.paper ? `${c.paper.mean.toFixed(2)} ± ${c.paper.sd.toFixed(2)}` : "–";
      lines.push(
        `| ${c.init} | ${c.done}/${c.planned} | ${c.failed} | ${pct(c.mean)} ± ${pct(c.sd)} | ${ex}${paper} |`,
      );
    }
    if (t.comparisons.length > 0) {
      lines.push(
        "",
        "Against scratch (two-sided p-values; Student's t is the paper's test, the rank-sum test suits small n):",
        "",
        "| init | Student t (df) | p | Welch p | rank-sum U | p (method) |",
        "| --- | --- | --- | --- | --- | --- |",
      );
      for (const c of t.comparisons) {
        const st = c.student ? `${c.student.statistic.toFixed(3)} (${c.student.df})` : "–";
        const rs = c.rankSum ? `${c.rankSum.statistic}` : "–";
        const rp = c.rankSum ? `${pValue(c.rankSum)} (${c.rankSum.method})` : "–";
        lines.push(`| ${c.init} | ${st} | ${pValue(c.student)} | ${pValue(c.welch)} | ${rs} | ${rp} |`);
      }
    }
  }
  if (r.failures.length > 0) {
    lines.push(
      "",
      "## Failed cells",
      "",
      "| task | init | run | id | error |",
      "| --- | --- | --- | --- | --- |",
    );
    for (const f of r.failures)
      lines.push(`| ${f.task} | ${f.init} | ${f.run} | ${f.id} | ${f.error.replaceAll("|", "\\|")} |`);
  }
  return `${lines.join("\n")}\n`;
}

/** Bar colours (RGB) by init; the paper's values are drawn in black. */
const COLOURS: Record<string, [number, number, number]> = {
  scratch: [150, 150, 150],
  genesis: [31, 119, 180],
  official: [44, 160, 44],
  "scratch-2d": [255, 127, 14],
  "genesis-2d": [148, 103, 189],
};

/**
 * The report as a PNG bar chart: one panel per task, one bar per init at its mean (percent, axis
 * 0–100) with a ±s.d. whisker, and the paper's mean ± s.d. as a black tick and whisker beside the
 * bar where the paper has one; labels in the built-in 5×7 font.
 */
export function reportPlot(r: GridReport): PNG {
  const barW = 66;
  const gap = 12;
  const plotH = 300;
  const top = 40;
  const left = 44;
  const bottom = 54;
  const panelW = (t: GridReport["tasks"][number]) => t.inits.length * (barW + gap) + gap;
  const legend = "bars: ours, mean +- s.d. over the runs  -  black tick: paper, mean +- s.d.";
  const width = Math.max(
    left + r.tasks.reduce((a, t) => a + panelW(t) + 20, 0) + 10,
    left + textWidth(legend) + 10,
  );
  const height = top + plotH + bottom;
  const png = new PNG({ width, height });
  png.data.fill(255);
  const px = (x: number, y: number, c: readonly number[]) => {
    if (x < 0 || y < 0 || x >= width || y >= height) return;
    const o = (Math.round(y) * width + Math.round(x)) * 4;
    png.data[o] = c[0];
    png.data[o + 1] = c[1];
    png.data[o + 2] = c[2];
    png.data[o + 3] = 255;
  };
  const rect = (x0: number, y0: number, x1: number, y1: number, c: readonly number[]) => {
    for (let y = Math.round(Math.min(y0, y1)); y <= Math.round(Math.max(y0, y1)); y++)
      for (let x = Math.round(Math.min(x0, x1)); x <= Math.round(Math.max(x0, x1)); x++) px(x, y, c);
  };
  const yOf = (v: number) => top + plotH - (Math.max(0, Math.min(100, v)) / 100) * plotH;
  const grey = [200, 200, 200];
  for (let v = 0; v <= 100; v += 20) {
    rect(left - 4, yOf(v), width - 10, yOf(v), v === 0 ? [0, 0, 0] : grey);
    drawText(png.data, width, String(v), left - 8 - textWidth(String(v)), yOf(v) - 3);
  }
  rect(left, top, left, top + plotH, [0, 0, 0]);
  let x = left + 10;
  for (const t of r.tasks) {
    drawText(png.data, width, t.task.toUpperCase(), x + gap, 6, 2);
    drawText(png.data, width, t.metric, x + gap, 24);
    let bx = x + gap;
    for (const c of t.inits) {
      const col = COLOURS[c.init] ?? [100, 100, 100];
      const half = barW / 2 - 4;
      if (c.mean !== null) {
        rect(bx, yOf(100 * c.mean), bx + half, yOf(0), col);
        if (c.sd !== null) {
          const cx = bx + half / 2;
          rect(cx, yOf(100 * (c.mean - c.sd)), cx, yOf(100 * (c.mean + c.sd)), [0, 0, 0]);
          rect(cx - 4, yOf(100 * (c.mean + c.sd)), cx + 4, yOf(100 * (c.mean + c.sd)), [0, 0, 0]);
          rect(cx - 4, yOf(100 * (c.mean - c.sd)), cx + 4, yOf(100 * (c.mean - c.sd)), [0, 0, 0]);
        }
      }
      if (c.paper) {
        const px0 = bx + half + 6;
        const cx = px0 + half / 2;
        rect(px0, yOf(c.paper.mean), px0 + half, yOf(c.paper.mean) + 1, [0, 0, 0]);
        rect(cx, yOf(c.paper.mean - c.paper.sd), cx, yOf(c.paper.mean + c.paper.sd), [0, 0, 0]);
        drawText(png.data, width, "paper", px0, top + plotH + 18);
      }
      drawText(png.data, width, c.init, bx, top + plotH + 6);
      bx += barW + gap;
    }
    x += panelW(t) + 20;
  }
  drawText(png.data, width, legend, left, height - 12);
  return png;
}

/** Write `OUT/report.json`, `report.md` and `report.png` atomically; returns their paths. */
export async function writeReport(
  out: string,
  r: GridReport,
): Promise<{ json: string; md: string; png: string }> {
  const files = { json: join(out, "report.json"), md: join(out, "report.md"), png: join(out, "report.png") };
  await writeFileAtomic(files.json, `${JSON.stringify(r, null, 2)}\n`, { mkdir: true });
  await writeFileAtomic(files.md, reportMarkdown(r));
  await writeFileAtomic(files.png, PNG.sync.write(reportPlot(r)));
  return files;
}
