import { type ForwardEngine, tfjsEngine } from "@models-genesis/inference";
import type { GenesisUNet, ModelMetadata } from "@models-genesis/models";
import {
  createOnnxEngine,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  exportOnnx,
  probeOnnxRuntime,
} from "@models-genesis/onnx";

/** The prediction engines of `genesis predict --engine`. */
export type EngineName = "onnx" | "tfjs";

/** Parse `--ep` (undefined → cpu). */
export function parseExecutionProvider(v: unknown): ExecutionProvider {
  if (v === undefined) return "cpu";
  if (!EXECUTION_PROVIDERS.includes(v as ExecutionProvider)) {
    throw new Error(`--ep must be one of ${EXECUTION_PROVIDERS.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as ExecutionProvider;
}

/**
 * The engine `genesis predict` runs: `--engine onnx|tfjs`, by default onnx when onnxruntime-node
 * loads, else tfjs (`note` says why).
 * @throws Error (one line) for an unknown name, or `--engine onnx` without onnxruntime-node.
 */
export async function chooseEngine(requested: unknown): Promise<{ engine: EngineName; note: string }> {
  if (requested !== undefined && requested !== "onnx" && requested !== "tfjs") {
    throw new Error(`--engine must be onnx or tfjs, got ${JSON.stringify(requested)}`);
  }
  if (requested === "tfjs") return { engine: "tfjs", note: "--engine tfjs" };
  const probe = await probeOnnxRuntime();
  if (probe.ok)
    return { engine: "onnx", note: requested ? "--engine onnx" : "default: onnxruntime-node loads" };
  if (requested === "onnx") throw new Error(`--engine onnx: ${probe.reason}`);
  return { engine: "tfjs", note: `default: ${probe.reason.split(";")[0]}` };
}

/**
 * A forward engine for a loaded model: tfjs runs `model.forward`; onnx exports the model with the
 * chosen BatchNorm mode in memory and opens it in ONNX Runtime (the same graph `genesis export`
 * writes). The caller disposes it with {@link disposeEngine}.
 */
export async function makeEngine(
  name: EngineName,
  model: GenesisUNet,
  metadata: ModelMetadata,
  bnMode: ModelMetadata["bnMode"],
  ep: ExecutionProvider,
): Promise<ForwardEngine & { dispose?: () => Promise<void> }> {
  if (name === "tfjs") return tfjsEngine(model, bnMode);
  const bytes = await exportOnnx(model, metadata, { bnMode });
  return createOnnxEngine(bytes, { ep, bnMode, source: "the model" });
}

/** Release an engine's native resources (ONNX Runtime session); a no-op for tfjs. */
export async function disposeEngine(e: { dispose?: () => Promise<void> } | undefined): Promise<void> {
  await e?.dispose?.();
}
