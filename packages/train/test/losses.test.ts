import * as tf from "@tensorflow/tfjs-core";
import { beforeAll, describe, expect, it } from "vitest";
import { bceDiceLoss, bceLoss, lossByName, mseLoss, softDice, softDiceLoss } from "../src/index.js";
import { useCpu } from "./helpers.js";

beforeAll(useCpu);

const v = (t: tf.Scalar) => {
  const r = t.dataSync()[0];
  t.dispose();
  return r;
};

describe("losses (known answers)", () => {
  const yT = tf.tensor([1, 0, 1, 0], [2, 2]);
  const yP = tf.tensor([0.9, 0.2, 0.6, 0.1], [2, 2]);
  it("MSE", () => {
    expect(v(mseLoss(yT, yP))).toBeCloseTo((0.01 + 0.04 + 0.16 + 0.01) / 4, 6);
  });
  it("soft Dice with smooth 1 over the flattened batch (reference dice_coef)", () => {
    const inter = 0.9 + 0.6;
    const expected = (2 * inter + 1) / (2 + (0.9 + 0.2 + 0.6 + 0.1) + 1);
    expect(v(softDice(yT, yP))).toBeCloseTo(expected, 6);
    expect(v(softDiceLoss(yT, yP))).toBeCloseTo(1 - expected, 6);
  });
  it("BCE (Keras clipping at 1e-7)", () => {
    const e = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.6) + Math.log(0.9)) / 4;
    expect(v(bceLoss(yT, yP))).toBeCloseTo(e, 6);
    const sat = v(bceLoss(tf.tensor([1, 0]), tf.tensor([0, 1])));
    // in float32 (as Keras computes it) 1 − 1e-7 rounds to 1 − 2^-23·1.0…, so the two terms differ slightly
    const lo = Math.fround(1e-7);
    const hi = Math.fround(1 - 1e-7);
    expect(sat).toBeCloseTo(-(Math.log(lo) + Math.log(1 - hi)) / 2, 3);
  });
  it("BCE + Dice: sum and the reference's 0.5·BCE − Dice", () => {
    const bce = v(bceLoss(yT, yP));
    const d = v(softDice(yT, yP));
    expect(v(bceDiceLoss("sum")(yT, yP))).toBeCloseTo(bce + 1 - d, 6);
    expect(v(bceDiceLoss("reference")(yT, yP))).toBeCloseTo(0.5 * bce - d, 6);
    expect(v(lossByName("bce+dice")(yT, yP))).toBeCloseTo(bce + 1 - d, 6);
    expect(() => lossByName("huber")).toThrow(/unknown loss "huber"/);
  });
  it("losses leave no tensors behind", () => {
    const before = tf.memory().numTensors;
    for (const f of [mseLoss, softDiceLoss, bceLoss, bceDiceLoss()]) f(yT, yP).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
