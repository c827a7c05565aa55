import { createRequire } from "node:module";
import path from "node:path";
import * as tf from "@tensorflow/tfjs-core";
import { setBackendChunkDefault } from "./core.js";
import {
  describeAdapter,
  importOptional,
  patchWebgpuBinaryRank5,
  probeWebgpu,
  webgpuAdapterSync,
} from "./webgpu.js";

/**
 * Backend selection for Models Genesis.
 *
 * Order of preference (fastest first): `tensorflow` from `@tensorflow/tfjs-node-gpu`, then
 * `webgpu` (`@tensorflow/tfjs-backend-webgpu` on Dawn, npm `webgpu`, over Vulkan/Metal/D3D12) when
 * the adapter is a hardware GPU, then `tensorflow` from `@tensorflow/tfjs-node`, then `wasm`
 * (`@tensorflow/tfjs-backend-wasm`, XNNPACK + SIMD), then `cpu` (`@tensorflow/tfjs-backend-cpu`,
 * plain JS). The native packages and `webgpu` are optional, probed with a dynamic `import()` at run
 * time and never required. A software WebGPU adapter (Mesa llvmpipe/lavapipe, SwiftShader) is used
 * only when `webgpu` is asked for by name: it is correct but slow (≈ 1 GFLOP/s).
 */

/** Names accepted by {@link initBackend}; any other registered tfjs backend name is accepted too. */
export type BackendName = "tensorflow" | "webgpu" | "wasm" | "cpu";

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Backend to use; overrides `GENESIS_BACKEND`. `tensorflow` means tfjs-node(-gpu); `webgpu` accepts a software adapter. */
  backend?: BackendName | string;
  /**
   * Where `backend` came from, as messages name it (default `"option"`), e.g. `"--backend"` for a
   * command-line flag, so that a refusal names what the user typed.
   */
  source?: string;
  /** Receives one human-readable line per decision (default: `console.error`). */
  log?: (line: string) => void;
}

/** Thrown when a requested backend cannot be started, or a kernel is missing on the active backend. */
export class BackendError extends Error {
  override name = "BackendError";
}

const require = createRequire(import.meta.url);

/** Directory of the installed `@tensorflow/tfjs-backend-wasm` `.wasm` binaries (with trailing separator). */
export function wasmBinaryDir(): string {
  const main = require.resolve("@tensorflow/tfjs-backend-wasm");
  return path.dirname(main) + path.sep;
}

async function tryImport(name: string): Promise<boolean> {
  return (await importOptional(name)) !== null;
}

let wasmRegistered = false;
async function registerWasm(): Promise<void> {
  if (wasmRegistered) return;
  const wasm = await import("@tensorflow/tfjs-backend-wasm");
  // Load the binaries from the installed package: no network access.
  wasm.setWasmPaths(wasmBinaryDir());
  wasmRegistered = true;
}

let cpuRegistered = false;
async function registerCpu(): Promise<void> {
  if (cpuRegistered) return;
  await import("@tensorflow/tfjs-backend-cpu");
  cpuRegistered = true;
}

async function start(name: string): Promise<boolean> {
  try {
    return await tf.setBackend(name);
  } catch {
    return false;
  }
}

/** The package the `tensorflow` backend was loaded from, when initBackend loaded it. */
let tensorflowPackage: string | null = null;

/**
 * Whether the active backend computes on a GPU: `webgpu` on a hardware adapter, or `tensorflow`
 * from `@tensorflow/tfjs-node-gpu`. Callers pick budgets with it (e.g. the demo's width).
 */
export async function activeBackendIsGpu(): Promise<boolean> {
  const b = tf.getBackend();
  if (b === "webgpu") {
    const a = webgpuAdapterSync();
    return a !== null && !a.software;
  }
  return b === "tensorflow" && tensorflowPackage === "@tensorflow/tfjs-node-gpu";
}

/**
 * Starts tfjs-backend-webgpu. `explicit`: the user named it, so a software adapter is accepted and
 * a missing package/driver is reported; in the automatic order both are skipped quietly (one line).
 */
async function tryWebgpu(explicit: boolean, log: (l: string) => void): Promise<boolean> {
  const probe = await probeWebgpu();
  if ("reason" in probe) {
    if (explicit) throw new BackendError(`backend "webgpu" is not available: ${probe.reason}`);
    return false;
  }
  if (probe.software && !explicit) {
    log(
      `genesis backend: webgpu skipped: the adapter is software (${probe.description || probe.device}); ` +
        "--backend webgpu (or GENESIS_BACKEND=webgpu) uses it anyway",
    );
    return false;
  }
  await patchWebgpuBinaryRank5();
  if (!(await start("webgpu"))) {
    if (explicit)
      throw new BackendError(
        'backend "webgpu" is not available: the adapter was found but the tfjs backend failed to start',
      );
    return false;
  }
  // Convolutions run one batch element at a time when input + output would not fit one storage
  // binding (see setBatchChunkThreshold), so no kernel binds a buffer past the adapter's limit.
  setBackendChunkDefault("webgpu", Math.floor(probe.maxStorageBufferBindingSize / 4));
  log(`genesis backend: webgpu adapter ${describeAdapter(probe)}`);
  return true;
}

