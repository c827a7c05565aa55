import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import {
  batchNormRelu,
  concatChannels,
  conv3d,
  convTranspose3dStride2,
  initBackend,
  installLeanBackprop,
  maxPool3d,
  uninstallLeanBackprop,
  upsampleNearest3d,
} from "../src/index.js";

describe.each(["cpu", "wasm"])("training on %s", (backend) => {
  beforeAll(async () => {
    await initBackend({ backend, log: () => {} });
  });

  it("concatChannels and tf.concat's replacement gradient route each slice back", () => {
    const a = tf.tensor5d([1, 2, 3, 4], [1, 2, 1, 1, 2]);
    const b = tf.tensor5d([5, 6], [1, 2, 1, 1, 1]);
    const y = concatChannels([a, b]);
    expect(Array.from(y.dataSync())).toEqual([1, 2, 5, 3, 4, 6]);
    const w = tf.tensor5d([10, 20, 30, 40, 50, 60], [1, 2, 1, 1, 3]);
    for (const cat of [(xs: tf.Tensor[]) => concatChannels(xs), (xs: tf.Tensor[]) => tf.concat(xs, -1)]) {
      const [ga, gb] = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(cat([p, q]), w)))([a, b]);
      expect(Array.from(ga.dataSync())).toEqual([10, 20, 40, 50]);
      expect(Array.from(gb.dataSync())).toEqual([30, 60]);
      tf.dispose([ga, gb]);
    }
    // concat along a middle axis keeps working through the replacement gradient
    const [g0] = tf.grads((p: tf.Tensor, q: tf.Tensor) =>
      tf.sum(tf.mul(tf.concat([p, q], 1), tf.reshape(tf.range(1, 7), [2, 3]))),
    )([tf.ones([2, 1]), tf.ones([2, 2])]);
    expect(Array.from(g0.dataSync())).toEqual([1, 4]);
    expect(() => concatChannels([a, tf.zeros([1, 1, 1, 1, 1])])).toThrow(/differ outside the channel axis/);
    tf.dispose([a, b, y, w, g0]);
  });

  it("views held for backward are released even when an op is off the gradient path", () => {
    const x = tf.randomUniform([1, 3, 3, 3, 2], -1, 1, "float32", 3) as tf.Tensor5D;
    const w = tf.variable(tf.randomUniform([3, 3, 3, 2, 2], -1, 1, "float32", 4));
    const constW = tf.randomUniform([3, 3, 3, 2, 2], -1, 1, "float32", 5) as tf.Tensor5D;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => {
        conv3d(x, constW); // recorded on the tape, never backpropagated
        return tf.sum(conv3d(x, w as tf.Tensor5D)) as tf.Scalar;
      }, [w]);
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, w, constW]);
  });

  it("a small U-Net-like stack trains without leaking tensors and lowers its loss", async () => {
    const width = 2;
    const init = (shape: number[], seed: number) =>
      tf.variable(tf.randomUniform(shape, -0.3, 0.3, "float32", seed));
    const v = {
      w1: init([3, 3, 3, 1, width], 1),
      b1: init([width], 2),
      g1: tf.variable(tf.ones([width])),
      be1: tf.variable(tf.zeros([width])),
      w2: init([3, 3, 3, width, 2 * width], 3),
      g2: tf.variable(tf.ones([2 * width])),
      be2: tf.variable(tf.zeros([2 * width])),
      wt: init([2, 2, 2, 2 * width, 2 * width], 4),
      bt: init([2 * width], 5),
      w3: init([3, 3, 3, 3 * width, width], 6),
      w4: init([1, 1, 1, 2 * width, 1], 7),
      b4: init([1], 8),
    };
    const x = tf.randomUniform([2, 4, 4, 4, 1], 0, 1, "float32", 9);
    const target = tf.tidy(() => tf.sigmoid(tf.mul(tf.sub(x, 0.5), 4)));
    const net = () => {
      const r1 = batchNormRelu(
        conv3d(x as tf.Tensor5D, v.w1 as tf.Tensor5D, v.b1 as tf.Tensor1D),
        { gamma: v.g1 as tf.Tensor1D, beta: v.be1 as tf.Tensor1D, eps: 1e-5 },
        "batch-statistics",
        true,
      );
      tf.dispose([r1.batchMean as tf.Tensor, r1.batchVariance as tf.Tensor]);
      const p = maxPool3d(r1.y);
      const r2 = batchNormRelu(
        conv3d(p, v.w2 as tf.Tensor5D),
        { gamma: v.g2 as tf.Tensor1D, beta: v.be2 as tf.Tensor1D, eps: 1e-5 },
        "batch-statistics",
        true,
      );
      tf.dispose([r2.batchMean as tf.Tensor, r2.batchVariance as tf.Tensor]);
      const up = convTranspose3dStride2(r2.y, v.wt as tf.Tensor5D, v.bt as tf.Tensor1D);
      const h = conv3d(concatChannels([up, r1.y]) as tf.Tensor5D, v.w3 as tf.Tensor5D);
      const u = upsampleNearest3d(maxPool3d(h));
      const out = conv3d(concatChannels([h, u]) as tf.Tensor5D, v.w4 as tf.Tensor5D, v.b4 as tf.Tensor1D);
      return tf.mean(tf.square(tf.sub(tf.sigmoid(out), target))) as tf.Scalar;
    };
    const vars = Object.values(v);
    const step = () => {
      const { value, grads } = tf.variableGrads(net, vars);
      tf.tidy(() => {
        for (const variable of vars) variable.assign(tf.sub(variable, tf.mul(grads[variable.name], 0.5)));
      });
      const loss = value.dataSync()[0];
      tf.dispose([value, ...Object.values(grads)]);
      return loss;
    };
    // the lean reverse pass gives tfjs's own gradients with a lower peak
    const gradsAndPeak = async () => {
      let out: Record<string, number[]> = {};
      const info = await tf.profile(() => {
        const { value, grads } = tf.variableGrads(net, vars);
        out = Object.fromEntries(Object.entries(grads).map(([k, g]) => [k, Array.from(g.dataSync())]));
        tf.dispose([value, ...Object.values(grads)]);
      });
      return { out, peak: info.peakBytes };
    };
    uninstallLeanBackprop();
    const stockRun = await gradsAndPeak();
    installLeanBackprop();
    const leanRun = await gradsAndPeak();
    for (const [k, g] of Object.entries(stockRun.out)) {
      const l = leanRun.out[k];
      expect(l.length).toBe(g.length);
      for (let i = 0; i < g.length; i++) expect(Math.abs(l[i] - g[i])).toBeLessThan(1e-6);
    }
    expect(leanRun.peak).toBeLessThan(stockRun.peak);
    const first = step();
    const counts: number[] = [];
    let last = first;
    for (let i = 0; i < 10; i++) {
      last = step();
      counts.push(tf.memory().numTensors);
    }
    expect(new Set(counts).size).toBe(1);
    expect(Number.isFinite(last)).toBe(true);
    expect(last).toBeLessThan(first);
    tf.dispose([x, target, ...vars]);
  });
});
