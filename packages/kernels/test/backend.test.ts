import * as tf from "@tensorflow/tfjs-core";
import { describe, expect, it } from "vitest";
import { assertKernels, BackendError, initBackend, requiredKernels } from "../src/index.js";

describe("initBackend", () => {
  it.each(["wasm", "cpu"])("starts %s when asked and logs it", async (name) => {
    const lines: string[] = [];
    const got = await initBackend({ backend: name, log: (l) => lines.push(l) });
    expect(got).toBe(name);
    expect(tf.getBackend()).toBe(name);
    expect(lines.some((l) => l.includes(`backend: ${name}`))).toBe(true);
    expect(() => assertKernels()).not.toThrow();
    // the wasm backend computes: 2x2 matMul known answer
    const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
    expect(Array.from(y.dataSync())).toEqual([19, 22, 43, 50]);
    y.dispose();
  });

  it("picks the fastest available (wasm here, tfjs-node is not installed)", async () => {
    const prev = process.env.GENESIS_BACKEND;
    delete process.env.GENESIS_BACKEND;
    try {
      const lines: string[] = [];
      const got = await initBackend({ log: (l) => lines.push(l) });
      expect(["tensorflow", "wasm"]).toContain(got);
      expect(lines.at(-1)).toMatch(/fastest available/);
    } finally {
      if (prev !== undefined) process.env.GENESIS_BACKEND = prev;
    }
  });

  it("honours GENESIS_BACKEND and rejects unknown names", async () => {
    const prev = process.env.GENESIS_BACKEND;
    process.env.GENESIS_BACKEND = "cpu";
    try {
      expect(await initBackend({ log: () => {} })).toBe("cpu");
      process.env.GENESIS_BACKEND = "no-such-backend";
      await expect(initBackend({ log: () => {} })).rejects.toThrow(/no-such-backend.*GENESIS_BACKEND/);
      // the explicit option wins over the environment
      expect(await initBackend({ backend: "wasm", log: () => {} })).toBe("wasm");
    } finally {
      if (prev === undefined) delete process.env.GENESIS_BACKEND;
      else process.env.GENESIS_BACKEND = prev;
    }
  });

  it("assertKernels names the first missing kernel", async () => {
    await initBackend({ backend: "wasm", log: () => {} });
    expect(() => assertKernels(["Conv2D", "Conv2DBackpropFilter"])).toThrow(BackendError);
    expect(() => assertKernels(["Conv2D", "Conv2DBackpropFilter"])).toThrow(/"Conv2DBackpropFilter".*"wasm"/);
    expect(requiredKernels("wasm")).toContain("Conv2D");
  });
});
