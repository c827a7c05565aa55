/** @vitest-environment node */
import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { conv2dSame } from "../src/spatial-ops.js";
import { BACKENDS, maxAbsDiff, useBackend } from "./helpers.js";

/** Seeded inputs: x (2, 8, 6, 3), w (k, k, 3, 4), and the weights r of the scalar loss sum(r · conv). */
function inputs(k: number): { x: tf.Tensor4D; w: tf.Tensor4D; r: tf.Tensor4D } {
  return {
    x: tf.randomUniform([2, 8, 6, 3], -1, 1, "float32", 11) as tf.Tensor4D,
    w: tf.randomUniform([k, k, 3, 4], -1, 1, "float32", 12) as tf.Tensor4D,
    r: tf.randomUniform([2, 8, 6, 4], -1, 1, "float32", 13) as tf.Tensor4D,
  };
}

/** Output and gradients (dx, dw) of sum(r · conv(x, w)) with the given conv. */
function run(k: number, conv: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D): Float32Array[] {
  const { x, w, r } = inputs(k);
  const loss = (a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(conv(a as tf.Tensor4D, b as tf.Tensor4D), r));
  const y = conv(x, w);
  const [dx, dw] = tf.grads(loss)([x, w]);
  const out = [y, dx, dw].map((t) => t.dataSync() as Float32Array);
  tf.dispose([x, w, r, y, dx, dw]);
  return out;
}

describe("conv2dSame (the 2-D U-Net's convolution with a backend-independent gradient)", () => {
  it.each([1, 3])(
    "k = %i: output and gradients equal stock tf.conv2d's on cpu, on every backend",
    async (k) => {
      await useBackend("cpu");
      const reference = run(k, (x, w) => tf.conv2d(x, w, 1, "same"));
      for (const backend of BACKENDS) {
        await useBackend(backend);
        const before = tf.memory().numTensors;
        const ours = run(k, conv2dSame);
        expect(tf.memory().numTensors).toBe(before);
        ours.forEach((v, i) => {
          expect(v.length).toBe(reference[i].length);
          expect(maxAbsDiff(v, reference[i]), `${backend} ${["y", "dx", "dw"][i]}`).toBeLessThan(1e-4);
        });
      }
    },
  );
});
