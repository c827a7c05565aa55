/**
 * @vitest-environment node
 * The NCS app end to end with the slice-wise 2-D U-Net (`--quick --init scratch-2d`) on the real
 * LIDC-IDRI nodule VOIs of ../shared/data (20 VOIs, width 4, 2 epochs × 4 steps of 2 slices).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type PreparedTask, prepareNcs, runTaskMain } from "@models-genesis/datasets";
import { loadModel } from "@models-genesis/models";
import { evaluatePredictions, predictSlicewise } from "@models-genesis/train";
import { afterAll, describe, expect, it, vi } from "vitest";
import { runFinetune } from "../src/finetune.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const SHARED = process.env.GENESIS_SHARED_DIR ?? path.resolve(repoRoot, "../shared");
const LIDC = path.join(SHARED, "data/ct/lidc_nodule_vois");

describe.skipIf(!existsSync(LIDC))("ncs --quick --init scratch-2d", () => {
  const out = mkdtempSync(path.join(tmpdir(), "ncs-2d-"));
  afterAll(() => rmSync(out, { recursive: true, force: true }));

  it("trains on axial slices, scores the stacked 3-D patches and saves a 2-D model that reproduces the score", async () => {
    let prepared: PreparedTask | undefined;
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      err.push(String(s));
      return true;
    });
    let code: number;
    try {
      code = await runTaskMain(["node", "main.js", "--out", out, "--quick", "--init", "scratch-2d"], {
        task: "ncs",
        description: "NCS",
        dataHelp: "LIDC",
        appUrl: pathToFileURL(path.join(repoRoot, "apps/ncs/src/main.ts")).href,
        prepare: async (o, sampleData, log) => {
          prepared = await prepareNcs({
            sampleData,
            out: o.out,
            quick: o.quick,
            seed: o.seed,
            log,
            sampleLimit: 20,
          });
          return prepared;
        },
        finetune: runFinetune,
      });
    } finally {
      spy.mockRestore();
    }
    expect(code, err.join("")).toBe(0);
    const test = prepared!.folds[0].test;
    const nTrain = prepared!.folds[0].train.xShape[0];
    expect(err.join("")).toContain(`fine-tuning: 2-D network, slice-wise: ${nTrain * 32} training`);
    const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8"));
    const r = results.runs["scratch-2d"];
    expect(r.values).toHaveLength(1);
    expect(r.values[0]).toBeGreaterThanOrEqual(0);
    expect(r.values[0]).toBeLessThanOrEqual(1);
    expect(readFileSync(path.join(out, "results.md"), "utf8")).toContain("| not reported here |");

    // the saved model: 2-D, slice-wise, and its stacked slice predictions give the reported metrics
    const { model, metadata } = await loadModel(path.join(out, "model", "scratch-2d-run0"));
    try {
      expect(model.architecture.spatialDims).toBe(2);
      expect(metadata.width).toBe(4);
      expect(metadata.extra?.patchSize).toEqual([64, 64, 32]);
      expect(metadata.extra?.finetuning).toMatchObject({ init: "scratch-2d", slicewise: true });
      const pred = await predictSlicewise(model, test.x, test.xShape, 2);
      const m = evaluatePredictions("segmentation", pred, test.y, test.yShape);
      expect(m.paperIoU).toBeCloseTo(r.values[0], 6);
      expect(m.dice).toBeCloseTo(r.extra.dice.values[0], 6);
      expect(m.iou).toBeCloseTo(r.extra.iou.values[0], 6);
    } finally {
      model.dispose();
    }
  });
});
