import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arrayBatchSource, type Batch, mseLoss, Rng, SGD, Trainer, WorkerPool } from "../src/index.js";
// @ts-expect-error: plain JavaScript fixture without types
import { corrupt } from "./fixtures/corrupt-worker.mjs";
import { restorationData, tinyConvNet, useCpu, weightsOf } from "./helpers.js";

type Pair = { x: Float32Array; y: Float32Array };
const here = dirname(fileURLToPath(import.meta.url));
const mod = join(here, "fixtures", "corrupt-worker.mjs");
const SHAPE: [number, number, number] = [8, 8, 4];
const s = [...SHAPE, 1];
let pool: WorkerPool<[Float32Array, Float32Array, number], Pair>;

beforeAll(async () => {
  await useCpu();
  pool = new WorkerPool({ module: mod, exportName: "corrupt", size: 2 });
});
afterAll(() => pool.close());

const data = restorationData(12, SHAPE, 3);
const source = (viaWorkers: boolean) =>
  arrayBatchSource({
    x: data.y,
    y: data.y,
    sampleShapeX: s,
    sampleShapeY: s,
    batchSize: 3,
    transformAsync: viaWorkers
      ? (x, y, seed) => pool.run([x, y, seed], [x.buffer as ArrayBuffer, y.buffer as ArrayBuffer])
      : async (x, y, seed) => corrupt(x, y, seed) as Pair,
  });

async function collect(it: AsyncIterable<Batch> | Iterable<Batch>): Promise<Batch[]> {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
}

describe("WorkerPool + transformAsync", () => {
  it("worker-thread batches are identical to in-thread ones (seeds drawn in sample order)", async () => {
    const a = await collect(source(true).batches(0, new Rng(9)));
    const b = await collect(source(false).batches(0, new Rng(9)));
    expect(a.length).toBe(4);
    expect(a.map((z) => Array.from(z.x))).toEqual(b.map((z) => Array.from(z.x)));
    expect(Array.from(a[0].x)).not.toEqual(Array.from(a[0].y));
  });

  it("a trainer on the worker source ends with the same weights as on the in-thread source", async () => {
    const run = async (w: boolean) => {
      const t = new Trainer({
        model: tinyConvNet(1),
        optimizer: new SGD({ lr: 0.5 }),
        loss: mseLoss,
        train: source(w),
        epochs: 2,
        seed: 2,
      });
      await t.run();
      return weightsOf(t.model);
    };
    expect(await run(true)).toEqual(await run(false));
  });

  it("worker errors reject with the module named", async () => {
    const bad = new WorkerPool({ module: mod, exportName: "fails", size: 1 });
    await expect(bad.run([])).rejects.toThrow(/corrupt-worker\.mjs.*boom from the worker/s);
    const missing = new WorkerPool({ module: mod, exportName: "nope", size: 1 });
    await expect(missing.run([])).rejects.toThrow(/exports no function named nope/);
    await bad.close();
    await missing.close();
    await expect(bad.run([])).rejects.toThrow(/closed/);
  });
});
