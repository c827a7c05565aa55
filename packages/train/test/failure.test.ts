import { createModel, type GenesisModule } from "@models-genesis/models";
import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  arrayBatchSource,
  type Batch,
  classificationMetrics,
  evaluatePredictions,
  type LossFn,
  mseLoss,
  ReplicaPool,
  SGD,
  TrainError,
  Trainer,
  type TrainerOptions,
} from "../src/index.js";
import { restorationData, tinyConvNet, useCpu, weightsOf } from "./helpers.js";

beforeAll(useCpu);

/** Calls counted by an injected failure; `failOn` lists the 1-based calls that throw. */
class Injector {
  calls = 0;
  constructor(private readonly failOn: number[]) {}
  /** Counts a call; true when this one must fail. */
  hit(): boolean {
    this.calls++;
    return this.failOn.includes(this.calls);
  }
}

/** A loss that throws on the chosen calls, after computing the loss (its tensors exist by then). */
function failingLoss(inj: Injector): LossFn {
  return (y, p) => {
    const l = mseLoss(y, p);
    if (inj.hit()) throw new Error("injected loss failure");
    return l;
  };
}

/** The model with a last layer that throws on the chosen training-mode calls (forward) or gradients (backward). */
function failingModel(model: GenesisModule, inj: Injector, where: "forward" | "backward"): GenesisModule {
  const wrapped = Object.create(model) as GenesisModule & { forward: GenesisModule["forward"] };
  // identity whose gradient throws when armed: a failure in the middle of the reverse pass
  let armed = false;
  const layer = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => ({
    value: tf.clone(args[0] as tf.Tensor),
    gradFunc: (dy: tf.Tensor) => {
      if (armed) throw new Error("injected backward failure");
      return tf.clone(dy);
    },
  }));
  wrapped.forward = (x, opts) =>
    tf.tidy(() => {
      const y = model.forward(x, opts);
      if (!opts.training) return y;
      const fail = inj.hit();
      if (where === "forward" && fail) throw new Error("injected forward failure");
      armed = where === "backward" && fail;
      return layer(y) as tf.Tensor;
    });
  return wrapped;
}

/** Records `tf.memory().numTensors` around every step, and the step's error. */
class Watched extends Trainer {
  readonly steps: { before: number; after: number; error?: string }[] = [];
  override async trainStep(b: Batch): Promise<number> {
    const before = tf.memory().numTensors;
    try {
      const loss = await super.trainStep(b);
      this.steps.push({ before, after: tf.memory().numTensors });
      return loss;
    } catch (e) {
      this.steps.push({ before, after: tf.memory().numTensors, error: (e as Error).message });
      throw e;
    }
  }
}

const SHAPE: [number, number, number] = [8, 8, 4];
const s = [...SHAPE, 1];

function options(model: GenesisModule, loss: LossFn, extra: Partial<TrainerOptions> = {}): TrainerOptions {
  const tr = restorationData(12, SHAPE, 1);
  const va = restorationData(6, SHAPE, 2);
  return {
    model,
    optimizer: new SGD({ lr: 0.5, momentum: 0.9 }),
    loss,
    train: arrayBatchSource({ ...tr, sampleShapeX: s, sampleShapeY: s, batchSize: 3 }),
    validation: arrayBatchSource({ ...va, sampleShapeX: s, sampleShapeY: s, batchSize: 3, shuffle: false }),
    epochs: 2,
    seed: 7,
    ...extra,
  };
}

/**
 * Run; after each throw check that the failed step freed everything and run again, until the run
 * completes. Returns how many runs threw.
 */
async function failThenContinue(t: Watched, message: string): Promise<number> {
  let failures = 0;
  for (;;) {
    try {
      const r = await t.run();
      expect(r.stopReason).toBe("completed");
      expect(r.history).toHaveLength(2);
      return failures;
    } catch (e) {
      expect((e as Error).message).toBe(message);
      failures++;
      const failed = t.steps.at(-1)!;
      expect(failed.error).toBe(message);
      expect(failed.after).toBe(failed.before);
      if (failures > 5) throw e;
    }
  }
}

