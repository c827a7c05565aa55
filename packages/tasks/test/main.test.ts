import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { SampleArrays } from "@models-genesis/datasets";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { FinetuneRequest, PreparedTask } from "../src/app.js";
import { taskPreprocessing } from "../src/config.js";
import type { TaskMainOptions } from "../src/define.js";
import { runTaskMain, type TaskMainSpec } from "../src/main.js";
import { needSample } from "../src/prepare.js";
import { TASK_CONFIGS } from "../src/registry.js";

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

  function spec(seen: { opts?: TaskMainOptions; sample?: unknown; reqs: FinetuneRequest[] }): TaskMainSpec {
    return {
      config: TASK_CONFIGS.ncc,
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
          preprocessing: taskPreprocessing(TASK_CONFIGS.ncc),
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
    const seen: { opts?: TaskMainOptions; sample?: unknown; reqs: FinetuneRequest[] } = { reqs: [] };
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

  it("segmentation: the log line, results.md and results.json name Dice and IoU beside the paper's IoU", async () => {
    const seen: { opts?: TaskMainOptions; sample?: unknown; reqs: FinetuneRequest[] } = { reqs: [] };
    const base = spec(seen);
    const s: TaskMainSpec = {
      ...base,
      config: TASK_CONFIGS.ncs,
      prepare: async (opts, sample, log) => ({
        ...(await base.prepare(opts, sample, log)),
        task: "ncs",
        config: TASK_CONFIGS.ncs,
      }),
      finetune: async () => ({ value: 0.4712, metrics: { dice: 0.021, iou: 0.0106 } }),
    };
    expect(await runTaskMain(["node", "main.js", "--data", "/d", "--out", out], s)).toBe(0);
    expect(stderr).toContain("ncs: ncs scratch run 0: Dice 2.10%, IoU 1.06%, IoU (paper) 47.12%\n");
    expect(stderr.at(-1)).toBe(`ncs: wrote ${out}/results.json and results.md (Dice, IoU and IoU (paper))\n`);
    const md = readFileSync(join(out, "results.md"), "utf8");
    expect(md.split("\n").slice(0, 5)).toEqual([
      "# NCS results (Dice, IoU and the paper's IoU, percent)",
      "",
      "| initialisation | runs | Dice: mean ± sd | IoU: mean ± sd | IoU (paper): mean ± sd |",
      "|---|---|---|---|---|",
      "| scratch | 1 | 2.10 ± — | 1.06 ± — | 47.12 ± — |",
    ]);
    expect(md).toContain(
      "- IoU (paper): the paper's metric, Keras two-class (background + foreground) mean IoU",
    );
    expect(md).toContain("| scratch | 1 | 47.12 ± — | 47.12 | 74.05 ± 1.97 (IoU (paper)) |");
    expect(md).not.toContain("scratch: dice");
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(results.runs.scratch.extra.dice.values).toEqual([0.021]);
    expect(results.runs.scratch.extra.iou.values).toEqual([0.0106]);
    expect(Object.keys(results.metricNames)).toEqual(["dice", "iou", "value"]);
    expect(results.metricNames.dice).toMatch(/^Dice: /);
  });

  it("passes --weights-2d and the 2-D initialisations through to every request", async () => {
    const seen: { opts?: TaskMainOptions; sample?: unknown; reqs: FinetuneRequest[] } = { reqs: [] };
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

  it("refuses an unknown --backend before preparing any data; a known one reaches every request", async () => {
    const seen = { reqs: [] as FinetuneRequest[] };
    const saved = process.env.GENESIS_BACKEND;
    delete process.env.GENESIS_BACKEND;
    try {
      const code = await runTaskMain(["node", "main.js", "--out", out, "--backend", "WebGPU"], spec(seen));
      expect(code).toBe(1);
      expect(stderr).toEqual([
        "ncc: --backend WebGPU: unknown backend; choose one of tensorflow, webgpu, wasm, cpu\n",
      ]);
      expect(seen.reqs).toEqual([]);
      const ok = ["node", "main.js", "--data", "/d", "--out", out, "--folds", "/f", "--backend", "cpu"];
      expect(await runTaskMain(ok, spec(seen))).toBe(0);
      expect(seen.reqs.map((r) => r.backend)).toEqual(["cpu"]);
      expect(process.env.GENESIS_BACKEND).toBeUndefined();
    } finally {
      if (saved !== undefined) process.env.GENESIS_BACKEND = saved;
    }
  });

  it("refuses an unknown --engine before preparing any data; --engine tfjs reaches every request and results.json notes the engine", async () => {
    const seen: { opts?: TaskMainOptions; reqs: FinetuneRequest[] } = { reqs: [] };
    expect(await runTaskMain(["node", "main.js", "--out", out, "--engine", "torch"], spec(seen))).toBe(1);
    expect(stderr).toEqual(['ncc: --engine must be onnx or tfjs, got "torch"\n']);
    expect(seen.opts).toBeUndefined();
    const s = spec(seen);
    const withEngine: TaskMainSpec = {
      ...s,
      finetune: async (req) => ({ value: 0.5, testEngine: `tfjs wasm (${req.engine?.note})` }),
    };
    const ok = [
      "node",
      "main.js",
      "--data",
      "/d",
      "--out",
      out,
      "--folds",
      "/f",
      "--engine",
      "tfjs",
      "--runs",
      "2",
    ];
    expect(await runTaskMain(ok, withEngine)).toBe(0);
    const results = JSON.parse(readFileSync(join(out, "results.json"), "utf8"));
    expect(results.notes.testEngine).toBe("tfjs wasm (--engine tfjs)");
  });

  it("a --backend that cannot start is reported as coming from --backend, not GENESIS_BACKEND", async () => {
    // tfjs-node is not a dependency of this repository, so "tensorflow" cannot start (as in kernels' test)
    const seen = { reqs: [] as FinetuneRequest[] };
    const { finetune: _f, ...noFinetune } = spec(seen);
    const argv = ["node", "main.js", "--data", "/d", "--out", out, "--backend", "tensorflow"];
    expect(await runTaskMain(argv, noFinetune)).toBe(1);
    expect(stderr.at(-1)).toMatch(
      /^ncc: backend "tensorflow" \(from --backend\) is not available; .*needs @tensorflow\/tfjs-node/,
    );
  });

  it("hands the preparation's record to every request and marks a --quick run in results.md", async () => {
    const seen = { reqs: [] as FinetuneRequest[] };
    const argv = ["node", "main.js", "--data", "/d", "--out", out, "--quick", "--runs", "2"];
    expect(await runTaskMain(argv, spec(seen))).toBe(0);
    expect(seen.reqs).toHaveLength(2);
    for (const r of seen.reqs) expect(r.preprocessing).toEqual(taskPreprocessing(TASK_CONFIGS.ncc));
    expect(seen.reqs[0].preprocessing).toMatchObject({
      modality: "CT",
      window: [-1000, 1000],
      patchSize: [64, 64, 32],
    });
    const md = readFileSync(join(out, "results.md"), "utf8").split("\n");
    expect(md.slice(0, 5)).toEqual([
      "# NCC results (AUC, percent)",
      "",
      "**Quick run** (`--quick`): a small subset and a short schedule, a pipeline check.",
      "Not comparable with the paper's numbers.",
      "",
    ]);
  });

  it("without --data on a fresh clone (no ../shared) names the bundled LIDC sample", async () => {
    const clone = join(out, "clone");
    mkdirSync(join(clone, "apps/ncs/dist"), { recursive: true });
    mkdirSync(join(clone, "apps/cli/sample/lidc-voi/image"), { recursive: true });
    writeFileSync(join(clone, "pnpm-workspace.yaml"), "packages: []\n");
    vi.spyOn(process, "cwd").mockReturnValue(clone);
    const saved = process.env.GENESIS_SHARED_DIR;
    delete process.env.GENESIS_SHARED_DIR;
    try {
      const seen: { sample?: unknown; reqs: FinetuneRequest[] } = { reqs: [] };
      const base = { ...spec(seen), appUrl: pathToFileURL(join(clone, "apps/ncs/dist/main.js")).href };
      // a preparation that never builds a sample layout runs without the shared data (nothing located)
      expect(await runTaskMain(["node", "main.js", "--out", join(out, "p"), "--quick"], base)).toBe(0);
      expect(typeof seen.sample).toBe("function");
      stderr.length = 0;
      // one that needs it gets the locating function's error, naming the bundled sample
      const s: TaskMainSpec = {
        ...base,
        prepare: async (o, sampleData, log) => {
          needSample({ sampleData, out: o.out });
          return base.prepare(o, sampleData, log);
        },
      };
      expect(await runTaskMain(["node", "main.js", "--out", join(out, "o"), "--quick"], s)).toBe(1);
      const shared = join(out, "shared/data");
      expect(stderr).toEqual([
        `ncc: ${shared}: no sample data found (tried ${shared}); pass --data DIR with the dataset in its own layout, or set GENESIS_SHARED_DIR\n`,
      ]);
      // NCS, whose data the bundled LIDC sample is, is pointed to it
      stderr.length = 0;
      const ncs: TaskMainSpec = { ...s, config: TASK_CONFIGS.ncs };
      expect(await runTaskMain(["node", "main.js", "--out", join(out, "o"), "--quick"], ncs)).toBe(1);
      expect(stderr).toEqual([
        `ncs: ${shared}: no sample data found (tried ${shared}); pass --data DIR with the dataset in its own layout, or set GENESIS_SHARED_DIR. The repository bundles a small LIDC sample usable as --data for ncs: ${clone}/apps/cli/sample/lidc-voi (nodule VOIs, image/ + mask/)\n`,
      ]);
    } finally {
      if (saved !== undefined) process.env.GENESIS_SHARED_DIR = saved;
    }
  });

  it("returns commander's exit code for a missing --out and 0 for --help", async () => {
    const seen = { reqs: [] as FinetuneRequest[] };
    expect(await runTaskMain(["node", "main.js", "--quick"], spec(seen))).toBe(1);
    expect(stderr.join("")).toContain("required option '--out <dir>' not specified");
    expect(await runTaskMain(["node", "main.js", "--help"], spec(seen))).toBe(0);
  });
});
