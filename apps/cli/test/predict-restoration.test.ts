/**
 * `genesis predict --model <a restoration model from genesis pretrain>` is refused (its output is a
 * restored volume, not a mask) unless `--allow-restoration`, which writes the float32 restored
 * volume. Data: the shipped 64×64×79 chest CT of apps/cli/sample; a width-2 U-Net on wasm.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { initBackend } from "@models-genesis/kernels";
import { copyRecord, createModel, REFERENCE_CT_RECORD, saveModel } from "@models-genesis/models";
import { readNifti } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { genesis } from "./run-cli.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const CT64 = path.join(repoRoot, "apps/cli/sample/chest-ct/copdgene_10002K_ct64.nii.gz");

let dir: string;
let restoration: string;
let plain: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: () => {} });
  dir = mkdtempSync(path.join(tmpdir(), "genesis-restoration-"));
  restoration = path.join(dir, "pretrained");
  plain = path.join(dir, "plain");
  const preprocessing = {
    ...copyRecord(REFERENCE_CT_RECORD),
    patchSize: [32, 32, 32] as [number, number, number],
  };
  // what runPretraining saves: the record and extra.pretraining (its summary)
  const m = createModel("genesis-unet3d", { width: 2, seed: 1 });
  await saveModel(restoration, m, {
    id: "genesis-unet3d",
    preprocessing,
    extra: { pretraining: { verdict: "learned", best_val_mse: 0.01 } },
  });
  await saveModel(plain, m, { id: "genesis-unet3d", preprocessing });
  m.dispose();
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("genesis predict and restoration models", () => {
  it("refuses a pretraining model in one line, and writes its restored volume with --allow-restoration", async () => {
    const out = path.join(dir, "mask.nii.gz");
    const args = ["predict", CT64, "--out", out, "--engine", "tfjs", "--backend", "wasm"];
    const r = await genesis(...args, "--model", restoration);
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `genesis: --model ${restoration}: a restoration model from genesis pretrain (metadata.extra.pretraining), not a segmentation model: fine-tune it first (genesis finetune --init ${restoration} …), or pass --allow-restoration to write its restored volume\n`,
    );
    expect(existsSync(out)).toBe(false);

    const a = await genesis(...args, "--model", restoration, "--allow-restoration");
    expect(a.code, a.err).toBe(0);
    expect(a.out).toContain("float32 restored volume");
    const y = await readNifti(out);
    expect(y.shape).toEqual([64, 64, 79]);
    expect(y.data).toBeInstanceOf(Float32Array);
    // a sigmoid output: in (0, 1), not a 0/1 label map
    const values = new Set(y.data);
    expect(values.size).toBeGreaterThan(2);
    for (const v of y.data) expect(v > 0 && v < 1).toBe(true);

    // the same network without extra.pretraining is a segmentation model: a uint8 label map
    const p = await genesis(...args, "--model", plain);
    expect(p.code, p.err).toBe(0);
    expect((await readNifti(out)).data).toBeInstanceOf(Uint8Array);
  }, 120_000);
});
