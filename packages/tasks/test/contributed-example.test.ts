// The README's "Adding a target task" example, compiled and run through the runner on the LIDC
// VOIs bundled in apps/cli/sample: a new task is its folder and its test.
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { NODULE32_CONFIG, NODULE32_TASK } from "../examples/nodule32.js";
import { type FinetuneRequest, runTaskMain } from "../src/index.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const VOIS = path.resolve(here, "../../../apps/cli/sample/lidc-voi");

describe("README example: a contributed target task", () => {
  let out: string;
  const stderr: string[] = [];
  beforeEach(async () => {
    out = await mkdtemp(path.join(tmpdir(), "tasks-example-"));
    stderr.length = 0;
    vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      stderr.push(String(s));
      return true;
    });
  });
  afterEach(async () => {
    vi.restoreAllMocks();
    await rm(out, { recursive: true, force: true });
  });

  it("the README quotes the example file verbatim", () => {
    const readme = readFileSync(path.join(here, "../README.md"), "utf8");
    const example = readFileSync(path.join(here, "../examples/nodule32.ts"), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it("runs through the runner: patient split, 32×32×16 cubes, its record in every request, results written", async () => {
    const reqs: FinetuneRequest[] = [];
    const code = await runTaskMain(["node", "main.js", "--data", VOIS, "--out", out, "--runs", "2"], {
      ...NODULE32_TASK,
      finetune: async (req) => {
        reqs.push(req);
        return { value: 0.5, metrics: { dice: 0.25, iou: 0.125 } };
      },
    });
    expect(code, stderr.join("")).toBe(0);
    expect(reqs).toHaveLength(2);
    const { train, val, test } = reqs[0].data;
    // the 212 bundled VOIs of 105 patients, split by patient 70/10/20 %
    expect(train.xShape[0] + val.xShape[0] + test.xShape[0]).toBe(212);
    expect(train.xShape.slice(1)).toEqual([32, 32, 16, 1]);
    const patients = (ids: string[]) => new Set(ids.map((i) => i.slice(0, 14)));
    for (const p of patients(test.ids)) expect(patients(train.ids).has(p)).toBe(false);
    expect(reqs[0].preprocessing).toMatchObject({
      modality: "CT",
      window: [-1000, 1000],
      patchSize: [32, 32, 16],
    });
    expect(reqs[0].config).toBe(NODULE32_CONFIG);
    const results = JSON.parse(await readFile(path.join(out, "results.json"), "utf8"));
    expect(results).toMatchObject({ task: "nodule32", metric: "IoU (paper)", paper: null });
    expect(results.runs.scratch.values).toEqual([0.5, 0.5]);
    const md = await readFile(path.join(out, "results.md"), "utf8");
    expect(md).toContain("The paper (Zhou et al., MedIA 2021) reports no numbers for nodule32.");
    expect(stderr.at(-1)).toBe(
      `nodule32: wrote ${out}/results.json and results.md (Dice, IoU and IoU (paper))\n`,
    );
  });
});
