import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { runLocal } from "../src/local.js";
import { makePlan } from "../src/plan.js";
import { buildReport, reportMarkdown, writeReport } from "../src/report.js";
import { pending, readResults } from "../src/results.js";
import { killMidCell } from "./kill-helper.js";

/** Starts logged in a synthetic cell's events.log: [step resumed from, pid] per start. */
const starts = (out: string, id: string) =>
  readFileSync(join(out, "work", id, "events.log"), "utf8")
    .trim()
    .split("\n")
    .map((l) => l.split(" ").slice(1).map(Number));

describe("local runner (worker processes, no Redis)", () => {
  it("runs every cell once on 2 processes, survives a SIGKILLed process (resume from checkpoint), skips finished cells on restart", async () => {
    const out = mkdtempSync(join(tmpdir(), "grid-local-"));
    const plan = makePlan({
      kind: "synthetic",
      tasks: ["ncs", "lcs"],
      inits: ["scratch", "genesis"],
      runs: 3,
      seed: 1,
      budget: { quick: true, steps: 6, sleepMs: 60 },
    });
    let killedIn: Promise<string> | undefined;
    const results = await runLocal(out, plan.cells, {
      workers: 2,
      onSpawn: (child, index) => {
        if (index === 0)
          killedIn = killMidCell(join(out, "work"), child.pid!, 6, () => child.kill("SIGKILL"));
      },
    });
    expect(results.map((r) => r.id).sort()).toEqual(plan.cells.map((c) => c.id).sort());
    expect(results.every((r) => r.status === "done")).toBe(true);
    // the cell the killed process held started twice: once from 0, then from its checkpoint
    const resumed = results.filter((r) => (r.resumedFromStep ?? 0) > 0);
    expect(resumed.map((r) => r.id)).toEqual([await killedIn]);
    const s = starts(out, resumed[0].id);
    expect(s).toHaveLength(2);
    expect(s[0][0]).toBe(0);
    expect(s[1][0]).toBe(resumed[0].resumedFromStep);
    // every other cell started exactly once
    for (const c of plan.cells) if (c.id !== resumed[0].id) expect(starts(out, c.id)).toHaveLength(1);
    // restart: nothing left to run
    expect(await pending(out, plan.cells)).toEqual([]);
    expect(await runLocal(out, await pending(out, plan.cells), { workers: 2 })).toEqual([]);

    // the same plan on one process, never interrupted, gives the same report
    const out1 = mkdtempSync(join(tmpdir(), "grid-local1-"));
    await runLocal(out1, plan.cells, { workers: 1 });
    const report = buildReport(plan, await readResults(out));
    expect(buildReport(plan, await readResults(out1))).toEqual(report);

    expect(report.cells).toEqual({ planned: 12, done: 12, failed: 0, notRun: 0 });
    const ncs = report.tasks[0];
    expect(ncs.inits.map((c) => c.done)).toEqual([3, 3]);
    expect(ncs.inits[1].paper).toEqual({ mean: 77.41, sd: 0.4 });
    expect(ncs.comparisons[0].init).toBe("genesis");
    expect(ncs.comparisons[0].rankSum?.method).toBe("exact");
    const files = await writeReport(out, report);
    const md = readFileSync(files.md, "utf8");
    expect(md).toContain("## NCS — IoU (paper)");
    expect(md).toContain("| genesis | 3/3 | 0 |");
    const png = PNG.sync.read(readFileSync(files.png));
    expect(png.width).toBeGreaterThan(300);
    expect(JSON.parse(readFileSync(files.json, "utf8"))).toEqual(report);
  });

  it("marks a cell whose data are missing as failed with its message, and the grid goes on", async () => {
    const out = mkdtempSync(join(tmpdir(), "grid-fail-"));
    const plan = makePlan({
      kind: "synthetic",
      tasks: ["ncs", "lcs"],
      inits: ["scratch"],
      runs: 2,
      data: { lcs: join(out, "no-such-dataset") },
      budget: { quick: true, steps: 2, sleepMs: 5 },
    });
    const results = await runLocal(out, plan.cells, { workers: 2 });
    expect(results.filter((r) => r.status === "done")).toHaveLength(2);
    const failed = results.filter((r) => r.status === "failed");
    expect(failed.map((r) => r.task)).toEqual(["lcs", "lcs"]);
    expect(failed[0].error).toBe(`${join(out, "no-such-dataset")}: no such dataset folder`);
    const report = buildReport(plan, await readResults(out));
    expect(report.cells).toEqual({ planned: 4, done: 2, failed: 2, notRun: 0 });
    expect(reportMarkdown(report)).toContain("## Failed cells");
    // failed cells are not rerun unless asked
    expect(await pending(out, plan.cells)).toEqual([]);
    expect((await pending(out, plan.cells, true)).map((c) => c.task)).toEqual(["lcs", "lcs"]);
    expect(existsSync(join(out, "results", `${failed[0].id}.json`))).toBe(true);
    // with the data in place, running the failed cells again really runs them (the failed
    // work/<id>/result.json is not reused) and their results become done
    mkdirSync(join(out, "no-such-dataset"));
    const lines: string[] = [];
    // a preload that prints straight to stderr, as a library of a real cell may
    const preload = join(out, "preload.mjs");
    writeFileSync(preload, 'process.stderr.write("raw line from a worker process\\n");\n');
    const again = await runLocal(out, await pending(out, plan.cells, true), {
      workers: 2,
      log: (l) => lines.push(l),
      env: { NODE_OPTIONS: `--import=${preload}` },
    });
    expect(lines.filter((l) => l.endsWith("raw line from a worker process")).sort()).toEqual([
      "[w0] raw line from a worker process",
      "[w1] raw line from a worker process",
    ]);
    expect(again.map((r) => r.status)).toEqual(["done", "done"]);
    expect(buildReport(plan, await readResults(out)).cells).toEqual({
      planned: 4,
      done: 4,
      failed: 0,
      notRun: 0,
    });
    // every line of a worker process carries its worker's prefix
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => /^\[w[01]\] /.test(l))).toBe(true);
  });
});
