/**
 * The runner's fine-tuning step: the model it saves carries the preparation's record (modality and
 * window from the record, never guessed from the window's sign), and `--init` refuses a pretrained
 * model of the wrong dimensionality before anything is trained.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SampleArrays } from "@models-genesis/datasets";
import { initBackend } from "@models-genesis/kernels";
import { createModel, loadModel, saveModel } from "@models-genesis/models";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FinetuneRequest } from "../src/app.js";
import { taskPreprocessing } from "../src/config.js";
import { finetuneTask } from "../src/finetune.js";
import { TASK_CONFIGS } from "../src/registry.js";

const S = 16; // a 16×16×16 patch: the smallest the U-Net's three poolings allow with room to spare

/** `n` segmentation samples of S³ voxels: a bright cube (the "tumour") in a dark background. */
function arrays(n: number, offset: number): SampleArrays {
  const per = S * S * S;
  const x = new Float32Array(n * per);
  const y = new Float32Array(n * per);
  for (let i = 0; i < n; i++)
    for (let a = 4; a < 12; a++)
      for (let b = 4; b < 12; b++)
        for (let c = 4 + ((i + offset) % 3); c < 10 + ((i + offset) % 3); c++) {
          const k = i * per + (a * S + b) * S + c;
          x[k] = 0.9;
          y[k] = 1;
        }
  return {
    x,
    xShape: [n, S, S, S, 1],
    y,
    yShape: [n, S, S, S, 1],
    ids: Array.from({ length: n }, (_, i) => `s${offset + i}`),
  };
}

describe("finetuneTask", () => {
  const dir = mkdtempSync(join(tmpdir(), "tasks-finetune-"));
  beforeAll(async () => {
    await initBackend({ log: () => {} });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // the BMS sample's record: MRI z-scores windowed [−5, 5]; the old runner saved it as CT
  const preprocessing = taskPreprocessing(TASK_CONFIGS.bms, {
    window: [-5, 5],
    patchSize: [S, S, S],
    crop: null,
    resize: null,
  });
  const base: FinetuneRequest = {
    task: "bms",
    config: TASK_CONFIGS.bms,
    data: { train: arrays(4, 0), val: arrays(2, 4), test: arrays(2, 6) },
    preprocessing,
    init: "scratch",
    seed: 0,
    run: 0,
    fold: 0,
    quick: true,
    threads: 1,
    modelDir: join(dir, "model"),
    log: () => {},
  };

  it("saves the record's modality and window with the model (MRI [−5, 5], not CT from the negative minimum)", async () => {
    const r = await finetuneTask(base, { epochs: 1, stepsPerEpoch: 1, scratchWidth: 2 });
    expect(Number.isFinite(r.value)).toBe(true);
    expect(Object.keys(r.metrics ?? {}).sort()).toEqual(["dice", "iou"]);
    const { model, metadata } = await loadModel(join(dir, "model"));
    model.dispose();
    expect(metadata.preprocessing).toMatchObject({
      modality: "MRI",
      window: [-5, 5],
      range: [0, 1],
      patchSize: [S, S, S],
    });
    expect(metadata.extra?.finetuning).toMatchObject({ task: "bms", init: "scratch" });
  });

  it("refuses a model of the wrong dimensionality, naming the flag and the model, before training", async () => {
    const m2d = join(dir, "m2d");
    const model = createModel("genesis-unet2d", { width: 2 });
    await saveModel(m2d, model, { id: "genesis-unet2d" });
    model.dispose();
    const never = { ...base, modelDir: join(dir, "never") };
    await expect(finetuneTask({ ...never, init: "genesis", weights: m2d })).rejects.toThrow(
      `--init genesis: ${m2d} holds a 2-D model (genesis-unet2d); genesis needs a 3-D model written by genesis pretrain`,
    );
    await expect(finetuneTask({ ...never, init: "genesis-2d" })).rejects.toThrow(
      "--init genesis-2d needs --weights-2d <model directory> written by genesis pretrain --model genesis-unet2d",
    );
    await expect(finetuneTask({ ...never, init: "official" })).rejects.toThrow(
      "--init official needs --weights Genesis_Chest_CT.pt or .h5",
    );
    expect(existsSync(join(dir, "never"))).toBe(false);
  });
});
