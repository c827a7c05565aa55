import { createModel, type GenesisUNet } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  arrayBatchSource,
  type Batch,
  lossNameOf,
  mseLoss,
  ReplicaPool,
  resolveThreads,
  SGD,
  softDiceLoss,
  splitBatch,
  Trainer,
} from "../src/index.js";
import { restorationData, tinyConvNet, useCpu, weightsOf } from "./helpers.js";

beforeAll(useCpu);

const SHAPE: [number, number, number] = [8, 8, 8];
const s = [...SHAPE, 1];

function batchOf(n: number, seed: number): Batch {
  const d = restorationData(n, SHAPE, seed);
  return { x: d.x, y: d.y, xShape: [n, ...s], yShape: [n, ...s] };
}

/** Loss and gradients of one shard on the main thread (what the trainer computes). */
function localGradients(model: GenesisUNet, names: string[], b: Batch) {
  const vars = names.map((n) => model.trainableWeights.get(n)!);
  const { value, grads } = tf.tidy(() => {
    const x = tf.tensor(b.x, b.xShape);
    const y = tf.tensor(b.y, b.yShape);
    return tf.variableGrads(() => mseLoss(y, model.forward(x, { training: true })), vars);
  });
  const m = new Map<string, tf.Tensor>();
  names.forEach((n, i) => {
    m.set(n, grads[vars[i].name]);
  });
  return { loss: value, grads: m };
}

describe("splitBatch", () => {
  it("cuts along the batch axis into near-equal contiguous views, larger shards first", () => {
    const b = batchOf(5, 1);
    const parts = splitBatch(b, 3);
    expect(parts.map((p) => p.xShape[0])).toEqual([2, 2, 1]);
    const per = b.x.length / 5;
    expect(parts[1].x[0]).toBe(b.x[2 * per]);
    expect(parts[2].y[per - 1]).toBe(b.y[5 * per - 1]);
    expect(parts.reduce((a, p) => a + p.x.length, 0)).toBe(b.x.length);
    expect(splitBatch(batchOf(2, 1), 4).map((p) => p.xShape[0])).toEqual([1, 1]);
  });
});

describe("Trainer with threads > 1 on a model it cannot replicate", () => {
  it("says so once and trains on one thread, with the same weights as threads = 1", async () => {
    const data = restorationData(4, SHAPE, 3);
    const run = async (threads: number) => {
      const lines: string[] = [];
      const model = tinyConvNet(4);
      await new Trainer({
        model,
        optimizer: new SGD({ lr: 0.1 }),
        loss: mseLoss,
        train: arrayBatchSource({ ...data, sampleShapeX: s, sampleShapeY: s, batchSize: 2 }),
        epochs: 2,
        seed: 1,
        threads,
        log: (l) => void lines.push(l),
      }).run();
      const w = weightsOf(model);
      model.dispose();
      return { w, lines };
    };
    const one = await run(1);
    const two = await run(2);
    expect(two.lines.filter((l) => l.includes("threads = 2 ignored"))).toHaveLength(1);
    expect(two.lines[0]).toMatch(/cannot be rebuilt from its config/);
    expect(two.w).toEqual(one.w);
  });
});

describe("resolveThreads / lossNameOf", () => {
  it("keeps explicit counts, picks 1 on tensorflow for auto, rejects nonsense", () => {
    expect(resolveThreads(3, "wasm")).toBe(3);
    expect(resolveThreads("auto", "tensorflow")).toBe(1);
    expect(resolveThreads("auto", "wasm")).toBeGreaterThanOrEqual(1);
    expect(() => resolveThreads(0)).toThrow(/positive integer/);
    expect(lossNameOf(mseLoss)).toBe("mse");
    expect(lossNameOf(softDiceLoss)).toBe("dice");
    expect(lossNameOf((a) => tf.mean(a) as tf.Scalar)).toBeUndefined();
  });
});

