import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FinetuneRequest, PreparedTask } from "../src/app.js";
import type { SampleArrays } from "../src/arrays.js";
import { runTaskMain, type TaskMainOptions, type TaskMainSpec } from "../src/task-main.js";
import { TASK_CONFIGS } from "../src/tasks.js";

/** Classification arrays of `n` samples of 2×2×2 voxels, the first `pos` labelled 1. */
function arrays(n: number, pos: number): SampleArrays {
  return {
    x: new Float32Array(n * 8),
    xShape: [n, 2, 2, 2, 1],
    y: Float32Array.from({ length: n }, (_, i) => (i < pos ? 1 : 0)),
    yShape: [n, 1],
    ids: Array.from({ length: n }, (_, i) => `c${i}`),
  };
}

describe("runTaskMain", () => {
  let out: string;
  let stderr: string[];
  beforeEach(() => {
    out = mkdtempSync(join(tmpdir(), "task-main-"));
    stderr = [];
    vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      stderr.push(String(s));
      return true;
    });
    vi.spyOn(process.stdout, "write").mockImplementation(() => true);
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(out, { recursive: true, force: true });
  });

  function spec(seen: { opts?: TaskMainOptions; sample?: string; reqs: FinetuneRequest[] }): TaskMainSpec {
    return {
      task: "ncc",
      description: "test task",
      dataHelp: "dataset root",
      appUrl: pathToFileURL(join(out, "main.js")).href,
      extraOptions: [{ flags: "--folds <dir>", description: "fold CSVs" }],
      prepare: async (opts, sampleData): Promise<PreparedTask> => {
        seen.opts = opts;
        seen.sample = sampleData;
        return {
          task: "ncc",
          config: TASK_CONFIGS.ncc,
          folds: [{ train: arrays(4, 1), val: arrays(2, 1), test: arrays(3, 2) }],
          splitsFile: join(out, "splits.json"),
          dataRoot: opts.data ?? "sample",
          sample: false,
          notes: {},
        };
      },
      finetune: async (req) => {
        seen.reqs.push(req);
        return { value: req.run === 0 ? 0.5 : 0.75 };
      },
    };
  }

  it("parses the shared and extra options (after a leading --), logs the arrays and writes results", async () => {
    const seen: { opts?: TaskMainOptions; sample?: string; reqs: FinetuneRequest[] } = { reqs: [] };
    const argv = ["node", "main.js", "--", "--data", "/d", "--out", out, "--runs", "2", "--seed", "7"];
    const code = await runTaskMain([...argv, "--folds", "/f"], spec(seen));
    expect(code).toBe(0);
    expect(seen.opts).toMatchObject({ data: "/d", out, quick: false, runs: 2, seed: 7, init: ["scratch"] });
    expect(seen.opts?.extra).toEqual({ folds: "/f" });
    expect(seen.sample).toBeUndefined();
    expect(seen.reqs.map((r) => [r.init, r.run, r.seed])).toEqual([
      ["scratch", 0, 7],
      ["scratch", 1, 8],
    ]);
    expect(stderr).toContain("ncc: test: 3 samples, x (3,2,2,2,1), 2 positive\n");
    expect(stderr.at(-1)).toBe(`ncc: wrote ${out}/results.json and results.md (AUC)\n`);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(results.runs.scratch.values).toEqual([0.5, 0.75]);
  });

  it("passes --weights-2d and the 2-D initialisations through to every request", async () => {
    const seen: { opts?: TaskMainOptions; sample?: string; reqs: FinetuneRequest[] } = { reqs: [] };
    const argv = ["node", "main.js", "--data", "/d", "--out", out, "--init", "scratch-2d,genesis-2d"];
    expect(await runTaskMain([...argv, "--weights-2d", "/m2d"], spec(seen))).toBe(0);
    expect(seen.opts).toMatchObject({ weights2d: "/m2d", init: ["scratch-2d", "genesis-2d"] });
    expect(seen.reqs.map((r) => [r.init, r.weights2d, r.modelDir])).toEqual([
      ["scratch-2d", "/m2d", join(out, "model", "scratch-2d-run0")],
      ["genesis-2d", "/m2d", join(out, "model", "genesis-2d-run0")],
    ]);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(Object.keys(results.runs)).toEqual(["scratch-2d", "genesis-2d"]);
  });

  it("returns 1 and prints `<task>: message` for bad options", async () => {
    const seen = { reqs: [] as FinetuneRequest[] };
    const code = await runTaskMain(["node", "main.js", "--out", out, "--init", "genesis"], spec(seen));
    expect(code).toBe(1);
    expect(stderr).toEqual([
      "ncc: --init genesis needs --weights FILE (our model directory or Genesis_Chest_CT.pt/.h5)\n",
    ]);
    expect(seen.reqs).toEqual([]);
  });

  it("returns commander's exit code for a missing --out and 0 for --help", async () => {
    const seen = { reqs: [] as FinetuneRequest[] };
    expect(await runTaskMain(["node", "main.js", "--quick"], spec(seen))).toBe(1);
    expect(stderr.join("")).toContain("required option '--out <dir>' not specified");
    expect(await runTaskMain(["node", "main.js", "--help"], spec(seen))).toBe(0);
  });
});
