/**
 * @vitest-environment node
 * Evaluation = prediction (issue 15, item 5): `genesis finetune --images/--labels` reports as its
 * test score what `genesis predict` gives on the whole test volumes. A width-2 model is fine-tuned
 * for six short epochs (lr 0.01: enough for a mask that is neither empty nor the whole volume; about
 * 5 s on wasm) on 16×16×16 patches of the LIDC VOIs bundled in apps/cli/sample (eight
 * patients); then `genesis predict` segments every test volume of the run's splits.json with its
 * defaults, and the Dice pooled over the written masks must equal finetune's within 1e-6.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadModel } from "@models-genesis/models";
import { readVolume } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { genesis } from "./run-cli.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SAMPLE = path.join(repoRoot, "apps/cli/sample/lidc-voi");
const PATIENTS = ["0001", "0003", "0004", "0005", "0006", "0007", "0008", "0010"];

describe("genesis finetune --images/--labels: the test score is genesis predict's", () => {
  let dir: string;
  let images: string;
  let labels: string;
  let out: string;

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), "genesis-eval-predict-"));
    images = path.join(dir, "image");
    labels = path.join(dir, "mask");
    out = path.join(dir, "run");
    mkdirSync(images);
    mkdirSync(labels);
    const files = readdirSync(path.join(SAMPLE, "image")).filter((f) =>
      PATIENTS.some((p) => f.startsWith(`LIDC-IDRI-${p}_`)),
    );
    expect(files.length).toBe(12);
    for (const f of files) {
      copyFileSync(path.join(SAMPLE, "image", f), path.join(images, f));
      copyFileSync(path.join(SAMPLE, "mask", f), path.join(labels, f));
    }
  });

  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("pooled Dice of predict's masks on the test volumes = finetune's whole-volume Dice (1e-6)", async () => {
    const ft = await genesis(
      "finetune",
      "--images",
      images,
      "--labels",
      labels,
      "--out",
      out,
      "--width",
      "2",
      "--patch-size",
      "16x16x16",
      "--epochs",
      "6",
      "--lr",
      "0.01",
      "--batch-size",
      "2",
      "--augment",
      "none",
      "--seed",
      "3",
      "--backend",
      "wasm",
      "--plain",
    );
    expect(ft.err).toMatch(/test \(whole volumes, as genesis predict: BN running-statistics, batch 1/);
    expect(ft.err).toMatch(/test \(label-centred patches, batch statistics\): dice/);
    expect(ft.code).toBe(0);
    const report = JSON.parse(readFileSync(path.join(out, "finetune.json"), "utf8"));
    const split = JSON.parse(readFileSync(path.join(out, "splits.json"), "utf8")) as { test: string[] };
    expect(split.test.length).toBeGreaterThan(0);
    // the model records its inference BN mode: trained here → running statistics
    const { model, metadata } = await loadModel(path.join(out, "model"));
    model.dispose();
    expect(metadata.inferenceBnMode).toBe("running-statistics");
    expect(metadata.preprocessing.patchSize).toEqual([16, 16, 16]);
    const wv = report.testWholeVolume;
    expect(wv).toMatchObject({
      bnMode: "running-statistics",
      bnModeSource: "metadata",
      batchSize: 1,
      overlap: 0.5,
      threshold: 0.5,
      blend: "gaussian",
      patchSize: [16, 16, 16],
    });
    expect(wv.volumes.map((v: { id: string }) => v.id)).toEqual(split.test);
    expect(report.test).toEqual({ dice: wv.dice, iou: wv.iou });
    // the patch-based numbers are kept, named as such
    expect(typeof report.testPatches.dice).toBe("number");
    expect(report.testPatches.method).toMatch(/label-centred patches/);

    let inter = 0;
    let pred = 0;
    let truth = 0;
    let voxels = 0;
    for (const [k, id] of split.test.entries()) {
      const maskPath = path.join(dir, `${id}_pred.nii.gz`);
      const p = await genesis(
        "predict",
        "--model",
        path.join(out, "model"),
        path.join(images, `${id}.nii.gz`),
        "--out",
        maskPath,
        "--backend",
        "wasm",
      );
      expect(p.err + p.out).not.toMatch(/error/i);
      expect(p.code).toBe(0);
      expect(p.out).toMatch(/BN running-statistics, /);
      const mask = await readVolume(maskPath, { kind: "label" });
      const label = await readVolume(path.join(labels, `${id}.nii.gz`), { kind: "label" });
      expect(mask.shape).toEqual(label.shape);
      let i0 = 0;
      let p0 = 0;
      let t0 = 0;
      for (let i = 0; i < mask.data.length; i++) {
        const a = mask.data[i] > 0;
        const b = label.data[i] > 0;
        if (a) p0++;
        if (b) t0++;
        if (a && b) i0++;
      }
      // voxel for voxel the same masks: the counts finetune recorded for this volume
      expect([wv.volumes[k].predicted, wv.volumes[k].truth, wv.volumes[k].intersection]).toEqual([
        p0,
        t0,
        i0,
      ]);
      expect(t0).toBeGreaterThan(0); // every VOI has a nodule
      voxels += mask.data.length;
      inter += i0;
      pred += p0;
      truth += t0;
    }
    // not trivially equal: the masks are neither empty nor the whole volumes, and they overlap the nodules
    expect(inter).toBeGreaterThan(0);
    expect(pred).toBeLessThan(voxels);
    // and the BN mode matters: batch statistics of one patch give other masks than the recorded default
    const first = split.test[0];
    const other = path.join(dir, `${first}_batchstats.nii.gz`);
    const b = await genesis(
      "predict",
      "--model",
      path.join(out, "model"),
      path.join(images, `${first}.nii.gz`),
      "--out",
      other,
      "--backend",
      "wasm",
      "--bn-mode",
      "batch-statistics",
    );
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/BN batch-statistics \(--bn-mode\), /);
    const otherMask = await readVolume(other, { kind: "label" });
    let otherCount = 0;
    for (let i = 0; i < otherMask.data.length; i++) if (otherMask.data[i] > 0) otherCount++;
    expect(otherCount).not.toBe(wv.volumes[0].predicted);
    const dice = (2 * inter) / (pred + truth);
    const iou = inter / (pred + truth - inter);
    expect(Math.abs(report.test.dice - dice)).toBeLessThanOrEqual(1e-6);
    expect(Math.abs(report.test.iou - iou)).toBeLessThanOrEqual(1e-6);
  }, 600_000);
});
