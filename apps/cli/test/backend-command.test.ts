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
    expect(r.err).toMatch(/backend "no-such" \(from option\) is not available/);
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
