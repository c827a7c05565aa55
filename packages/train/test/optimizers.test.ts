import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { Adam, CheckpointError, type Optimizer, optimizerFromState, SGD, TrainError } from "../src/index.js";
import { useCpu } from "./helpers.js";

beforeAll(useCpu);

const grads = [0.5, -1, 2, 0.25, -0.75];

function runSteps(opt: Optimizer, w: tf.Variable, from: number, to: number, lrs?: number[]) {
  const weights = new Map([["w", w]]);
  for (let i = from; i < to; i++) {
    if (lrs) opt.lr = lrs[i];
    const g = tf.tensor([grads[i], -grads[i]]);
    opt.applyGradients(new Map([["w", g]]), weights);
    g.dispose();
  }
}

describe("SGD with momentum (PyTorch form)", () => {
  it("matches b ← μb + g, p ← p − lr·b with a changing lr", () => {
    const lrs = [1, 1, 0.5, 0.5, 0.25];
    const w = tf.variable(tf.tensor([1, 1]));
    runSteps(new SGD({ lr: 1, momentum: 0.9 }), w, 0, 5, lrs);
    let p = 1;
    let b = 0;
    for (let i = 0; i < 5; i++) {
      b = 0.9 * b + grads[i];
      p -= lrs[i] * b;
    }
    const out = w.dataSync();
    expect(out[0]).toBeCloseTo(p, 5);
    expect(out[1]).toBeCloseTo(2 - p, 5);
  });
  it("state round trip continues exactly", async () => {
    const a = tf.variable(tf.tensor([1, 1]));
    const o1 = new SGD({ lr: 0.1, momentum: 0.9 });
    runSteps(o1, a, 0, 5);
    const b = tf.variable(tf.tensor([1, 1]));
    const o2 = new SGD({ lr: 0.1, momentum: 0.9 });
    runSteps(o2, b, 0, 2);
    const o3 = optimizerFromState(await o2.getState());
    runSteps(o3, b, 2, 5);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    expect(o3.iterations).toBe(5);
  });
  it("rejects unknown weights and shape mismatches", async () => {
    const w = tf.variable(tf.tensor([1, 1]));
    const o = new SGD({ lr: 1 });
    expect(() => o.applyGradients(new Map([["v", tf.tensor([1, 1])]]), new Map([["w", w]]))).toThrow(
      TrainError,
    );
    expect(() => o.applyGradients(new Map([["w", tf.tensor([1])]]), new Map([["w", w]]))).toThrow(
      /shape \[1\]/,
    );
    const st = await o.getState();
    expect(() => new Adam({ lr: 1 }).setState(st)).toThrow(CheckpointError);
  });
});

describe("Adam (Keras 2 form)", () => {
  it("matches the Keras update for 5 steps", () => {
    const w = tf.variable(tf.tensor([1, 1]));
    runSteps(new Adam({ lr: 0.01 }), w, 0, 5);
    let p = 1;
    let m = 0;
    let v = 0;
    for (let i = 0; i < 5; i++) {
      const t = i + 1;
      const lrT = (0.01 * Math.sqrt(1 - 0.999 ** t)) / (1 - 0.9 ** t);
      m = 0.9 * m + 0.1 * grads[i];
      v = 0.999 * v + 0.001 * grads[i] ** 2;
      p -= (lrT * m) / (Math.sqrt(v) + 1e-7);
    }
    expect(w.dataSync()[0]).toBeCloseTo(p, 5);
  });
  it("state round trip continues exactly", async () => {
    const a = tf.variable(tf.tensor([1, 1]));
    runSteps(new Adam({ lr: 0.05 }), a, 0, 5);
    const b = tf.variable(tf.tensor([1, 1]));
    const o = new Adam({ lr: 0.05 });
    runSteps(o, b, 0, 3);
    const o2 = new Adam({ lr: 123 });
    o2.setState(await o.getState());
    runSteps(o2, b, 3, 5);
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
  });
});
