/**
 * @vitest-environment node
 * The ECC app end to end (`--quick --init scratch-2d`: the slice-wise 2-D U-Net, width 4, 3 folds × 2
 * epochs × 4 steps of 2 slices; a cube scores the mean of its slices) on
 * real CT shipped with the repository (apps/cli/sample/chest-ct): a pipeline check, NOT pulmonary
 * embolism. Each of the two chest CTs is cut into left/right halves (4 volumes, so that 3-fold
 * cross-validation by volume is possible); per half the first two voxels (scan order, stride 5) of
 * aerated lung (HU < −700) are candidates of class 1 and the first two of soft tissue
 * (−100 < HU < 200) of class 0.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import {
  loadVolume,
  subVolume,
  voxelToWorldLps,
  writeEccCandidates,
  writeNiftiAs,
} from "@models-genesis/datasets";
import { ECC_TASK, prepareEcc } from "@models-genesis/tasks";
import { afterAll, describe, expect, it } from "vitest";
import { runAppCaptured } from "../../../packages/tasks/test/run-app.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CHEST = path.join(repoRoot, "apps/cli/sample/chest-ct");

type Vec3 = [number, number, number];
interface Candidate {
  volume: string;
  voxel: Vec3;
  hu: number;
  label: 0 | 1;
}

/** Write the ECC layout (4 half volumes + candidates.csv) into `root`; returns the candidates. */
async function buildLayout(root: string): Promise<Candidate[]> {
  const cands: Candidate[] = [];
  const rows: { volume: string; world: Vec3; label: 0 | 1 }[] = [];
  for (const name of ["copdgene_10002K_ct64", "copdgene_testinput"]) {
    const ct = await loadVolume(path.join(CHEST, `${name}.nii.gz`));
    const half = Math.floor(ct.shape[0] / 2);
    for (const [tag, x0, nx] of [
      ["a", 0, half],
      ["b", half, ct.shape[0] - half],
    ] as const) {
      const part = subVolume(ct, [x0, 0, 0], [nx, ct.shape[1], ct.shape[2]]);
      const volume = `${name}_${tag}.nii.gz`;
      await writeNiftiAs(path.join(root, volume), part, "int16");
      const [X, Y, Z] = part.shape;
      const found: Candidate[][] = [[], []];
      for (let x = 4; x < X - 4; x += 5)
        for (let y = 4; y < Y - 4; y += 5)
          for (let z = 4; z < Z - 4; z += 5) {
            const hu = part.data[(x * Y + y) * Z + z];
            const label = hu < -700 ? 1 : hu > -100 && hu < 200 ? 0 : null;
            if (label !== null && found[label].length < 2)
              found[label].push({ volume, voxel: [x, y, z], hu, label });
          }
      for (const c of [...found[1], ...found[0]]) {
        cands.push(c);
        rows.push({ volume, world: voxelToWorldLps(part, c.voxel), label: c.label });
      }
    }
  }
  await writeEccCandidates(path.join(root, "candidates.csv"), rows);
  return cands;
}

describe("ecc --quick --init scratch-2d on the bundled chest CTs", () => {
  const out = mkdtempSync(path.join(tmpdir(), "ecc-bundled-"));
  const data = mkdtempSync(path.join(tmpdir(), "ecc-bundled-data-"));
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it("cross-validates by volume, windows each 64³ candidate cube and reports the mean AUC over 3 folds", async () => {
    const cands = await buildLayout(data);
    expect(cands.map((c) => c.label)).toEqual(Array.from({ length: 4 }, () => [1, 1, 0, 0]).flat());
    const {
      code,
      err,
      prepared,
      values: aucs,
    } = await runAppCaptured(
      ECC_TASK,
      path.join(repoRoot, "apps/ecc/src/main.ts"),
      ["--data", data, "--out", out, "--quick", "--init", "scratch-2d"],
      (o, log) => prepareEcc({ data: o.data, out: o.out, quick: o.quick, seed: o.seed, log }),
    );
    expect(code, err).toBe(0);
    const folds = prepared.folds;
    expect(folds).toHaveLength(3);
    // 3-fold CV by volume: every candidate is tested exactly once, 4 per volume, both classes
    const tested = folds.map((f) => f.test.xShape[0]);
    expect(tested.reduce((a, b) => a + b, 0)).toBe(16);
    for (const f of folds) {
      expect(f.test.xShape.slice(1)).toEqual([64, 64, 64, 1]);
      expect(f.test.xShape[0] % 4).toBe(0);
      expect(new Set(f.test.y)).toEqual(new Set([0, 1]));
    }
    // the centre voxel of a candidate's cube is its HU windowed from [−1000, 1000] to [0, 1]
    const f0 = folds[0].test;
    const per = 64 * 64 * 64;
    const centre = (32 * 64 + 32) * 64 + 32;
    const byHu = cands.map((c) => Math.min(1, Math.max(0, (c.hu + 1000) / 2000)));
    for (let i = 0; i < f0.xShape[0]; i++) {
      const v = f0.x[i * per + centre];
      expect(byHu.some((w) => Math.abs(w - v) < 1e-6)).toBe(true);
    }
    // results: one run, the mean of the three folds' test AUCs
    expect(aucs).toHaveLength(3);
    const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8"));
    expect(results.metric).toBe("AUC");
    expect(results.runs["scratch-2d"].values).toHaveLength(1);
    expect(results.runs["scratch-2d"].values[0]).toBeCloseTo((aucs[0] + aucs[1] + aucs[2]) / 3, 12);
    expect(results.notes).toMatchObject({ candidates: 16, volumes: 4, folds: 3, sample: false });
  }, 300_000); // 8-15 s alone; minutes while `pnpm test` runs every package at once on 2 cores
});
