/**
 * @vitest-environment node
 * The NCC app end to end with the slice-wise 2-D U-Net (`--quick --init scratch-2d`) on candidates
 * built from the real LIDC-IDRI nodule VOIs shipped in apps/cli/sample (20 VOIs, width 4, 2 epochs × 4 steps
 * of 2 slices): a patch's score is the mean of its slices' probabilities.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { loadModel } from "@models-genesis/models";
import { NCC_TASK, type PreparedTask, prepareNcc, runFinetune, runTaskMain } from "@models-genesis/tasks";
import { evaluatePredictions, predictArrays, predictSlicewise, sliceAxial } from "@models-genesis/train";
import { afterAll, describe, expect, it, vi } from "vitest";

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

describe("ncc --quick --init scratch-2d", () => {
  const out = mkdtempSync(path.join(tmpdir(), "ncc-2d-"));
  const shared = bundledSharedDir(mkdtempSync(path.join(tmpdir(), "ncc-2d-data-")));
  const savedShared = process.env.GENESIS_SHARED_DIR;
  process.env.GENESIS_SHARED_DIR = shared;
  afterAll(() => {
    if (savedShared === undefined) delete process.env.GENESIS_SHARED_DIR;
    else process.env.GENESIS_SHARED_DIR = savedShared;
    rmSync(out, { recursive: true, force: true });
    rmSync(shared, { recursive: true, force: true });
  });

  it("trains on labelled axial slices and scores each test patch as the mean of its slices' probabilities", async () => {
    let prepared: PreparedTask | undefined;
    const err: string[] = [];
    const spy = vi.spyOn(process.stderr, "write").mockImplementation((s: string | Uint8Array) => {
      err.push(String(s));
      return true;
    });
    let code: number;
    try {
      code = await runTaskMain(["node", "main.js", "--out", out, "--quick", "--init", "scratch-2d"], {
        ...NCC_TASK,
        appUrl: pathToFileURL(path.join(repoRoot, "apps/ncc/src/main.ts")).href,
        prepare: async (o, sampleData, log) => {
          prepared = await prepareNcc({
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
    const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8"));
    const auc = results.runs["scratch-2d"].values[0];

    const { model } = await loadModel(path.join(out, "model", "scratch-2d-run0"));
    try {
      expect(model.architecture.spatialDims).toBe(2);
      expect(model.architecture.head.kind).toBe("classification");
      // the reported AUC is that of the slice-mean patch scores (batches of 2 slices, as trained)
      const scores = await predictSlicewise(model, test.x, test.xShape, 2);
      expect(evaluatePredictions("classification", scores, test.y, test.yShape).auc).toBeCloseTo(auc, 10);
      // and a patch's score is the mean of its 32 slices' probabilities
      const [, X, Y, Z] = test.xShape;
      const slices = await predictArrays(
        model,
        sliceAxial(test.x, test.xShape[0], [X, Y, Z]),
        [test.xShape[0] * Z, X, Y, 1],
        2,
      );
      const mean0 = slices.subarray(0, Z).reduce((a, b) => a + b, 0) / Z;
      expect(scores[0]).toBeCloseTo(mean0, 5);
    } finally {
      model.dispose();
    }
  });
});
