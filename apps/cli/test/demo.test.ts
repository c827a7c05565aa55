import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { DemoSummary } from "../src/commands/demo.js";
import { genesis } from "./run-cli.js";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("training commands refuse a bad --out or --resume before doing any work", () => {
  it("names an --out that is a file, and a missing checkpoint for --resume", async () => {
    const dir = await mkdtemp(join(tmpdir(), "genesis-out-"));
    dirs.push(dir);
    const file = join(dir, "afile");
    await writeFile(file, "x");
    for (const cmd of [
      ["demo", "--out", file],
      ["pretrain", "nowhere.nii.gz", "--out", file],
      ["finetune", "--out", file, "--x", "x.npy", "--y", "y.npy"],
    ]) {
      const r = await genesis(...cmd, "--threads", "1");
      expect(r.code, cmd[0]).toBe(1);
      expect(r.err).toContain(`--out ${file}: exists and is not a folder`);
    }
    const r = await genesis(
      "pretrain",
      "nowhere.nii.gz",
      "--out",
      join(dir, "run"),
      "--resume",
      "--threads",
      "1",
    );
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--resume: .*last\.ckpt: no checkpoint to resume from/);
  });
});

describe("genesis demo on the bundled sample (tiny settings)", () => {
  it("pretrains, fine-tunes from Genesis and from scratch, and writes a consistent summary.json", async () => {
    const out = await mkdtemp(join(tmpdir(), "genesis-demo-"));
    dirs.push(out);
    const r = await genesis(
      "demo",
      "--out",
      out,
      "--plain",
      "--width",
      "2",
      "--cube",
      "16,16,16",
      "--pretrain-epochs",
      "2",
      "--pretrain-steps",
      "2",
      "--pretrain-batch",
      "4",
      "--finetune-epochs",
      "1",
      "--threads",
      "2",
    );
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(await readFile(join(out, "summary.json"), "utf8")) as DemoSummary;
    expect(s.threads).toBe(2);
    expect(s.pretrain.val_mse).toHaveLength(2);
    const best = Math.min(...s.pretrain.val_mse);
    expect(s.pretrain.beats_identity).toBe(best < s.pretrain.identity_mse);
    expect(s.pretrain.beats_constant).toBe(best < s.pretrain.constant_mse);
    expect(s.pretrain.cubes.train).toBeGreaterThan(0);
    expect(s.pretrain.cubes.val).toBeGreaterThan(0);
    // the breakdown scores the same validation cubes: one constant baseline for every corruption,
    // zero identity error on uncorrupted cubes, the reference mix's identity baseline under "all"
    const bd = s.pretrain.by_transform;
    expect(Object.keys(bd).sort()).toEqual(
      ["all", "inPaint", "localShuffle", "none", "nonlinear", "outPaint"].sort(),
    );
    for (const v of Object.values(bd)) expect(v.constant).toBeCloseTo(s.pretrain.constant_mse, 10);
    expect(bd.none.identity).toBe(0);
    expect(bd.all.identity).toBeCloseTo(s.pretrain.identity_mse, 10);
    for (const init of ["genesis", "scratch"] as const) {
      for (const k of ["dice", "iou", "paperIoU"] as const) {
        const v = s.finetune[init][k] as number;
        expect(v).toBeGreaterThanOrEqual(0);
        expect(v).toBeLessThanOrEqual(1);
      }
    }
    for (const f of [
      "pretrain/model/model.json",
      "finetune-genesis/model/model.json",
      "finetune-scratch/model/model.json",
    ])
      expect(existsSync(join(out, f)), f).toBe(true);
    expect(r.out).toMatch(/\| genesis \|/);
    expect(r.out).toMatch(/2 training threads/);
    // the verdict: in summary.json, consistent with the numbers, and on stderr
    const expected = !s.pretrain.beats_constant
      ? "above-constant-baseline"
      : s.pretrain.output_std_ratio !== null && s.pretrain.output_std_ratio < 0.1
        ? "collapsed"
        : s.pretrain.beats_identity
          ? "below-baselines"
          : "above-identity-baseline";
    expect(s.pretrain.verdict).toBe(expected);
    expect(r.err).toContain(`pretraining verdict: ${expected}`);
  }, 300_000);
});

describe("genesis pretrain says when pretraining failed", () => {
  // 1 step at a learning rate of 1e-9 on 16³ cubes of the bundled chest CT: cannot beat the constant baseline
  const tiny = (out: string) => [
    "pretrain",
    join(__dirname, "..", "sample", "chest-ct", "copdgene_10002K_ct64.nii.gz"),
    "--out",
    out,
    ...["--cube-shape", "16,16,16", "--scale", "6", "--border-xy", "2", "--border-z", "2"],
    ...["--lung-max", "1", "--val-fraction", "0.3", "--width", "2", "--batch-size", "2"],
    ...["--epochs", "1", "--steps-per-epoch", "1", "--lr", "1e-9", "--threads", "1", "--plain"],
  ];

  it("warns and exits 0 without --strict; exits 3 naming the verdict with --strict; pretrain.json has it", async () => {
    const dir = await mkdtemp(join(tmpdir(), "genesis-verdict-"));
    dirs.push(dir);
    const lax = await genesis(...tiny(join(dir, "lax")));
    expect(lax.code, lax.err).toBe(0);
    expect(lax.err).toMatch(
      /warning: pretraining failed \(above-constant-baseline\): best validation MSE [\d.]+ is not below the constant baseline/,
    );
    expect(lax.err).toContain("pretraining verdict: above-constant-baseline (FAILED)");
    const json = JSON.parse(await readFile(join(dir, "lax", "pretrain.json"), "utf8"));
    expect(json.verdict).toBe("above-constant-baseline");
    expect(json.best_val_mse).toBeGreaterThanOrEqual(json.constant_mse);

    const strict = await genesis(...tiny(join(dir, "strict")), "--strict");
    expect(strict.code).toBe(3);
    expect(strict.err).toMatch(
      /genesis: --strict: pretraining failed \(above-constant-baseline\): best validation MSE/,
    );
    // everything was written before the non-zero exit
    expect(existsSync(join(dir, "strict", "pretrain.json"))).toBe(true);
    expect(existsSync(join(dir, "strict", "model", "model.json"))).toBe(true);
  }, 120_000);
});