describe("a training step that throws (one thread)", () => {
  // the reference: the same run without a failure (8 steps: 2 epochs × 4 batches)
  let reference: Record<string, number[]>;
  let referenceLosses: number[];
  beforeAll(async () => {
    const model = tinyConvNet(1);
    const r = await new Trainer(options(model, mseLoss)).run();
    reference = weightsOf(model);
    referenceLosses = r.history.map((h) => h.trainLoss);
    model.dispose();
  });

  for (const where of ["loss", "forward", "backward"] as const) {
    it(`frees its tensors and restores the running statistics when the ${where} throws; run() again continues exactly`, async () => {
      // step 2 of epoch 0 and step 1 of epoch 1 (the loss is also called by the 2 validation batches)
      const inj = new Injector(where === "loss" ? [2, 8] : [2, 6]);
      const base = tinyConvNet(1);
      const model = where === "loss" ? base : failingModel(base, inj, where);
      const t = new Watched(options(model, where === "loss" ? failingLoss(inj) : mseLoss));
      const message = `injected ${where} failure`;
      expect(await failThenContinue(t, message)).toBe(2);
      expect(t.steps.map((x) => x.error !== undefined)).toEqual([
        ...[false, true, false, false, false], // epoch 0: step 2 failed, then done
        ...[true, false, false, false, false], // epoch 1: step 1 failed, then done
      ]);
      // the failures changed nothing: same weights (BN-like running mean included) and losses
      expect(weightsOf(base)).toEqual(reference);
      expect(t.history.map((h) => h.trainLoss)).toEqual(referenceLosses);
      // and no step leaked
      for (const st of t.steps.filter((x) => !x.error).slice(1)) expect(st.after).toBe(st.before);
      base.dispose();
    });
  }

  it("frees the U-Net's tensors (BatchNorm, 30 layers) when its loss throws, at every failure", async () => {
    const inj = new Injector([1, 2, 3, 4]);
    const model = createModel({ variant: "torch", width: 2 }, { seed: 3 });
    const shape: [number, number, number] = [8, 8, 8];
    const d = restorationData(4, shape, 5);
    const ss = [...shape, 1];
    const t = new Watched({
      model,
      optimizer: new SGD({ lr: 0.1 }),
      loss: failingLoss(inj),
      train: arrayBatchSource({ ...d, sampleShapeX: ss, sampleShapeY: ss, batchSize: 2 }),
      epochs: 1,
    });
    const start = tf.memory().numTensors;
    const stats = weightsOf(model);
    for (let i = 0; i < 4; i++) await expect(t.run()).rejects.toThrow("injected loss failure");
    expect(t.steps.map((x) => x.after - x.before)).toEqual([0, 0, 0, 0]);
    expect(tf.memory().numTensors).toBe(start);
    expect(weightsOf(model)).toEqual(stats);
    await expect(t.run()).resolves.toMatchObject({ stopReason: "completed", epochsCompleted: 1 });
    model.dispose();
  }, 60_000);

  it("an optimizer update that throws frees the gradients", async () => {
    const model = tinyConvNet(1);
    const opt = new SGD({ lr: 0.5 });
    const inj = new Injector([2]);
    const apply = opt.applyGradients.bind(opt);
    opt.applyGradients = (g, w) => {
      if (inj.hit()) throw new Error("injected optimizer failure");
      apply(g, w);
    };
    const t = new Watched(options(model, mseLoss, { optimizer: opt }));
    expect(await failThenContinue(t, "injected optimizer failure")).toBe(1);
    model.dispose();
  });
});

