import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { runLocal } from "../src/local.js";
import { makePlan } from "../src/plan.js";

const sample = resolve(import.meta.dirname, "../../../apps/cli/sample/lidc-voi");

describe("a real task cell (NCS on the bundled LIDC sample)", () => {
  it("fine-tunes and tests one tiny model in a worker process; the same cell reproduces its value", async () => {
    expect(existsSync(join(sample, "image"))).toBe(true); // shipped with the repository
    const plan = makePlan({
      tasks: ["ncs"],
      inits: ["scratch"],
      runs: 1,
      data: { ncs: sample },
      budget: { quick: true, epochs: 1, stepsPerEpoch: 2, scratchWidth: 2, threads: 1 },
    });
    const runs = [];
    for (let k = 0; k < 2; k++) {
      const out = mkdtempSync(join(tmpdir(), "grid-real-"));
      const [r] = await runLocal(out, plan.cells, { workers: 1, env: { GENESIS_BACKEND: "wasm" } });
      expect(existsSync(join(out, "work", plan.cells[0].id, "model", "model.json"))).toBe(true);
      runs.push(r);
    }
    const [a, b] = runs;
    expect(a.status).toBe("done");
    // the paper's IoU of a barely trained model: ≈ 0.5 from the background class alone
    expect(a.value).toBeGreaterThan(0.4);
    expect(a.value).toBeLessThan(0.6);
    expect(Object.keys(a.metrics ?? {}).sort()).toEqual(["dice", "iou"]);
    expect(b.value).toBe(a.value);
    expect(b.metrics).toEqual(a.metrics);
  }, 240_000);
});
