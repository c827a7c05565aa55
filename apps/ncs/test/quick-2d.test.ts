/**
 * @vitest-environment node
 * The NCS app end to end with the slice-wise 2-D U-Net (`--quick --init scratch-2d`) on the real
 * LIDC-IDRI nodule VOIs shipped in apps/cli/sample (20 VOIs, width 4, 2 epochs × 4 steps of 2 slices).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadModel } from "@models-genesis/models";
import {
  NCS_TASK,
  type PreparedTask,
  prepareNcs,
  runFinetune,
  runTaskMain,
  testEngineFactory,
} from "@models-genesis/tasks";
import { evaluatePredictions, predictSlicewise } from "@models-genesis/train";
import { afterAll, describe, expect, it, vi } from "vitest";
import { countedMetrics } from "../../../packages/train/test/counted-metrics.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
/**
 * A shared-data-like folder made of data shipped with the repository, for `GENESIS_SHARED_DIR`:
 * `data/ct/lidc_nodule_vois/{image,mask}` link to the 212 LIDC-IDRI VOIs of apps/cli/sample and
 * `nodules.csv` is their rows of the nodule table (fixtures/lidc, see fixtures/PROVENANCE.md).
 */
function bundledSharedDir(root: string): string {
  const voi = path.join(root, "data/ct/lidc_nodule_vois");
  mkdirSync(voi, { recursive: true });
  for (const sub of ["image", "mask"])
    symlinkSync(path.join(repoRoot, "apps/cli/sample/lidc-voi", sub), path.join(voi, sub));
  copyFileSync(path.join(repoRoot, "fixtures/lidc/nodules.csv"), path.join(voi, "nodules.csv"));
  return root;
}

describe("ncs --quick --init scratch-2d", () => {
  const out = mkdtempSync(path.join(tmpdir(), "ncs-2d-"));
  const shared = bundledSharedDir(mkdtempSync(path.join(tmpdir(), "ncs-2d-data-")));
  const savedShared = process.env.GENESIS_SHARED_DIR;
  process.env.GENESIS_SHARED_DIR = shared;
  afterAll(() => {
    if (savedShared === undefined) delete process.env.GENESIS_SHARED_DIR;
    else process.env.GENESIS_SHARED_DIR = savedShared;
    rmSync(out, { recursive: true, force: true });
    rmSync(shared, { recursive: true, force: true });
  });

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
        ...NCS_TASK,
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
    expect(readFileSync(path.join(out, "results.md"), "utf8")).toContain("| not reported here |");

    // the saved model: 2-D, slice-wise, and its stacked slice predictions give the reported metrics
    const { model, metadata } = await loadModel(path.join(out, "model", "scratch-2d-run0"));
    try {
      expect(model.architecture.spatialDims).toBe(2);
      expect(metadata.width).toBe(4);
      expect(metadata.preprocessing.patchSize).toEqual([64, 64, 32]);
      expect(metadata.extra?.finetuning).toMatchObject({ init: "scratch-2d", slicewise: true });
      // on the engine the run scored the test set with (results.json notes.testEngine; by default
      // ONNX Runtime when it loads). Not tfjs's numbers: measured in this run, the engines'
      // probabilities differed by up to 0.067, on an air voxel (x = 0) — batch-statistics BatchNorm
      // over near-constant slices divides by a variance of rounding noise — and the paper's IoU by 1.4e-4
      const onnx = String(results.notes.testEngine).startsWith("onnxruntime-node");
      const engine = await testEngineFactory({ engine: onnx ? "onnx" : "tfjs" }, "model")(model, {
        bnMode: model.architecture.bnMode,
        preprocessing: metadata.preprocessing,
      });
      const pred = await predictSlicewise(model, test.x, test.xShape, 2, engine).finally(() =>
        engine.dispose?.(),
      );
      const m = evaluatePredictions("segmentation", pred, test.y, test.yShape);
      expect(m.paperIoU).toBeCloseTo(r.values[0], 6);
      expect(m.dice).toBeCloseTo(r.extra.dice.values[0], 6);
      expect(m.iou).toBeCloseTo(r.extra.iou.values[0], 6);
      // the reported values, counted here from the voxels without the metrics package
      const hand = countedMetrics(pred, test.y);
      expect(r.extra.dice.values[0]).toBeCloseTo(hand.dice, 6);
      expect(r.extra.iou.values[0]).toBeCloseTo(hand.iou, 6);
      expect(r.values[0]).toBeCloseTo(hand.paperIoU, 6);
    } finally {
      model.dispose();
    }
  });
});
