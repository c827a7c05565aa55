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
    // the breakdown re-runs the saved model on the same validation cubes in other batches (BatchNorm
    // uses batch statistics, hence 1e-3): it is the best epoch's model, and the verdicts agree with
    // this independent evaluation
    const margins = `best ${best}, breakdown ${bd.all.model}, identity ${bd.all.identity}, constant ${bd.all.constant}`;
    expect(Math.abs(bd.all.model - best), margins).toBeLessThan(1e-3 * best);
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
  }, 300_000);
});
