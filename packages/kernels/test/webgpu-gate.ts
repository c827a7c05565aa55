import { probeWebgpu } from "../src/index.js";

/**
 * Whether the webgpu tests can run here: null when an adapter (hardware, or a software one such as
 * Mesa lavapipe) was found, else the reason they are skipped. With `GENESIS_REQUIRE_WEBGPU=1` (set by
 * `.ci/run`) a missing adapter is an error instead of a skip, so CI cannot pass without these tests.
 */
export async function webgpuSkipReason(): Promise<string | null> {
  const probe = await probeWebgpu();
  if (!("reason" in probe)) return null;
  if (process.env.GENESIS_REQUIRE_WEBGPU === "1") {
    throw new Error(`GENESIS_REQUIRE_WEBGPU=1 but webgpu cannot start: ${probe.reason}`);
  }
  console.warn(`webgpu tests skipped: ${probe.reason}`);
  return probe.reason;
}
