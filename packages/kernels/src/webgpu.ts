import { existsSync, readdirSync } from "node:fs";

/**
 * WebGPU in Node: Dawn (npm `webgpu`, prebuilt, over Vulkan on Linux) under
 * `@tensorflow/tfjs-backend-webgpu`. Both packages are optional dependencies, loaded with a dynamic
 * `import()` only when the `webgpu` backend is tried.
 *
 * Set-up order (the tfjs backend registers itself only if `navigator.gpu` exists when its module
 * loads): Dawn's globals (`GPUBufferUsage`, `GPUMapMode`, …) and `navigator.gpu` first, then the
 * backend module.
 */

/** What {@link probeWebgpu} found: the adapter tfjs-backend-webgpu will open and its limits. */
export interface WebgpuAdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** true for a CPU implementation (Mesa llvmpipe/lavapipe, SwiftShader, WARP): correct, ≈ 1 GFLOP/s. */
  software: boolean;
  /** Largest single buffer in bytes (`GPUSupportedLimits.maxBufferSize`). */
  maxBufferSize: number;
  /** Largest storage binding in bytes: no tensor a kernel reads or writes may be larger. */
  maxStorageBufferBindingSize: number;
}

/** Why the `webgpu` backend cannot start, as one line saying what to install. */
export type WebgpuUnavailable = { reason: string };

interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<AdapterLike | null>;
}
interface AdapterLike {
  info?: Record<string, unknown>;
  isFallbackAdapter?: boolean;
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|warp|software|cpu/i;

let probed: Promise<WebgpuAdapterInfo | WebgpuUnavailable> | null = null;
let found: WebgpuAdapterInfo | null = null;

/** The adapter {@link probeWebgpu} found (null before a successful probe, e.g. when webgpu has not started). */
export function webgpuAdapterSync(): WebgpuAdapterInfo | null {
  return found;
}

/** `import(name)` of an optional package, or null when it is not installed or fails to load. */
export async function importOptional(name: string): Promise<Record<string, unknown> | null> {
  try {
    const spec: string = name; // a variable keeps bundlers and tsc from resolving the optional package
    return (await import(/* @vite-ignore */ spec)) as Record<string, unknown>;
  } catch {
    return null;
  }
}

/**
 * On Linux, Dawn reaches the GPU through the Vulkan loader, which finds drivers by their ICD
 * manifests; without one Dawn prints loader warnings and finds no adapter, so look first (cheap,
 * and keeps a CPU-only machine's start quiet). Elsewhere (Metal, D3D12) there is nothing to check.
 */
function vulkanDriverMissing(): string | null {
  if (process.platform !== "linux") return null;
  const env = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (env) return env.split(":").some((f) => existsSync(f)) ? null : `no Vulkan driver manifest at ${env}`;
  const dirs = [
    "/usr/share/vulkan/icd.d",
    "/etc/vulkan/icd.d",
    "/usr/local/share/vulkan/icd.d",
    `${process.env.HOME ?? ""}/.local/share/vulkan/icd.d`,
  ];
  for (const d of dirs) {
    try {
      if (readdirSync(d).some((f) => f.endsWith(".json"))) return null;
    } catch {
      // not there
    }
  }
  return `no Vulkan driver found (no ICD manifest in ${dirs.slice(0, 3).join(", ")})`;
}

async function probeOnce(): Promise<WebgpuAdapterInfo | WebgpuUnavailable> {
  const g = globalThis as { navigator?: { gpu?: GpuLike } };
  const noDriver = g.navigator?.gpu ? null : vulkanDriverMissing();
  if (noDriver) {
    return {
      reason: `${noDriver}: install a GPU driver with Vulkan support (on Linux: the NVIDIA/AMD/Intel driver and libvulkan1), or Mesa >= 24 \`mesa-vulkan-drivers\` for the lavapipe software adapter (slow, for tests)`,
    };
  }
  if (!g.navigator?.gpu) {
    const dawn = await importOptional("webgpu");
    if (!dawn || typeof dawn.create !== "function") {
      return {
        reason:
          "the optional package `webgpu` (Dawn for Node) is not installed: `pnpm add webgpu@0.6.2` in the workspace",
      };
    }
    Object.assign(globalThis, dawn.globals as object);
    let gpu: GpuLike;
    try {
      gpu = (dawn.create as (flags: string[]) => GpuLike)([]);
    } catch (e) {
      return { reason: `Dawn (npm webgpu) failed to load: ${(e as Error).message}` };
    }
    if (g.navigator) Object.defineProperty(g.navigator, "gpu", { value: gpu, configurable: true });
    else
      Object.defineProperty(globalThis, "navigator", { value: { gpu }, configurable: true, writable: true });
  }
  const gpu = (globalThis as unknown as { navigator: { gpu: GpuLike } }).navigator.gpu;
  const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    return {
      reason:
        "no WebGPU adapter: install a GPU driver with Vulkan support (on Linux: the NVIDIA/AMD/Intel driver and libvulkan1), " +
        "or Mesa >= 24 `mesa-vulkan-drivers` for the lavapipe software adapter (slow, for tests)",
    };
  }
  const info = (adapter.info ?? {}) as Record<string, unknown>;
  const str = (k: string) => (typeof info[k] === "string" ? (info[k] as string) : "");
  const vendor = str("vendor");
  const architecture = str("architecture");
  const device = str("device");
  const description = str("description");
  const software =
    info.isFallbackAdapter === true ||
    adapter.isFallbackAdapter === true ||
    SOFTWARE.test(architecture) ||
    SOFTWARE.test(description) ||
    SOFTWARE.test(device);
  const mod = await importOptional("@tensorflow/tfjs-backend-webgpu");
  if (!mod) {
    return {
      reason:
        "the optional package `@tensorflow/tfjs-backend-webgpu` is not installed: `pnpm add @tensorflow/tfjs-backend-webgpu@4.22.0`",
    };
  }
  return {
    vendor,
    architecture,
    device,
    description,
    software,
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
  };
}

