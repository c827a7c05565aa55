/**
 * ONNX Runtime (npm `onnxruntime-node`, an optional dependency) as a prediction engine.
 * The package ships its CPU binary; CUDA 12 and TensorRT execution providers work where the user
 * installed them. It is loaded on first use, so the rest of the project never needs it.
 */
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import path from "node:path";
import { OnnxModelError, type OnnxModelFacts, readOnnxMetadata } from "./metadata.js";
import { decodeModel } from "./proto.js";

/** Execution providers `--ep` accepts. */
export const EXECUTION_PROVIDERS = ["cpu", "cuda", "tensorrt"] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** Thrown when onnxruntime-node or an execution provider is not available; the message is one line. */
export class OnnxRuntimeUnavailableError extends Error {
  override name = "OnnxRuntimeUnavailableError";
}

// The subset of onnxruntime-node's API used here (its types come with the optional package).
interface OrtTensor {
  readonly data: unknown;
  readonly dims: readonly number[];
  dispose?(): void;
}
interface OrtSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>>;
  release(): Promise<void>;
}
interface OrtModule {
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<OrtSession>;
  };
  Tensor: new (type: "float32", data: Float32Array, dims: readonly number[]) => OrtTensor;
  listSupportedBackends?: () => { name: string; bundled: boolean }[];
  env: { versions?: Record<string, string> };
}

let cached: Promise<OrtModule | Error> | null = null;

