/**
 * @vitest-environment node
 * The BMS app end to end (`--quick --init scratch-2d`: the slice-wise 2-D U-Net, width 4, 2 epochs ×
 * 4 steps of 2 slices) on real CT shipped with the repository: a pipeline check, NOT brain MRI (the
 * BraTS cases of ../shared are CC BY-NC-SA and never copied into the repository). Ten cases in the
 * BraTS-2018 layout are cut from the COPDGene chest CT of apps/cli/sample (64×64×79): 50 slices from
 * z = 3k (k = 0 … 9), doubled in-plane (nearest) to 128×128 so that the 100×100×50 crop fits; the
 * "FLAIR" is HU + 1000 (inside the reference's MRI window [0, 4000]) and the "tumour" (label 2) is
 * air, HU < −400. Folds: cases 0-5 fold 1, 6-8 fold 2, 9 fold 3 (test).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadVolume, writeNiftiAs } from "@models-genesis/datasets";
import { loadModel } from "@models-genesis/models";
import { BMS_TASK, prepareBms } from "@models-genesis/tasks";
import { afterAll, describe, expect, it } from "vitest";
import { runAppCaptured } from "../../../packages/tasks/test/run-app.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CT64 = path.join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");

/** Write the ten cases and the fold files into `root`; returns the case ids in fold order. */
async function buildLayout(root: string): Promise<string[]> {
  const ct = await loadVolume(CT64);
  const [X, Y, Z] = ct.shape;
  const nz = 50;
  const ids: string[] = [];
  for (let k = 0; k < 10; k++) {
    const id = `bundled_${k}`;
    const z0 = 3 * k;
    const flair = new Float32Array(4 * X * Y * nz);
    const seg = new Float32Array(4 * X * Y * nz);
    for (let x = 0; x < 2 * X; x++)
      for (let y = 0; y < 2 * Y; y++)
        for (let z = 0; z < nz; z++) {
          const hu = ct.data[((x >> 1) * Y + (y >> 1)) * Z + z0 + z];
          const i = (x * 2 * Y + y) * nz + z;
          flair[i] = hu + 1000;
          seg[i] = hu < -400 ? 2 : 0;
        }
    const geom = { ...ct, shape: [2 * X, 2 * Y, nz] as [number, number, number] };
    geom.spacing = [ct.spacing[0] / 2, ct.spacing[1] / 2, ct.spacing[2]];
    const dir = path.join(root, "HGG", id);
    mkdirSync(dir, { recursive: true });
    await writeNiftiAs(path.join(dir, `${id}_flair.nii.gz`), { ...geom, data: flair }, "int16");
    await writeNiftiAs(path.join(dir, `${id}_seg.nii.gz`), { ...geom, data: seg, kind: "label" }, "uint8");
    ids.push(id);
  }
  mkdirSync(path.join(root, "folds"));
  for (const [k, part] of [ids.slice(0, 6), ids.slice(6, 9), ids.slice(9)].entries())
    writeFileSync(path.join(root, "folds", `fold_${k + 1}.csv`), `${part.join("\n")}\n`);
  return ids;
}

describe("bms --quick --init scratch-2d on the bundled chest CT", () => {
  const out = mkdtempSync(path.join(tmpdir(), "bms-bundled-"));
  const data = mkdtempSync(path.join(tmpdir(), "bms-bundled-data-"));
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it("splits by the fold files, windows 100×100×50 crops to 64×64×32 and reports the paper's IoU", async () => {
    const ids = await buildLayout(data);
    const { code, err, prepared, values } = await runAppCaptured(
      BMS_TASK,
      path.join(repoRoot, "apps/bms/src/main.ts"),
      ["--data", data, "--out", out, "--quick", "--init", "scratch-2d"],
      // all ten cases: --quick alone would keep 6 of a --data layout (BMS_CONFIG.quickLimit; tested in tasks)
      (o, log) =>
        prepareBms({ data: o.data, out: o.out, quick: o.quick, seed: o.seed, log, sampleLimit: 10 }),
    );
    expect(code, err).toBe(0);
    // reference split: folds 1+2 (9 cases) shuffled, the first 9 // 8 = 1 validates; fold 3 tests
    const split = JSON.parse(readFileSync(prepared.splitsFile, "utf8")).folds[0];
    expect(split.test).toEqual([ids[9]]);
    expect(split.val).toHaveLength(1);
    expect([...split.train, ...split.val].sort()).toEqual(ids.slice(0, 9));
    const [fold] = prepared.folds;
    // quick: 4 random windows per training case; a tiled case has crops at x, y ∈ {0, 28}, z = 0
    expect(fold.train.xShape).toEqual([8 * 4, 64, 64, 32, 1]);
    expect(fold.val.xShape).toEqual([4, 64, 64, 32, 1]);
    expect(fold.test.xShape).toEqual([4, 64, 64, 32, 1]);
    // whole tumour = label > 0, as 0/1; the MRI window [0, 4000] maps HU + 1000 into [0, (1095 + 1000) / 4000]
    expect(new Set(fold.test.y)).toEqual(new Set([0, 1]));
    const max = fold.test.x.reduce((a, v) => Math.max(a, v), 0);
    expect(max).toBeLessThanOrEqual((ct64Max + 1000) / 4000 + 1e-6);
    const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8"));
    expect(results.metric).toBe("IoU (paper)");
    expect(results.runs["scratch-2d"].values).toEqual(values);
    expect(results.notes).toMatchObject({ sample: false, folds: 1 });
    // the record: MRI, the reference window, crop 100×100×50 resized to the 64×64×32 patch ...
    expect(prepared.preprocessing).toMatchObject({
      modality: "MRI",
      window: [0, 4000],
      range: [0, 1],
      resize: [0.64, 0.64, 0.64],
      crop: [100, 100, 50],
      patchSize: [64, 64, 32],
    });
    // ... and the saved model carries the record's modality and window
    const saved = await loadModel(path.join(out, "model", "scratch-2d-run0"));
    saved.model.dispose();
    expect(saved.metadata.preprocessing).toMatchObject({
      modality: "MRI",
      window: [0, 4000],
      range: [0, 1],
      crop: [100, 100, 50],
      patchSize: [64, 64, 32],
    });
  }, 300_000); // 8-15 s alone; minutes while `pnpm test` runs every package at once on 2 cores
});

/** The maximum HU of the bundled COPDGene CT (../shared/data/MANIFEST.md: range −1007 … 1095). */
const ct64Max = 1095;
