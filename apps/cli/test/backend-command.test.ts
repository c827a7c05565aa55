/**
 * `genesis backend`: starts the named backend, prints it and checks that it computes; on webgpu
 * (a software adapter in CI) also the adapter and its limits.
 */
import { webgpuSkipReason } from "@models-genesis/kernels";
import { describe, expect, it } from "vitest";
import { genesis } from "./run-cli.js";

const webgpuSkip = await webgpuSkipReason();

describe("genesis backend", () => {
  it("starts cpu when asked and checks a known matMul", async () => {
    const r = await genesis("backend", "--backend", "cpu", "--json");
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ backend: "cpu", gpu: false, computes: true, adapter: null });
  });

  it("refuses an unknown backend with one line naming it", async () => {
    const r = await genesis("backend", "--backend", "no-such");
    expect(r.code).not.toBe(0);
    expect(r.err).toMatch(
      /^genesis: unknown backend "no-such" \(from option\); choose one of tensorflow, webgpu, wasm, cpu/,
    );
    // no internal function name in what the user reads
    expect(r.err).not.toContain("initBackend");
  });

  it.skipIf(webgpuSkip !== null)("prints the webgpu adapter and its buffer limits", async () => {
    const r = await genesis("backend", "--backend", "webgpu");
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/webgpu adapter .*maxStorageBufferBindingSize \d+ MiB/);
    expect(r.out).toMatch(/^webgpu: (GPU|software adapter \(CPU\)); 2×2 matMul correct$/m);
    const j = await genesis("backend", "--backend", "webgpu", "--json");
    const o = JSON.parse(j.out);
    expect(o.backend).toBe("webgpu");
    expect(o.adapter.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(2 ** 27);
    expect(o.gpu).toBe(!o.adapter.software);
  });
});

describe("genesis predict --out", () => {
  it("creates a missing folder of --out before any work, and names --out when its folder cannot be", async () => {
    const { mkdtempSync, writeFileSync, existsSync, rmSync } = await import("node:fs");
    const { tmpdir } = await import("node:os");
    const path = await import("node:path");
    const dir = mkdtempSync(path.join(tmpdir(), "genesis-out-"));
    try {
      const afile = path.join(dir, "afile");
      writeFileSync(afile, "x");
      const bad = path.join(afile, "x.npy");
      const r = await genesis("predict", "--model", dir, "--in", "nowhere.npy", "--out", bad);
      expect(r.code).toBe(1);
      expect(r.err).toBe(
        `genesis: --out ${bad}: its folder ${afile}: exists and is not a folder; give a folder (it is created if missing)\n`,
      );
      const fresh = path.join(dir, "new", "sub", "x.npy");
      const r2 = await genesis("predict", "--model", dir, "--in", "nowhere.npy", "--out", fresh);
      expect(r2.code).toBe(1); // the input is missing, but the folder of --out now exists
      expect(existsSync(path.dirname(fresh))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