describe("a data-parallel step that throws (two threads)", () => {
  const shape: [number, number, number] = [8, 8, 8];
  const ss = [...shape, 1];
  const data = restorationData(8, shape, 11);
  const opts = (model: GenesisModule): TrainerOptions => ({
    model,
    optimizer: new SGD({ lr: 0.1, momentum: 0.9 }),
    loss: mseLoss,
    train: arrayBatchSource({ ...data, sampleShapeX: ss, sampleShapeY: ss, batchSize: 4 }),
    epochs: 2,
    seed: 1,
    threads: 2,
  });

  it("the main thread's shard fails: the worker's call settles, tensors are freed, run() continues exactly", async () => {
    const ref = createModel({ variant: "torch", width: 2 }, { seed: 3 });
    await new Trainer(opts(ref)).run();
    const base = createModel({ variant: "torch", width: 2 }, { seed: 3 });
    const t = new Watched(opts(failingModel(base, new Injector([2]), "forward")));
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on("unhandledRejection", onUnhandled);
    try {
      expect(await failThenContinue(t, "injected forward failure")).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
    } finally {
      process.off("unhandledRejection", onUnhandled);
    }
    expect(unhandled).toEqual([]);
    const a = weightsOf(base);
    const b = weightsOf(ref);
    for (const k of Object.keys(b)) expect(a[k], k).toEqual(b[k]);
    ref.dispose();
    base.dispose();
  }, 60_000);

  it("a worker's step fails: TrainError naming the replica, tensors freed, the next step works", async () => {
    const model = createModel({ variant: "torch", width: 2 }, { seed: 3 });
    const pool = new ReplicaPool(2, model, "mse");
    const names = [...model.trainableWeights.keys()];
    const d = restorationData(2, shape, 4);
    const batch: Batch = { x: d.x, y: d.y, xShape: [2, ...ss], yShape: [2, ...ss] };
    const local = (b: Batch) => {
      const vars = names.map((n) => model.trainableWeights.get(n)!);
      const { value, grads } = tf.tidy(() =>
        tf.variableGrads(
          () =>
            mseLoss(tf.tensor(b.y, b.yShape), model.forward(tf.tensor(b.x, b.xShape), { training: true })),
          vars,
        ),
      );
      return { loss: value, grads: new Map(names.map((n, i) => [n, grads[vars[i].name]])) };
    };
    try {
      const ok = await pool.gradients(batch, names, local);
      tf.dispose([...ok.grads.values()]);
      const before = tf.memory().numTensors;
      // the worker's model has no weight "nope": its step throws
      const bad = pool.gradients(batch, [...names, "nope"], local);
      await expect(bad).rejects.toThrow(TrainError);
      await expect(bad).rejects.toThrow(/replica: .*no trainable weight nope/);
      expect(tf.memory().numTensors).toBe(before);
      const again = await pool.gradients(batch, names, local);
      expect(Number.isFinite(again.loss)).toBe(true);
      tf.dispose([...again.grads.values()]);
      expect(tf.memory().numTensors).toBe(before);
    } finally {
      await pool.close();
      model.dispose();
    }
  }, 60_000);
});

describe("classification metrics say when the AUC is undefined", () => {
  it("validation: one line with the class counts, once; test: aucUndefined and one line", () => {
    const lines: string[] = [];
    const { auc } = classificationMetrics((m) => lines.push(m));
    for (let epoch = 0; epoch < 3; epoch++) {
      auc.reset();
      auc.update(Float32Array.of(0.2, 0.9, 0.4), Float32Array.of(0, 0, 0), [3, 1]);
      expect(auc.compute()).toBeNaN();
    }
    expect(lines).toEqual([
      "validation AUC is NaN: labels hold only one class (0 positive, 3 negative); ROC AUC is undefined, returning NaN",
    ]);
    const m = evaluatePredictions(
      "classification",
      Float32Array.of(0.1, 0.7),
      Float32Array.of(1, 1),
      [2, 1],
      (l) => lines.push(l),
    );
    expect(m.auc).toBeNaN();
    expect(m.aucUndefined).toBe("only one class (2 positive, 0 negative)");
    expect(lines[1]).toBe(
      "test AUC is NaN: the test labels hold only one class (2 positive, 0 negative); ROC AUC is undefined",
    );
    expect(
      evaluatePredictions("classification", Float32Array.of(0.1, 0.7), Float32Array.of(0, 1), [2, 1]),
    ).toEqual({ auc: 1 });
  });
});
