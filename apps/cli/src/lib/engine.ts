import type { ForwardEngine } from "@models-genesis/inference";
import {
  type GenesisUNet,
  inferenceBnModeOf,
  loadModel,
  type ModelMetadata,
  resolveConfig,
} from "@models-genesis/models";
import {
  createOnnxEngine,
  type EngineChoice,
  EXECUTION_PROVIDERS,
  type ExecutionProvider,
  openModelEngine,
  readOnnxFile,
} from "@models-genesis/onnx";

/** The engine choice lives in `@models-genesis/onnx` (shared with the task apps' test evaluation). */
export { chooseEngine, type EngineChoice, type EngineName } from "@models-genesis/onnx";

/** Parse `--ep` (undefined → cpu). */
export function parseExecutionProvider(v: unknown): ExecutionProvider {
  if (v === undefined) return "cpu";
  if (!EXECUTION_PROVIDERS.includes(v as ExecutionProvider)) {
    throw new Error(`--ep must be one of ${EXECUTION_PROVIDERS.join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as ExecutionProvider;
}

/** The BN mode predict uses and how it reads in the summary line (`--bn-mode`, metadata or fallback). */
export function bnModeLine(
  metadata: ModelMetadata,
  override: ModelMetadata["bnMode"] | undefined,
): { mode: ModelMetadata["bnMode"]; text: string } {
  if (override !== undefined) return { mode: override, text: `${override} (--bn-mode)` };
  const { mode, source } = inferenceBnModeOf(metadata);
  return {
    mode,
    text: source === "metadata" ? mode : `${mode} (model saved without inferenceBnMode: its bnMode)`,
  };
}

/** A model ready to predict: its architecture (a tfjs model for model directories), metadata and engine. */
export interface Predictor {
  model: GenesisUNet | Pick<GenesisUNet, "architecture">;
  metadata: ModelMetadata;
  engine: ForwardEngine;
  bn: { mode: ModelMetadata["bnMode"]; text: string };
  /** Frees the engine's session and the tfjs model. */
  close(): Promise<void>;
}

/**
 * Open `--model`: a model directory (runs on either engine; the onnx engine exports it in memory
 * with the resolved BatchNorm mode, the graph `genesis export` writes) or an `.onnx` file written
 * by `genesis export` / `convert --onnx` (onnx engine only; its metadata from `metadata_props`,
 * its BatchNorm mode fixed in the graph).
 * @throws Error (one line) for an .onnx file with --engine tfjs or without onnxruntime-node, a
 *   channels-first export, or a --bn-mode the graph does not have; the loaders' errors name the file.
 */
export async function openPredictor(
  modelPath: string,
  choice: EngineChoice,
  ep: ExecutionProvider,
  bnOverride: ModelMetadata["bnMode"] | undefined,
): Promise<Predictor> {
  if (modelPath.toLowerCase().endsWith(".onnx")) {
    if (choice.engine !== "onnx") {
      throw new Error(
        choice.unavailable
          ? `--model ${modelPath}: an ONNX file needs ONNX Runtime: ${choice.unavailable}`
          : `--model ${modelPath}: an ONNX file runs on --engine onnx; --engine tfjs needs a model directory`,
      );
    }
    const { bytes, facts } = await readOnnxFile(modelPath);
    if (facts.graph.inputLayout.startsWith("NC")) {
      throw new Error(
        `--model ${modelPath}: exported with a channels-first input (${facts.graph.inputLayout}); predict feeds channels-last (re-export without --layout channels-first)`,
      );
    }
    const mode = facts.graph.graphBnMode;
    if (bnOverride !== undefined && bnOverride !== mode) {
      throw new Error(
        `--bn-mode ${bnOverride}: ${modelPath} was exported with ${mode} BatchNorm (re-export it with genesis export --bn-mode ${bnOverride})`,
      );
    }
    const m = facts.metadata;
    const architecture = resolveConfig({
      variant: m.variant,
      spatialDims: m.spatialDims,
      width: m.width,
      inChannels: facts.graph.inChannels,
      head: m.head,
      bnMode: m.bnMode,
    });
    const engine = await createOnnxEngine(bytes, { ep, bnMode: mode, source: modelPath });
    return {
      model: { architecture },
      metadata: m,
      engine,
      bn: { mode, text: `${mode} (fixed in the ONNX graph)` },
      close: () => engine.dispose(),
    };
  }
  const { model, metadata } = await loadModel(modelPath);
  try {
    const bn = bnModeLine(metadata, bnOverride);
    const engine = await openModelEngine(model, metadata, choice, { bnMode: bn.mode, ep, source: modelPath });
    return {
      model,
      metadata,
      engine,
      bn,
      close: async () => {
        await engine.dispose();
        model.dispose();
      },
    };
  } catch (e) {
    model.dispose();
    throw e;
  }
}
