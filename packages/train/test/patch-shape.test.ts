import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { initBackend } from "@models-genesis/kernels";
import { createModel, loadModel, REFERENCE_CT_RECORD, saveModel } from "@models-genesis/models";
import { recordFor } from "@models-genesis/volume-io";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { patchShapeWarning, pretrainingShapeOf, runFinetuning } from "../src/index.js";

let dir: string;
beforeAll(async () => {
  await initBackend({ backend: "wasm", log: () => {} });
  dir = await mkdtemp(join(tmpdir(), "genesis-patch-shape-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("fine-tuning at another patch shape than the pretraining one", () => {
  it("reads the pretraining cube shape from the metadata genesis pretrain writes", () => {
    expect(
      pretrainingShapeOf({
        preprocessing: { patchSize: [64, 64, 32] },
        extra: { pretraining: { cubes: { shape: [32, 32, 16] } } },
      }),
    ).toEqual([32, 32, 16]);
    expect(
      pretrainingShapeOf({ preprocessing: { patchSize: [64, 64, 32] }, extra: { pretraining: {} } }),
    ).toEqual([64, 64, 32]);
    // a fine-tuned model records its patch size, not a pretraining shape
    expect(
      pretrainingShapeOf({ preprocessing: { patchSize: [64, 64, 32] }, extra: { finetuning: {} } }),
    ).toBeNull();
    expect(pretrainingShapeOf({})).toBeNull();
  });

  it("names both shapes; 2-D networks compare rows × cols only; none when they agree", () => {
    expect(patchShapeWarning([64, 64, 32], [32, 32, 16], 3, "m")).toBe(
      "fine-tuning: warning: patches of 32×32×16 differ from the 64×64×32 cubes m was pretrained at; the Models Genesis authors advise fine-tuning at the pretraining shape (ModelsGenesis issue #36)",
    );
    expect(patchShapeWarning([64, 64, 32], [64, 64, 32], 3, "m")).toBeNull();
    expect(patchShapeWarning([64, 64, 32], [64, 64, 16], 2, "m")).toBeNull();
    expect(patchShapeWarning([64, 64, 32], [32, 32, 32], 2, "m")).toBe(
      "fine-tuning: warning: axial slices of patches of 32×32 differ from the 64×64 slices m was pretrained at; the Models Genesis authors advise fine-tuning at the pretraining shape (ModelsGenesis issue #36)",
    );
  });

  it("runFinetuning warns once when the model was pretrained at 16×16×16 and the patches are 16×16×8", async () => {
    const pre = join(dir, "pre");
    const model = createModel("genesis-unet3d", {
      width: 2,
      seed: 1,
      head: { kind: "segmentation", nClasses: 1, activation: "sigmoid" },
    });
    // the metadata as runPretraining writes it
    await saveModel(pre, model, {
      preprocessing: { ...REFERENCE_CT_RECORD, patchSize: [16, 16, 16] },
      extra: { pretraining: { cubes: { shape: [16, 16, 16] } } },
    });
    model.dispose();
    const part = (n: number) => {
      const x = Float32Array.from({ length: n * 16 * 16 * 8 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
      return { x, xShape: [n, 16, 16, 8, 1], y: x.map((v) => (v > 0.5 ? 1 : 0)), yShape: [n, 16, 16, 8, 1] };
    };
    const said: string[] = [];
    const run = (k: number) =>
      runFinetuning({
        task: "segmentation",
        data: { train: part(2), val: part(1), test: part(1) },
        init: { kind: "model", dir: pre },
        batchSize: 2,
        epochs: 1,
        seed: 2,
        modelDir: join(dir, `ft${k}`, "model"),
        plainProgress: true,
        log: (l) => said.push(l),
      });
    await run(0);
    await run(1); // a second run (an app's next run or fold) does not repeat it
    expect(said.filter((l) => l.includes("warning: patches"))).toEqual([
      `fine-tuning: warning: patches of 16×16×8 differ from the 16×16×16 cubes ${pre} was pretrained at; the Models Genesis authors advise fine-tuning at the pretraining shape (ModelsGenesis issue #36)`,
    ]);
  });

  it("saves the run's preprocessing record (an MRI [-5, 5] window stays MRI [-5, 5]) with the patches' size", async () => {
    const part = (n: number) => {
      const x = Float32Array.from({ length: n * 16 * 16 * 8 }, (_, i) => ((i * 2654435761) % 1000) / 1000);
      return { x, xShape: [n, 16, 16, 8, 1], y: x.map((v) => (v > 0.5 ? 1 : 0)), yShape: [n, 16, 16, 8, 1] };
    };
    const data = { train: part(2), val: part(1), test: part(1) };
    const base = {
      task: "segmentation",
      data,
      init: { kind: "scratch", width: 1 },
      batchSize: 2,
      epochs: 1,
      seed: 2,
      plainProgress: true,
    } as const;
    const bms = recordFor({
      modality: "MRI",
      window: [-5, 5],
      patchSize: [16, 16, 8],
      crop: [25, 25, 12],
      resize: [0.64, 0.64, 2 / 3],
      source: "bms-like test",
    });
    await runFinetuning({ ...base, modelDir: join(dir, "bms", "model"), preprocessing: bms });
    const { model, metadata } = await loadModel(join(dir, "bms", "model"));
    model.dispose();
    expect(metadata.preprocessing).toEqual(bms);
    expect(metadata.extra?.patchSize).toBeUndefined();
    // no record: the reference CT record with the data's patch size
    await runFinetuning({ ...base, modelDir: join(dir, "ct", "model") });
    const ct = await loadModel(join(dir, "ct", "model"));
    ct.model.dispose();
    expect(ct.metadata.preprocessing).toEqual({ ...REFERENCE_CT_RECORD, patchSize: [16, 16, 8] });
    // a record for other patches is refused before training
    await expect(
      runFinetuning({
        ...base,
        modelDir: join(dir, "never", "model"),
        preprocessing: { ...bms, patchSize: [64, 64, 32], crop: null, resize: null },
      }),
    ).rejects.toThrow(
      "fine-tuning options: preprocessing.patchSize 64×64×32 differs from the training patches 16×16×8",
    );
  });
});