// the worker threads run the built `dist/replica-worker.js`: turbo builds before `test`
describe("ReplicaPool (data-parallel steps over worker threads)", () => {
  const pools: ReplicaPool[] = [];
  afterAll(async () => {
    for (const p of pools) await p.close();
  });

  it("returns the shard-size-weighted mean of the shards' gradients, as computed on one thread", async () => {
    const model = createModel({ variant: "torch", width: 2 }, { seed: 5 });
    const names = [...model.trainableWeights.keys()];
    const batch = batchOf(5, 21);
    const pool = new ReplicaPool(2, model, "mse");
    pools.push(pool);
    const { loss, grads } = await pool.gradients(batch, names, (shard) =>
      localGradients(model, names, shard),
    );
    // expected: each shard on the main thread, weighted 3/5 and 2/5
    const [a, b] = splitBatch(batch, 2);
    const ga = localGradients(model, names, a);
    const gb = localGradients(model, names, b);
    const la = ga.loss.dataSync()[0];
    const lb = gb.loss.dataSync()[0];
    expect(loss).toBeCloseTo(0.6 * la + 0.4 * lb, 6);
    let worst = 0;
    for (const n of names) {
      const want = tf.tidy(() => tf.add(tf.mul(ga.grads.get(n)!, 0.6), tf.mul(gb.grads.get(n)!, 0.4)));
      const got = grads.get(n)!;
      expect(got.shape).toEqual(want.shape);
      const scale = Math.max(
        1e-6,
        tf.tidy(() => tf.max(tf.abs(want)).dataSync()[0]),
      );
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(got, want))).dataSync()[0]) / scale;
      worst = Math.max(worst, err);
      want.dispose();
    }
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([ga.loss, gb.loss, ...ga.grads.values(), ...gb.grads.values(), ...grads.values()]);
    model.dispose();
  }, 60_000);

  it("starts only the worker threads a batch can use (threads 4, batch 2 → one worker)", async () => {
    const model = createModel({ variant: "torch", width: 2 }, { seed: 6 });
    const names = [...model.trainableWeights.keys()];
    const pool = new ReplicaPool(4, model, "mse");
    pools.push(pool);
    const r = await pool.gradients(batchOf(2, 3), names, (shard) => localGradients(model, names, shard));
    expect(pool.started).toBe(1);
    expect(Number.isFinite(r.loss)).toBe(true);
    tf.dispose([...r.grads.values()]);
    model.dispose();
  }, 60_000);

  it("averages BatchNorm running statistics (keras variant) with the same weights", async () => {
    const model = createModel({ variant: "keras", width: 2 }, { seed: 2 });
    expect(model.nonTrainableWeights.size).toBeGreaterThan(0);
    const names = [...model.trainableWeights.keys()];
    const batch = batchOf(4, 8);
    const before = weightsOf(model);
    const twin = createModel({ variant: "keras", width: 2 }, { seed: 2 });
    const pool = new ReplicaPool(2, model, "mse");
    pools.push(pool);
    const r = await pool.gradients(batch, names, (shard) => localGradients(model, names, shard));
    tf.dispose([...r.grads.values()]);
    // twin: both halves on one thread from the same start, then the mean of the two updates
    const [a, b] = splitBatch(batch, 2);
    const stats = [...twin.nonTrainableWeights.keys()];
    const start = stats.map((k) => twin.nonTrainableWeights.get(k)!.dataSync().slice());
    const after = (shard: Batch) => {
      stats.forEach((k, i) => {
        twin.nonTrainableWeights.get(k)!.assign(tf.tensor(start[i], twin.nonTrainableWeights.get(k)!.shape));
      });
      const g = localGradients(twin, names, shard);
      tf.dispose([g.loss, ...g.grads.values()]);
      return stats.map((k) => twin.nonTrainableWeights.get(k)!.dataSync().slice());
    };
    const sa = after(a);
    const sb = after(b);
    stats.forEach((k, i) => {
      const got = model.nonTrainableWeights.get(k)!.dataSync();
      expect(Array.from(got)).not.toEqual(before[k]);
      for (let j = 0; j < got.length; j++) expect(got[j]).toBeCloseTo(0.5 * sa[i][j] + 0.5 * sb[i][j], 5);
    });
    model.dispose();
    twin.dispose();
  }, 60_000);

  it("trains a Genesis U-Net on two threads without tensor leaks", async () => {
    const data = restorationData(8, SHAPE, 11);
    const model = createModel({ variant: "torch", width: 2 }, { seed: 3 });
    const before = weightsOf(model);
    const counts: number[] = [];
    const t = new Trainer({
      model,
      optimizer: new SGD({ lr: 0.1 }),
      loss: mseLoss,
      train: arrayBatchSource({ ...data, sampleShapeX: s, sampleShapeY: s, batchSize: 4 }),
      epochs: 3,
      seed: 1,
      threads: 2,
      callbacks: [{ onEpochEnd: () => void counts.push(tf.memory().numTensors) }],
    });
    const r = await t.run();
    expect(r.history).toHaveLength(3);
    expect(r.history.every((h) => Number.isFinite(h.trainLoss))).toBe(true);
    expect(weightsOf(model)).not.toEqual(before);
    expect(counts[2]).toBe(counts[1]);
    model.dispose();
  }, 60_000);
});