async function tryBackend(name: string, log: (l: string) => void, explicit = false): Promise<boolean> {
  if (name === "webgpu") return tryWebgpu(explicit, log);
  if (name === "tensorflow" || name === "tensorflow-gpu") {
    if (tf.findBackendFactory("tensorflow")) return start("tensorflow");
    const pkgs =
      name === "tensorflow-gpu"
        ? ["@tensorflow/tfjs-node-gpu"]
        : ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"];
    for (const pkg of pkgs) {
      if (await tryImport(pkg)) {
        tensorflowPackage = pkg;
        if (await start("tensorflow")) return true;
        log(`genesis backend: ${pkg} is installed but its backend failed to start`);
      }
    }
    return false;
  }
  if (name === "wasm") {
    try {
      await registerWasm();
    } catch (e) {
      log(`genesis backend: cannot load @tensorflow/tfjs-backend-wasm: ${(e as Error).message}`);
      return false;
    }
    return start("wasm");
  }
  if (name === "cpu") {
    await registerCpu();
    return start("cpu");
  }
  if (!tf.findBackendFactory(name)) return false;
  return start(name);
}

/**
 * Picks and starts the tfjs backend, then logs which one runs.
 *
 * Choice: the explicit `opts.backend`, else the `GENESIS_BACKEND` environment variable, else the
 * fastest available of `tensorflow` (tfjs-node-gpu, then tfjs-node), `wasm`, `cpu`.
 * @returns the name of the active backend (`tf.getBackend()`).
 * @throws BackendError when an explicitly requested backend cannot be started.
 */
export async function initBackend(opts: InitBackendOptions = {}): Promise<string> {
  const log = opts.log ?? ((line: string) => console.error(line));
  const requested = opts.backend ?? process.env.GENESIS_BACKEND ?? "";
  if (requested) {
    const source = opts.backend ? (opts.source ?? "option") : "GENESIS_BACKEND";
    const known = ["tensorflow", "webgpu", "wasm", "cpu"];
    if (!known.includes(requested) && !tf.findBackendFactory(requested)) {
      throw new BackendError(
        `unknown backend "${requested}" (from ${source}); choose one of ${known.join(", ")} (lower case)`,
      );
    }
    if (!(await tryBackend(requested, log, true))) {
      throw new BackendError(
        `backend "${requested}" (from ${source}) is not available; ` +
          `choose one of tensorflow (needs @tensorflow/tfjs-node or -gpu), webgpu (needs a Vulkan/Metal/D3D12 driver), wasm, cpu`,
      );
    }
    await tf.ready();
    log(`genesis backend: ${tf.getBackend()} (requested by ${source})`);
    return tf.getBackend();
  }
  for (const name of ["tensorflow-gpu", "webgpu", "tensorflow", "wasm", "cpu"]) {
    if (await tryBackend(name, log)) {
      await tf.ready();
      log(`genesis backend: ${tf.getBackend()} (fastest available)`);
      return tf.getBackend();
    }
  }
  throw new BackendError("no tfjs backend could be started (tried tensorflow, webgpu, wasm, cpu)");
}

/**
 * The tfjs kernels the Genesis networks (and their gradients) run on with this package's ops.
 * On `tensorflow` (tfjs-node) the stock 3-D kernels are used; on every other backend the fast ops
 * of this package, which need `Conv2D` but neither `Conv3D*` nor `Conv2DBackprop*`.
 * @param backend a tfjs backend name (default: the active one)
 */
export function requiredKernels(backend: string = tf.getBackend()): string[] {
  const common = [
    "Reshape",
    "Transpose",
    "BatchMatMul",
    "Add",
    "AddN",
    "Sub",
    "Multiply",
    "RealDiv",
    "Sum",
    "Mean",
    "Max",
    "Relu",
    "Step",
    "Sigmoid",
    "Square",
    "Sqrt",
    "Rsqrt",
    "Concat",
    "Slice",
    "PadV2",
    "Cast",
    "Fill",
    "Tile",
    "MaxPool3D",
    "MaxPool3DGrad",
    "MaxPool",
    "MaxPoolGrad",
  ];
  if (backend === "tensorflow") {
    return [
      ...common,
      "Conv3D",
      "Conv3DBackpropInputV2",
      "Conv3DBackpropFilterV2",
      "Conv2D",
      "Conv2DBackpropFilter",
    ];
  }
  return [...common, "Conv2D", "FusedConv2D", "_FusedMatMul", "OneHot", "Reverse"];
}

/**
 * Checks that every named kernel is registered for the active backend.
 * @param names kernel names (tfjs `KernelName`s); default {@link requiredKernels}.
 * @throws BackendError naming the first missing kernel and the backend.
 */
export function assertKernels(names?: string[]): void {
  const backend = tf.getBackend();
  if (!backend) throw new BackendError("assertKernels: no tfjs backend is active; call initBackend() first");
  for (const k of names ?? requiredKernels(backend)) {
    if (!tf.getKernel(k, backend)) {
      throw new BackendError(`assertKernels: kernel "${k}" is not registered on the "${backend}" backend`);
    }
  }
}
