/**
 * @vitest-environment node
 * The LCS app end to end (`--quick --init scratch-2d`: the slice-wise 2-D U-Net, width 4, 2 epochs ×
 * 4 steps of 2 slices) on real CT shipped with the repository: a pipeline check, NOT liver. The
 * COPDGene chest CT of apps/cli/sample (64×64×79) is cut along z into thirds written in the LiTS
 * layout as volume-0 (train), volume-100 (validation) and volume-115 (test); the segmentation marks
 * air (HU < −400: lungs, airways, outside the body) as label 1.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { loadVolume, subVolume, writeNiftiAs } from "@models-genesis/datasets";
import { LCS_TASK, prepareLcs } from "@models-genesis/tasks";
import { afterAll, describe, expect, it } from "vitest";
import { runAppCaptured } from "../../../packages/tasks/test/run-app.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CT64 = path.join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");

/**
 * Write the three LiTS cases into `root`; returns, per case, the number of label-1 voxels at odd
 * x and odd y: those the nearest-neighbour halving (output voxel i samples input ⌊(i + ½)·2⌋ = 2i + 1)
 * keeps.
 */
async function buildLayout(root: string): Promise<Record<number, number>> {
  const ct = await loadVolume(CT64);
  const [X, Y, Z] = ct.shape;
  const third = Math.floor(Z / 3);
  const air: Record<number, number> = {};
  for (const [n, z0, nz] of [
    [0, 0, third],
    [100, third, third],
    [115, 2 * third, Z - 2 * third],
  ] as const) {
    const part = subVolume(ct, [0, 0, z0], [X, Y, nz]);
    const seg = {
      ...part,
      data: Float32Array.from(part.data, (v) => (v < -400 ? 1 : 0)),
      kind: "label" as const,
    };
    await writeNiftiAs(path.join(root, `volume-${n}.nii`), part, "int16");
    await writeNiftiAs(path.join(root, `segmentation-${n}.nii`), seg, "uint8");
    let odd = 0;
    for (let x = 1; x < X; x += 2)
      for (let y = 1; y < Y; y += 2) for (let z = 0; z < nz; z++) odd += seg.data[(x * Y + y) * nz + z];
    air[n] = odd;
  }
  return air;
}

describe("lcs --quick --init scratch-2d on the bundled chest CT", () => {
  const out = mkdtempSync(path.join(tmpdir(), "lcs-bundled-"));
  const data = mkdtempSync(path.join(tmpdir(), "lcs-bundled-data-"));
  afterAll(() => {
    rmSync(out, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  });

  it("splits by LiTS case number, scales in-plane by the record's 0.5 and tiles validation and test into 64×64×32 windows", async () => {
    const air = await buildLayout(data);
    const { code, err, prepared, values } = await runAppCaptured(
      LCS_TASK,
      path.join(repoRoot, "apps/lcs/src/main.ts"),
      ["--data", data, "--out", out, "--quick", "--init", "scratch-2d"],
      (o, log) => prepareLcs({ data: o.data, out: o.out, quick: o.quick, seed: o.seed, log }),
    );
    expect(code, err).toBe(0);
    const [fold] = prepared.folds;
    // the record: LiTS 512 → 256 in-plane is a factor 0.5, applied to every case whatever its size
    expect(prepared.preprocessing).toMatchObject({
      modality: "CT",
      window: [-1000, 1000],
      resize: [0.5, 0.5, 1],
      crop: null,
      patchSize: [64, 64, 32],
    });
    // quick: 8 random training windows of the one training case; validation and test are tiled:
    // 64×64 in-plane halved to 32×32, the 26 / 27 slices padded into one 64×64×32 window each
    expect(fold.train.xShape).toEqual([8, 64, 64, 32, 1]);
    expect(fold.val.xShape).toEqual([1, 64, 64, 32, 1]);
    expect(fold.test.xShape).toEqual([1, 64, 64, 32, 1]);
    // the window covers the halved case once: its labels are the source's at odd x, odd y
    expect(fold.test.y.reduce((a, v) => a + v, 0)).toBe(air[115]);
    expect(fold.val.y.reduce((a, v) => a + v, 0)).toBe(air[100]);
    const results = JSON.parse(readFileSync(path.join(out, "results.json"), "utf8"));
    expect(results.metric).toBe("IoU (paper)");
    expect(results.runs["scratch-2d"].values).toEqual(values);
    expect(results.notes).toMatchObject({ patchesPerVolume: 8, sample: false, folds: 1 });
    expect(JSON.parse(readFileSync(prepared.splitsFile, "utf8")).folds[0]).toEqual({
      train: ["volume-0"],
      val: ["volume-100"],
      test: ["volume-115"],
    });
  }, 300_000); // 8-15 s alone; minutes while `pnpm test` runs every package at once on 2 cores
});
