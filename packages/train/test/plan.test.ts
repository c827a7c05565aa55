/**
 * The pretraining run plan: `OUT/plan.json` written before the first step, kept by `--resume`, and a
 * resumed run refused when it differs. Real CT from apps/cli/sample (shipped), width-2 U-Nets on wasm.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { initBackend } from "@models-genesis/kernels";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Callback,
  type CubeSet,
  collectCubes,
  findPretrainRun,
  type PretrainOptions,
  type PretrainPlan,
  planDifferences,
  readPretrainPlan,
  runPretraining,
  splitCubesByIndices,
  splitCubesBySource,
} from "../src/index.js";

const SAMPLE = resolve(__dirname, "../../../apps/cli/sample/chest-ct");
const CUBE: [number, number, number] = [16, 16, 16];

let dir: string;
let cubes: CubeSet;
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: () => {} });
  dir = await mkdtemp(join(tmpdir(), "genesis-plan-"));
  cubes = await collectCubes([SAMPLE], {
    patchSize: CUBE,
    scale: 6,
    borderXY: 2,
    borderZ: 2,
    lungMax: 1,
    seed: 1,
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("splitCubesByIndices", () => {
  it("the recorded validation indices give back the same split as splitCubesBySource", () => {
    const s = splitCubesBySource(cubes, 0.3, 4);
    expect(s.valIndices.length).toBe(s.val.count);
    const r = splitCubesByIndices(cubes, s.valIndices);
    expect(r.val.sources).toEqual(s.val.sources);
    expect(r.train.sources).toEqual(s.train.sources);
    expect(r.val.data).toEqual(s.val.data);
    expect(r.train.data).toEqual(s.train.data);
    expect(() => splitCubesByIndices(cubes, [0, 0])).toThrow(
      "validation cube index 0 is not one of 12 cubes",
    );
    expect(() => splitCubesByIndices(cubes, [12])).toThrow("validation cube index 12 is not one of 12 cubes");
  });
});

describe("runPretraining writes its plan before training; --resume keeps it and refuses another run", () => {
  it("an interrupted run, resumed, equals its plan and the uninterrupted run", async () => {
    // two volumes → a patient-level split: one volume's cubes validate
    expect(new Set(cubes.sources).size).toBe(2);
    const split = splitCubesBySource(cubes, 0.3, 1);
    const planSource = {
      inputs: [SAMPLE],
      backend: "wasm",
      options: { patchSize: CUBE, scale: 6 },
      split: { valFraction: 0.3, seed: 1, valIndices: split.valIndices },
    };
    const base = (out: string, extra: Partial<PretrainOptions> = {}): PretrainOptions => ({
      train: split.train,
      val: split.val,
      out,
      width: 2,
      batchSize: 2,
      epochs: 2,
      stepsPerEpoch: 2,
      optimizer: "adam",
      lr: 0.01,
      seed: 3,
      sampleEvery: 0,
      plainProgress: true,
      plan: planSource,
      ...extra,
    });
    const full = await runPretraining(base(join(dir, "full")));

    const out = join(dir, "run");
    let planAtStart: PretrainPlan | null = null;
    const probe: Callback = {
      onTrainStart: () => {
        planAtStart = readPretrainPlan(out);
      },
      onBatchEnd: (_c, info) => {
        if (info.epoch === 1 && info.step === 1) process.emit("SIGINT", "SIGINT");
      },
    };
    const cutLog: string[] = [];
    const cut = await runPretraining(
      base(out, { handleSigint: true, callbacks: [probe], log: (l) => cutLog.push(l) }),
    );
    expect(cut.stop_reason).toBe("interrupted");
    expect(cut.epochs).toBe(1);
    // an interrupted run is not judged: no "pretraining failed" warning, a line saying it was interrupted
    expect(cutLog.filter((l) => l.includes("pretraining failed"))).toEqual([]);
    expect(cutLog).toContain(
      "pretraining interrupted after 1 epoch: no verdict until the run ends (continue it with --resume)",
    );
    // written before the first step, with every resolved option, the split and the backend
    const plan = planAtStart as PretrainPlan | null;
    expect(plan).not.toBeNull();
    if (!plan) return;
    expect(plan.backend).toBe("wasm");
    expect(plan.inputs).toEqual([SAMPLE]);
    expect(plan.options).toEqual({ patchSize: CUBE, scale: 6 });
    expect(plan.cubes).toEqual({
      count: 12,
      patch_size: CUBE,
      per_source: Object.fromEntries([...new Set(cubes.sources)].map((s) => [s, 6])),
    });
    expect(plan.split).toEqual({
      val_fraction: 0.3,
      seed: 1,
      train: [...new Set(split.train.sources)],
      val: [...new Set(split.val.sources)],
      train_count: 6,
      val_count: 6,
      val_cubes: split.valIndices,
    });
    expect(plan.training).toMatchObject({
      model_id: "genesis-unet3d",
      width: 2,
      batch_size: 2,
      epochs: 2,
      steps_per_epoch: 2,
      optimizer: "adam",
      lr: 0.01,
      momentum: 0.9,
      schedule: "step",
      step_size: 40,
      gamma: 0.5,
      patience: 50,
      slices_per_cube: null,
      seed: 3,
    });
    const bytes = readFileSync(join(out, "plan.json"), "utf8");

    // another run on the same --out with --resume: refused, one line naming the plan and the difference
    await expect(runPretraining(base(out, { resume: true, width: 4 }))).rejects.toThrow(
      `--resume: this run differs from the plan in ${join(out, "plan.json")} (training.width: 2 → 4); resume with the plan's options or start a new --out`,
    );
    const other = splitCubesByIndices(cubes, [0]);
    await expect(
      runPretraining(base(out, { resume: true, train: other.train, val: other.val })),
    ).rejects.toThrow(/--resume: this run differs from the plan in .*split\.train_count: 6 → 11/);

    // the planned run resumes to the end: the plan file is untouched, the result is the uninterrupted one
    const done = await runPretraining(base(out, { resume: true }));
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe(bytes);
    expect(done.cubes).toEqual({ train: plan.split.train_count, val: plan.split.val_count, shape: CUBE });
    expect(done.backend).toBe(plan.backend);
    expect(done.val_mse).toEqual(full.val_mse);
    expect(done.train_mse).toEqual(full.train_mse);

    // the maximum number of epochs may change on resume: the plan follows, nothing else in it changes
    const said: string[] = [];
    const more = await runPretraining(base(out, { resume: true, epochs: 3, log: (l) => said.push(l) }));
    expect(more.epochs).toBe(3);
    expect(said).toContain(
      `resuming with at most 3 epochs (the plan said 2; ${join(out, "plan.json")} updated)`,
    );
    const after = readPretrainPlan(out);
    expect(after?.training.epochs).toBe(3);
    expect(planDifferences(plan, after)).toEqual(["training.epochs: 2 → 3"]);
  }, 120_000);

  it("without a plan source, the plan records the sources and the split as given", async () => {
    const out = join(dir, "bare");
    const { train, val } = splitCubesBySource(cubes, 0.3, 1);
    await runPretraining({
      train,
      val,
      out,
      width: 2,
      batchSize: 2,
      epochs: 1,
      stepsPerEpoch: 1,
      sampleEvery: 0,
    });
    const plan = readPretrainPlan(out);
    expect(plan?.inputs.sort()).toEqual([...new Set(cubes.sources)].sort());
    expect(plan?.split.val_cubes).toEqual([6, 7, 8, 9, 10, 11]);
    expect(plan?.training.optimizer).toBe("sgd");
    expect(plan?.training.lr).toBe(1);
    expect(existsSync(join(out, "pretrain.json"))).toBe(true);
  }, 60_000);

  it("a new run into an --out holding an earlier run is refused; with overwrite the old run's files go first", async () => {
    const out = join(dir, "earlier");
    await mkdir(join(out, "checkpoints"), { recursive: true });
    await mkdir(join(out, "model"), { recursive: true });
    expect(findPretrainRun(out)).toBeNull();
    await writeFile(join(out, "checkpoints", "last.prev.ckpt"), "old");
    await writeFile(join(out, "model", "old-weights.bin"), "old");
    await writeFile(join(out, "notes.txt"), "mine");
    const oldLog = `${JSON.stringify({ epoch: 1 })}\n${JSON.stringify({ epoch: 7 })}\n`;
    await writeFile(join(out, "log.jsonl"), oldLog);
    // a checkpoint alone marks a run
    expect(findPretrainRun(out)).toEqual({ marker: "checkpoints/last.prev.ckpt", epoch: 7 });
    await writeFile(join(out, "plan.json"), "{}");
    expect(findPretrainRun(out)).toEqual({ marker: "plan.json", epoch: 7 });
    const { train, val } = splitCubesBySource(cubes, 0.3, 1);
    const o: PretrainOptions = {
      train,
      val,
      out,
      width: 2,
      batchSize: 2,
      epochs: 1,
      stepsPerEpoch: 1,
      sampleEvery: 0,
      plainProgress: true,
    };
    await expect(runPretraining(o)).rejects.toThrow(
      `${out} holds a pretraining run (plan.json, epoch 7): continue it with --resume, or pass --overwrite to start over`,
    );
    // nothing touched by the refusal
    expect(readFileSync(join(out, "log.jsonl"), "utf8")).toBe(oldLog);
    expect(readFileSync(join(out, "plan.json"), "utf8")).toBe("{}");

    const said: string[] = [];
    await runPretraining({ ...o, overwrite: true, log: (l) => said.push(l) });
    expect(said[0]).toBe(
      `--overwrite: removed the earlier run's plan.json, checkpoints, log.jsonl, model from ${out}`,
    );
    // the new run's files only: one epoch logged, no stale last.prev.ckpt, no old model file
    const log = readFileSync(join(out, "log.jsonl"), "utf8").trim().split("\n");
    expect(log.map((l) => JSON.parse(l).epoch)).toEqual([1]);
    expect(readdirSync(join(out, "checkpoints")).sort()).toEqual(["best.ckpt", "last.ckpt"]);
    expect(existsSync(join(out, "model", "old-weights.bin"))).toBe(false);
    expect(existsSync(join(out, "model", "model.json"))).toBe(true);
    expect(readPretrainPlan(out)?.training.epochs).toBe(1);
    expect(readFileSync(join(out, "notes.txt"), "utf8")).toBe("mine");
  }, 60_000);

  it("planDifferences lists each differing leaf", () => {
    expect(
      planDifferences({ a: 1, b: [1, 2], c: { d: "x" } }, { a: 1, b: [1, 3], c: { d: "y", e: 0 } }),
    ).toEqual(["b.1: 2 → 3", 'c.d: "x" → "y"', "c.e: undefined → 0"]);
  });
});
