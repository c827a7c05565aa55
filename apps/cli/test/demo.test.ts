import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeNpy } from "@models-genesis/volume-io";
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

  it("refuses a new pretraining into an --out holding an earlier run, unless --resume or --overwrite", async () => {
    const dir = await mkdtemp(join(tmpdir(), "genesis-earlier-"));
    dirs.push(dir);
    const out = join(dir, "run");
    await mkdir(join(out, "checkpoints"), { recursive: true });
    await writeFile(join(out, "checkpoints", "last.prev.ckpt"), "old");
    await writeFile(join(out, "log.jsonl"), `${JSON.stringify({ epoch: 4 })}\n`);
    const r = await genesis("pretrain", "nowhere.nii.gz", "--out", out, "--threads", "1");
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `genesis: ${out} holds a pretraining run (checkpoints/last.prev.ckpt, epoch 4): continue it with --resume, or pass --overwrite to start over\n`,
    );
    await writeFile(join(out, "plan.json"), "{}");
    const p = await genesis("pretrain", "nowhere.nii.gz", "--out", out, "--threads", "1");
    expect(p.err).toContain(`${out} holds a pretraining run (plan.json, epoch 4)`);
    // --overwrite gets past the check (and fails later, on the missing input); the old run is untouched
    const o = await genesis("pretrain", "nowhere.nii.gz", "--out", out, "--overwrite", "--threads", "1");
    expect(o.code).toBe(1);
    expect(o.err).not.toContain("holds a pretraining run");
    expect(o.err).toContain("nowhere.nii.gz");
    expect(existsSync(join(out, "checkpoints", "last.prev.ckpt"))).toBe(true);
    const both = await genesis("pretrain", "--out", out, "--overwrite", "--resume", "--threads", "1");
    expect(both.err).toContain("--resume continues the run in --out, --overwrite starts it over");
  });

  it("finetune checks its input folders and files before starting the backend", async () => {
    const dir = await mkdtemp(join(tmpdir(), "genesis-ft-inputs-"));
    dirs.push(dir);
    const images = join(dir, "images");
    await mkdir(images);
    await writeFile(join(images, "notes.txt"), "no volume here\n");
    const out = join(dir, "out");
    const r = await genesis("finetune", "--images", images, "--labels", join(dir, "labels"), "--out", out);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `genesis: ${images}: no volume found (no .nii, .nii.gz, .hdr, .mhd, .mha file and no DICOM series in it or below)\n`,
    );
    const x = await genesis("finetune", "--x", join(dir, "x.npy"), "--y", join(dir, "y.npy"), "--out", out);
    expect(x.code).toBe(1);
    expect(x.err).toBe(`genesis: --x ${join(dir, "x.npy")}: no such file\n`);
    const none = await genesis("finetune", "--out", out);
    expect(none.err).toBe(
      "genesis: give the data: --images DIR --labels DIR (segmentation volumes) or --x X.npy --y Y.npy (arrays)\n",
    );
  });

  it("names an --out folder that is not writable, in one line, before any work", async () => {
    // root writes through permission bits: there /sys (read-only to everyone) stands in for a read-only folder
    let ro = "/sys";
    if (process.getuid?.() !== 0) {
      ro = await mkdtemp(join(tmpdir(), "genesis-ro-"));
      dirs.push(ro);
      await chmod(ro, 0o555);
    }
    for (const cmd of [
      ["demo", "--out", ro],
      ["pretrain", "nowhere.nii.gz", "--out", ro],
      ["finetune", "--out", ro, "--x", "x.npy", "--y", "y.npy"],
    ]) {
      const r = await genesis(...cmd, "--threads", "1");
      expect(r.code, cmd[0]).toBe(1);
      expect(r.err, cmd[0]).toMatch(
        new RegExp(`(^|\\n)genesis: --out ${ro}: the folder is not writable \\([A-Z]+: [^\\n]*\\)\\n$`),
      );
    }
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
    // the breakdown re-runs the saved model on the same validation cubes, weighing every cube the same
    // and in other batches (BatchNorm uses batch statistics), where the trainer averages batch means:
    // within 1 % it is the best epoch's model (epochs differ by far more), and the verdicts agree with
    // this independent evaluation
    const margins = `best ${best}, breakdown ${bd.all.model}, identity ${bd.all.identity}, constant ${bd.all.constant}`;
    expect(Math.abs(bd.all.model - best), margins).toBeLessThan(1e-2 * best);
    expect(s.pretrain.beats_identity, margins).toBe(bd.all.model < bd.all.identity);
    expect(s.pretrain.beats_constant, margins).toBe(bd.all.model < bd.all.constant);
    // Dice and IoU count the same test voxels (nodules present, so neither is empty): Dice = 2·IoU/(1+IoU);
    // the printed table shows the summary's values
    for (const init of ["genesis", "scratch"] as const) {
      const { dice, iou, paperIoU } = s.finetune[init] as { dice: number; iou: number; paperIoU: number };
      expect(dice).toBeCloseTo((2 * iou) / (1 + iou), 9);
      const pct = (v: number) => `${(100 * v).toFixed(1)}%`;
      expect(r.out).toContain(
        `| ${init} | ${pct(dice).padStart(6)} | ${pct(iou).padStart(6)} |    ${pct(paperIoU).padStart(6)} |`,
      );
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
  const tiny = (out: string, epochs = 1) => [
    "pretrain",
    join(__dirname, "..", "sample", "chest-ct", "copdgene_10002K_ct64.nii.gz"),
    "--out",
    out,
    ...["--patch-size", "16x16x16", "--scale", "6", "--border-xy", "2", "--border-z", "2"],
    ...["--lung-max", "1", "--val-fraction", "0.3", "--width", "2", "--batch-size", "2"],
    ...["--epochs", String(epochs), "--steps-per-epoch", "1", "--lr", "1e-9", "--threads", "1", "--plain"],
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

  it("--resume with a truncated last.ckpt falls back to the previous checkpoint and says so", async () => {
    const dir = await mkdtemp(join(tmpdir(), "genesis-resume-"));
    dirs.push(dir);
    const out = join(dir, "run");
    const first = await genesis(...tiny(out, 2));
    expect(first.code, first.err).toBe(0);
    const last = join(out, "checkpoints", "last.ckpt");
    expect(existsSync(join(out, "checkpoints", "last.prev.ckpt"))).toBe(true);
    await truncate(last, (await stat(last)).size - 100);
    const again = await genesis(...tiny(out, 3), "--resume");
    expect(again.code, again.err).toBe(0);
    expect(again.err).toMatch(
      /last\.ckpt: truncated payload \(\d+ bytes, \d+ expected\) \(moved to .*last\.ckpt\.corrupt\); falling back to the previous checkpoint .*last\.prev\.ckpt/,
    );
    const json = JSON.parse(await readFile(join(out, "pretrain.json"), "utf8"));
    expect(json.val_mse).toHaveLength(3);
  }, 120_000);
});

describe("genesis finetune says what it trains on and when the AUC is undefined", () => {
  it("prints the split sizes; a one-class validation and test split give one line each, and the report says why", async () => {
    const dir = await mkdtemp(join(tmpdir(), "genesis-ft-"));
    dirs.push(dir);
    const n = 10;
    const per = 16 * 16 * 16;
    const x = new Float32Array(n * per);
    for (let i = 0; i < x.length; i++) x[i] = ((i * 2654435761) % 1000) / 1000;
    // train = rows 0–5 (both classes), validation = 6–7 and test = 8–9 (negatives only)
    const y = Float32Array.of(0, 1, 0, 1, 0, 1, 0, 0, 0, 0);
    await writeNpy(join(dir, "x.npy"), { data: x, shape: [n, 16, 16, 16] });
    await writeNpy(join(dir, "y.npy"), { data: y, shape: [n, 1] });
    const out = join(dir, "out");
    const r = await genesis(
      ...["finetune", "--task", "classification", "--out", out, "--x", join(dir, "x.npy")],
      ...["--y", join(dir, "y.npy"), "--split", "0.6,0.2", "--width", "2", "--batch-size", "2"],
      ...["--epochs", "2", "--threads", "1", "--plain"],
    );
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(
      "fine-tuning (classification): 6 training / 2 validation / 2 test samples of 16×16×16",
    );
    expect(
      r.err.match(/validation AUC is NaN: labels hold only one class \(0 positive, 2 negative\)/g),
    ).toHaveLength(1);
    expect(r.err).toContain("test AUC is NaN: the test labels hold only one class (0 positive, 2 negative)");
    expect(r.err).toMatch(/test: auc NaN, aucUndefined: only one class \(0 positive, 2 negative\)/);
    const report = JSON.parse(await readFile(join(out, "finetune.json"), "utf8"));
    expect(report.test.aucUndefined).toBe("only one class (0 positive, 2 negative)");
  }, 120_000);
});