function loadOrt(): Promise<OrtModule | Error> {
  cached ??= import("onnxruntime-node" as string).then(
    (m: { default?: OrtModule } & OrtModule) => (m.InferenceSession ? m : (m.default as OrtModule)),
    (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
  );
  return cached;
}

/**
 * Whether onnxruntime-node loads here, and its version.
 * @returns `{ ok: true, version }`, or `{ ok: false, reason }` with a one-line reason.
 */
export async function probeOnnxRuntime(): Promise<
  { ok: true; version: string } | { ok: false; reason: string }
> {
  const m = await loadOrt();
  if (m instanceof Error) {
    return {
      ok: false,
      reason: `onnxruntime-node is not installed or does not load (${m.message.split("\n")[0]}); install it with pnpm add onnxruntime-node, or use --engine tfjs`,
    };
  }
  return { ok: true, version: m.env.versions?.node ?? m.env.versions?.common ?? "unknown" };
}

async function ort(): Promise<OrtModule> {
  const m = await loadOrt();
  if (m instanceof Error) {
    const p = await probeOnnxRuntime();
    throw new OnnxRuntimeUnavailableError(p.ok ? m.message : p.reason);
  }
  return m;
}

/** Options of {@link createOnnxEngine}. */
export interface OnnxEngineOptions {
  /** Execution provider (default `cpu`). */
  ep?: ExecutionProvider;
  /** Intra-op threads (default: ONNX Runtime's choice, one per physical core). */
  threads?: number;
  /** Name of the model for error messages. */
  source?: string;
  /** BatchNorm mode the graph was exported with (its `genesis.bn_mode`), reported as the engine's `bnMode`. */
  bnMode?: "batch-statistics" | "running-statistics";
}

/**
 * A forward pass on ONNX Runtime: the engine-neutral contract of `@models-genesis/inference`
 * (`ForwardEngine`): `forward(batch, shape)` with `batch` float32 in the graph's input layout
 * (NDHWC for our exports) and `shape` its dims; returns the float32 output (NDHWC, or (N, classes)).
 */
export interface OnnxEngine {
  readonly name: "onnx";
  /** e.g. `onnxruntime-node 1.30.0 (cpu)`. */
  readonly description: string;
  /** The graph's BatchNorm mode when known ({@link OnnxEngineOptions.bnMode}). */
  readonly bnMode?: "batch-statistics" | "running-statistics";
  forward(batch: Float32Array, shape: readonly number[]): Promise<Float32Array>;
  dispose(): Promise<void>;
}

/**
 * Open an ONNX model (bytes) in ONNX Runtime.
 * @throws OnnxRuntimeUnavailableError (one line) when onnxruntime-node does not load or the
 *   execution provider is not installed; OnnxModelError naming `source` when ONNX Runtime
 *   rejects the model.
 */
export async function createOnnxEngine(model: Uint8Array, opts: OnnxEngineOptions = {}): Promise<OnnxEngine> {
  const m = await ort();
  const ep = opts.ep ?? "cpu";
  if (!EXECUTION_PROVIDERS.includes(ep)) {
    throw new OnnxRuntimeUnavailableError(
      `--ep must be one of ${EXECUTION_PROVIDERS.join(", ")}, got ${JSON.stringify(ep)}`,
    );
  }
  const source = opts.source ?? "ONNX model";
  const install =
    `onnxruntime-node's ${ep === "cuda" ? "CUDA 12" : "TensorRT"} provider is downloaded by its install script, which pnpm does not run by default ` +
    `(allow it: pnpm approve-builds, then pnpm rebuild onnxruntime-node, with network access), and needs the NVIDIA ${ep === "cuda" ? "CUDA 12 and cuDNN" : "TensorRT"} libraries its release notes name; or use --ep cpu`;
  if (ep !== "cpu") {
    const names = m.listSupportedBackends?.().map((b) => b.name) ?? [];
    if (!names.includes(ep)) {
      throw new OnnxRuntimeUnavailableError(
        `execution provider ${ep} is not in this onnxruntime-node (it has: ${names.join(", ") || "cpu"}); ${install}`,
      );
    }
  }
  if (ep !== "cpu" && providerLibraryMissing(ep)) {
    throw new OnnxRuntimeUnavailableError(
      `execution provider ${ep} is not installed here (no libonnxruntime_providers_${ep}.so beside onnxruntime-node's binding); ${install}`,
    );
  }
  let session: OrtSession;
  try {
    session = await m.InferenceSession.create(model, {
      executionProviders: [ep],
      graphOptimizationLevel: "all",
      ...(opts.threads ? { intraOpNumThreads: opts.threads } : {}),
      // A missing provider library is reported by the error below, not by ORT's own log lines.
      ...(ep !== "cpu" ? { logSeverityLevel: 4 } : {}),
    });
  } catch (e) {
    const msg = (e as Error).message.split("\n")[0];
    if (ep !== "cpu" && /provider|cuda|tensorrt|\.so/i.test(msg)) {
      throw new OnnxRuntimeUnavailableError(
        `execution provider ${ep} is not installed here (${msg}); ${install}`,
      );
    }
    throw new OnnxModelError(`${source}: ONNX Runtime cannot load the model (${msg})`);
  }
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const version = m.env.versions?.node ?? "";
  return {
    name: "onnx",
    description: `onnxruntime-node ${version} (${ep})`.replace("  ", " "),
    ...(opts.bnMode ? { bnMode: opts.bnMode } : {}),
    async forward(batch, shape) {
      const t = new m.Tensor("float32", batch, shape);
      const out = await session.run({ [inputName]: t });
      const y = out[outputName];
      const data = y.data as Float32Array;
      const copy = data.slice();
      t.dispose?.();
      y.dispose?.();
      return copy;
    },
    async dispose() {
      await session.release();
    },
  };
}

/**
 * On Linux, whether onnxruntime-node's binary folder lacks the provider's shared library (the CPU
 * binary ships in the npm package; CUDA/TensorRT providers are added by its install script).
 * False when the folder cannot be found (then session creation decides).
 */
function providerLibraryMissing(ep: "cuda" | "tensorrt"): boolean {
  if (process.platform !== "linux") return false;
  try {
    const pkg = createRequire(import.meta.url).resolve("onnxruntime-node/package.json");
    const bin = path.join(path.dirname(pkg), "bin");
    for (const napi of readdirSync(bin)) {
      const dir = path.join(bin, napi, "linux", process.arch);
      if (existsSync(path.join(dir, "onnxruntime_binding.node")))
        return !existsSync(path.join(dir, `libonnxruntime_providers_${ep}.so`));
    }
  } catch {
    return false;
  }
  return false;
}

/** A Models Genesis ONNX file read from disk: its bytes and its facts. */
export interface OnnxModelFile {
  bytes: Uint8Array;
  facts: OnnxModelFacts;
}

/**
 * Read an ONNX file and its `genesis.*` metadata.
 * @throws OnnxModelError naming the file when it cannot be read, is not an ONNX protobuf (corrupt
 *   or truncated), has no graph, or is not a Models Genesis export.
 */
export async function readOnnxFile(file: string): Promise<OnnxModelFile> {
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(file));
  } catch (e) {
    throw new OnnxModelError(`${file}: cannot read the ONNX file (${(e as Error).message})`);
  }
  return { bytes, facts: parseOnnxBytes(bytes, file) };
}

/**
 * The facts of ONNX bytes (see {@link readOnnxFile}).
 * @throws OnnxModelError naming `source`.
 */
export function parseOnnxBytes(bytes: Uint8Array, source: string): OnnxModelFacts {
  let model: ReturnType<typeof decodeModel>;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw new OnnxModelError(`${source}: not a valid ONNX file (protobuf: ${(e as Error).message})`);
  }
  if (!model.graph || !model.irVersion) {
    throw new OnnxModelError(`${source}: not a valid ONNX file (no graph or IR version)`);
  }
  return readOnnxMetadata(model.metadataProps ?? [], source);
}
