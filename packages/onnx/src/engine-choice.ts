import { type ForwardEngine, tfjsEngine } from "@models-genesis/inference";
import type { GenesisUNet, ModelMetadata } from "@models-genesis/models";
import { exportOnnx } from "./export.js";
import { createOnnxEngine, type ExecutionProvider, probeOnnxRuntime } from "./runtime.js";

/**
 * The one home of the prediction-engine choice shared by `genesis predict` (apps/cli) and the
 * task apps' test-set evaluation (`@models-genesis/tasks`).
 */

/** The forward-pass engines: `onnx` (onnxruntime-node) or `tfjs` (the model's own `forward`). */
export type EngineName = "onnx" | "tfjs";

/** What {@link chooseEngine} picked and why; `unavailable` is why onnx was not (when it was not). */
export interface EngineChoice {
  engine: EngineName;
  /** Why, for logs: `--engine tfjs`, `default: onnxruntime-node loads`, `default: <probe reason>`. */
  note: string;
  unavailable?: string;
}

/**
 * The engine for `--engine onnx|tfjs`: the one named, by default onnx when onnxruntime-node loads
 * ({@link probeOnnxRuntime}), else tfjs (`note` says why).
 * @param requested the flag's value (undefined = default).
 * @param flag the flag's name in error messages (default `--engine`).
 * @throws Error (one line) for an unknown name, or `onnx` asked for without onnxruntime-node.
 */
export async function chooseEngine(requested: unknown, flag = "--engine"): Promise<EngineChoice> {
  if (requested !== undefined && requested !== "onnx" && requested !== "tfjs") {
    throw new Error(`${flag} must be onnx or tfjs, got ${JSON.stringify(requested)}`);
  }
  if (requested === "tfjs") return { engine: "tfjs", note: `${flag} tfjs` };
  const probe = await probeOnnxRuntime();
  if (probe.ok)
    return { engine: "onnx", note: requested ? `${flag} onnx` : "default: onnxruntime-node loads" };
  if (requested === "onnx") throw new Error(`${flag} onnx: ${probe.reason}`);
  return { engine: "tfjs", note: `default: ${probe.reason.split(";")[0]}`, unavailable: probe.reason };
}

/** A {@link ForwardEngine} that frees what it holds (the ONNX Runtime session; nothing for tfjs). */
export type DisposableEngine = ForwardEngine & { dispose(): Promise<void> };

/** Options of {@link openModelEngine}. */
export interface OpenModelEngineOptions {
  /** BatchNorm statistics of the forward passes (the tfjs call's `bnMode`; fixed in the exported graph). */
  bnMode: ModelMetadata["bnMode"];
  /** ONNX Runtime execution provider (default cpu). */
  ep?: ExecutionProvider;
  /** Named in ONNX Runtime's errors (e.g. the model directory). */
  source?: string;
}

/**
 * An engine running a tfjs model: `tfjsEngine(model, bnMode)` for `tfjs`; for `onnx` the model
 * exported in memory with `metadata` and `bnMode` ({@link exportOnnx}, the graph `genesis export`
 * writes) on an ONNX Runtime session ({@link createOnnxEngine}). Both take NDHWC (NHWC for 2-D)
 * float32 batches and return the network's output in the same layout. The model stays the
 * caller's; `dispose()` frees the engine only.
 * @throws what exportOnnx / createOnnxEngine throw (one line, naming `source`).
 */
export async function openModelEngine(
  model: GenesisUNet,
  metadata: ModelMetadata,
  choice: Pick<EngineChoice, "engine">,
  opts: OpenModelEngineOptions,
): Promise<DisposableEngine> {
  if (choice.engine === "tfjs") return { ...tfjsEngine(model, opts.bnMode), dispose: async () => {} };
  return createOnnxEngine(await exportOnnx(model, metadata, { bnMode: opts.bnMode }), {
    ep: opts.ep ?? "cpu",
    bnMode: opts.bnMode,
    ...(opts.source !== undefined ? { source: opts.source } : {}),
  });
}