/**
 * Loads Dawn and tfjs-backend-webgpu (once per process) and describes the adapter the backend
 * will open. Never throws: a missing package, driver or adapter comes back as `{ reason }`.
 */
export function probeWebgpu(): Promise<WebgpuAdapterInfo | WebgpuUnavailable> {
  probed ??= probeOnce().then((p) => {
    if (!("reason" in p)) found = p;
    return p;
  });
  return probed;
}

/** One line describing an adapter and the limits that bound tensor sizes. */
export function describeAdapter(a: WebgpuAdapterInfo): string {
  const mib = (b: number) => `${Math.round(b / 2 ** 20)} MiB`;
  const name = [a.vendor, a.architecture, a.description || a.device].filter(Boolean).join(" / ");
  return `${name}${a.software ? " (software adapter: correct but slow)" : ""}; maxBufferSize ${mib(a.maxBufferSize)}, maxStorageBufferBindingSize ${mib(a.maxStorageBufferBindingSize)}`;
}

/** Element-wise binary kernels whose webgpu program has the rank-5 shared-memory defect below. */
const BINARY_KERNELS = [
  "Add",
  "Sub",
  "Multiply",
  "RealDiv",
  "Maximum",
  "Minimum",
  "SquaredDifference",
  "Pow",
  "FloorDiv",
  "Mod",
  "Atan2",
  "Equal",
  "NotEqual",
  "Greater",
  "GreaterEqual",
  "Less",
  "LessEqual",
  "LogicalAnd",
  "LogicalOr",
];

let binaryPatched = false;

/**
 * Works around a tfjs-backend-webgpu 4.22 defect: a binary op between a rank-5 tensor and a 1-D
 * tensor of fewer than 128 elements (a per-channel bias or scale on NDHWC) takes a shared-memory
 * program that indexes the rank-5 coordinate struct (`coords[4]`), which WGSL rejects ("cannot
 * index type 'vec5'"), so the whole command buffer is dropped and the result is garbage. The
 * wrapper reshapes the rank-5 operand to rank 4 (merging the two leading axes; broadcasting over
 * the last axis is unchanged), runs the original kernel and reshapes the result back.
 * Re-registers the kernels once per process; a no-op when webgpu is not registered.
 */
export async function patchWebgpuBinaryRank5(): Promise<void> {
  if (binaryPatched) return;
  const tf = await import("@tensorflow/tfjs-core");
  const reshape = tf.getKernel("Reshape", "webgpu");
  if (!reshape) return;
  binaryPatched = true;
  type Info = { shape: number[]; dataId: object; dtype: string };
  for (const name of BINARY_KERNELS) {
    const k = tf.getKernel(name, "webgpu");
    if (!k) continue;
    const orig = k.kernelFunc;
    tf.unregisterKernel(name, "webgpu");
    tf.registerKernel({
      ...k,
      kernelFunc: (args) => {
        const { a, b } = args.inputs as { a: Info; b: Info };
        const bad = (p: Info, q: Info) =>
          p.shape.length === 5 && q.shape.length <= 1 && (q.shape[0] ?? 1) < 128;
        const which = bad(a, b) ? "a" : bad(b, a) ? "b" : null;
        if (!which) return orig(args);
        const big = which === "a" ? a : b;
        const [n, d, ...rest] = big.shape;
        const backend = args.backend as { disposeData(id: object): void };
        const r = (x: Info, shape: number[]) =>
          reshape.kernelFunc({ inputs: { x } as never, backend: args.backend, attrs: { shape } }) as Info;
        const big4 = r(big, [n * d, ...rest]);
        const out = orig({ ...args, inputs: { ...args.inputs, [which]: big4 } as never }) as Info;
        const y = r(out, [n, d, ...out.shape.slice(1)]);
        backend.disposeData(big4.dataId);
        backend.disposeData(out.dataId);
        return y as never;
      },
    });
  }
}

/**
 * For test suites: null when the webgpu tests can run here (an adapter was found: hardware, or a
 * software one such as Mesa lavapipe), else the reason they are skipped (also printed). With
 * `GENESIS_REQUIRE_WEBGPU=1` (set by the project's CI) a missing adapter throws instead, so that
 * CI cannot pass with the webgpu tests skipped.
 * @throws Error when GENESIS_REQUIRE_WEBGPU=1 and webgpu cannot start
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
