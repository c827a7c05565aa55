import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { canonicalJson, cellSeed, contentId } from "../src/ids.js";
import { makePlan, parseShard, readPlan, shardCells, writePlan } from "../src/plan.js";

describe("plan", () => {
  const plan = makePlan({
    tasks: ["ncs", "lcs"],
    inits: ["scratch", "genesis"],
    runs: 3,
    seed: 7,
    weights: "/w/model",
    data: { ncs: "/d/lidc" },
    budget: { quick: true },
  });

  it("one cell per task × init × run, in that order, with derived seeds and content ids", () => {
    expect(plan.cells).toHaveLength(12);
    expect(plan.cells.map((c) => `${c.task}/${c.init}/${c.run}`).slice(0, 4)).toEqual([
      "ncs/scratch/0",
      "ncs/scratch/1",
      "ncs/scratch/2",
      "ncs/genesis/0",
    ]);
    const c = plan.cells[4];
    expect(c.seed).toBe(cellSeed(7, "ncs", "genesis", 1));
    expect(c.splitSeed).toBe(7);
    expect(c.data).toBe("/d/lidc");
    expect(plan.cells[6].data).toBeUndefined(); // lcs: sample layout
    const { id, ...content } = c;
    expect(id).toBe(contentId(content));
    expect(new Set(plan.cells.map((x) => x.id)).size).toBe(12);
    expect(new Set(plan.cells.map((x) => x.seed)).size).toBe(12);
  });

  it("seeds: SHA-256 of the cell's coordinates, the same on every call, < 2^31", () => {
    // first 4 bytes of sha256("genesis-grid-seed/7/ncs/genesis/1") >>> 1, computed with Python's hashlib
    expect(cellSeed(7, "ncs", "genesis", 1)).toBe(cellSeed(7, "ncs", "genesis", 1));
    expect(cellSeed(0, "ncs", "scratch", 0)).toBe(681683469);
    for (const s of plan.cells.map((x) => x.seed)) expect(s).toBeLessThan(2 ** 31);
    const again = makePlan({
      tasks: ["ncs", "lcs"],
      inits: ["scratch", "genesis"],
      runs: 3,
      seed: 7,
      weights: "/w/model",
      data: { ncs: "/d/lidc" },
      budget: { quick: true },
    });
    expect(again).toEqual(plan);
    const other = makePlan({ tasks: ["ncs"], inits: ["scratch"], runs: 1, seed: 8, budget: { quick: true } });
    expect(other.cells[0].id).not.toBe(plan.cells[0].id);
  });

  it("canonical JSON sorts keys and drops undefined", () => {
    expect(canonicalJson({ b: 1, a: { d: undefined, c: [1, "x"] } })).toBe('{"a":{"c":[1,"x"]},"b":1}');
  });

  it("refuses unknown tasks, inits, missing weights and bad runs with one line each", () => {
    expect(() => makePlan({ tasks: ["xyz"], inits: ["scratch"], runs: 1 })).toThrow(/unknown task "xyz"/);
    expect(() => makePlan({ tasks: ["ncs"], inits: ["warm"], runs: 1 })).toThrow(
      /unknown initialisation "warm"/,
    );
    expect(() => makePlan({ tasks: ["ncs"], inits: ["genesis"], runs: 1 })).toThrow(
      /--init genesis needs --weights/,
    );
    expect(() => makePlan({ tasks: ["ncs"], inits: ["scratch"], runs: 0 })).toThrow(/--runs/);
    expect(() =>
      makePlan({ tasks: ["ncs"], inits: ["scratch"], runs: 1, budget: { quick: true, epochs: -1 } }),
    ).toThrow(/budget.epochs/);
  });

  it("shards partition the cells (k mod N) and parse i/N and env/N", () => {
    const parts = [0, 1, 2].map((i) => shardCells(plan.cells, i, 3));
    expect(
      parts
        .flat()
        .map((c) => c.id)
        .sort(),
    ).toEqual(plan.cells.map((c) => c.id).sort());
    expect(parts.map((p) => p.length)).toEqual([4, 4, 4]);
    expect(parseShard("1/4")).toEqual({ index: 1, count: 4 });
    expect(parseShard("env/4", { JOB_COMPLETION_INDEX: "3" })).toEqual({ index: 3, count: 4 });
    expect(() => parseShard("4/4")).toThrow(/0 ≤ i < N/);
    expect(() => parseShard("env/2", {})).toThrow(/JOB_COMPLETION_INDEX/);
  });

  it("round-trips through plan.json and refuses an edited cell", async () => {
    const dir = mkdtempSync(join(tmpdir(), "grid-plan-"));
    const file = await writePlan(dir, plan);
    expect(await readPlan(dir)).toEqual(plan);
    const edited = JSON.parse(JSON.stringify(plan));
    edited.cells[0].seed = 1;
    writeFileSync(file, JSON.stringify(edited));
    await expect(readPlan(dir)).rejects.toThrow(/does not match its content/);
    await expect(readPlan(join(dir, "none"))).rejects.toThrow(/no grid plan/);
  });
});
