import { spawnSync } from "node:child_process";
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
      await expect(initBackend({ log: () => {} })).rejects.toThrow(
        /^unknown backend "no-such-backend" \(from GENESIS_BACKEND\); choose one of tensorflow, webgpu, wasm, cpu/,
      );
      // a known backend whose package is missing is "not available", with what it needs
      await expect(initBackend({ backend: "tensorflow", log: () => {} })).rejects.toThrow(
        /^backend "tensorflow" \(from option\) is not available; .*needs @tensorflow\/tfjs-node/,
      );
      // a command-line caller names its flag as the source
      await expect(
        initBackend({ backend: "tensorflow", source: "--backend", log: () => {} }),
      ).rejects.toThrow(/backend "tensorflow" \(from --backend\) is not available/);
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

describe("initBackend webgpu", async () => {
  const { webgpuSkipReason } = await import("../src/index.js");
  const skip = await webgpuSkipReason();

  it.skipIf(skip !== null)("starts webgpu when asked, logs the adapter and its limits", async () => {
    const lines: string[] = [];
    expect(await initBackend({ backend: "webgpu", log: (l) => lines.push(l) })).toBe("webgpu");
    expect(lines[0]).toMatch(/webgpu adapter .*maxBufferSize \d+ MiB, maxStorageBufferBindingSize \d+ MiB/);
    expect(() => assertKernels()).not.toThrow();
    const y = tf.matMul(tf.tensor2d([1, 2, 3, 4], [2, 2]), tf.tensor2d([5, 6, 7, 8], [2, 2]));
    expect(Array.from(await y.data())).toEqual([19, 22, 43, 50]);
    y.dispose();
    // switching back and forth keeps each backend working
    expect(await initBackend({ backend: "wasm", log: () => {} })).toBe("wasm");
    const z = tf.add(tf.tensor1d([1, 2]), 1);
    expect(Array.from(z.dataSync())).toEqual([2, 3]);
    z.dispose();
  });

  it.skipIf(skip !== null)(
    "the automatic order skips a software adapter and says how to use it",
    async () => {
      const { webgpuAdapterSync } = await import("../src/index.js");
      const a = webgpuAdapterSync();
      const prev = process.env.GENESIS_BACKEND;
      delete process.env.GENESIS_BACKEND;
      try {
        const lines: string[] = [];
        const got = await initBackend({ log: (l) => lines.push(l) });
        if (a?.software) {
          expect(got).not.toBe("webgpu");
          expect(lines.some((l) => /webgpu skipped: the adapter is software.*--backend webgpu/.test(l))).toBe(
            true,
          );
        } else {
          expect(got).toBe("webgpu");
        }
      } finally {
        if (prev !== undefined) process.env.GENESIS_BACKEND = prev;
      }
    },
  );

  it("without a Vulkan driver, asking for webgpu fails with one line saying what to install", () => {
    // a fresh process (the probe is once per process) told that the only driver manifest is missing
    const dist = new URL("../dist/index.js", import.meta.url).pathname;
    const r = spawnSync(
      process.execPath,
      [
        "--input-type=module",
        "-e",
        `import { initBackend } from ${JSON.stringify(dist)};
         try { await initBackend({ backend: "webgpu", log: () => {} }); console.log("started"); }
         catch (e) { console.log(e.name + ": " + e.message); }`,
      ],
      {
        env: { ...process.env, VK_DRIVER_FILES: "/nonexistent/icd.json", GENESIS_BACKEND: "" },
        encoding: "utf8",
      },
    );
    expect(r.stdout.trim().split("\n")).toHaveLength(1);
    expect(r.stdout).toMatch(
      /^BackendError: backend "webgpu" is not available: no Vulkan driver manifest at \/nonexistent\/icd.json: install a GPU driver with Vulkan support/,
    );
  });
});
