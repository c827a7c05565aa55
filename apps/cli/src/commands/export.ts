import { initBackend } from "@models-genesis/kernels";
import { type GenesisUNet, inferenceBnModeOf, loadModel, type ModelMetadata } from "@models-genesis/models";
import { exportOnnx, ONNX_OPSET, parseOnnxBytes, writeOnnxFile } from "@models-genesis/onnx";
import type { Command } from "commander";

/** Parse `--bn-mode` (undefined → undefined). */
function parseBnMode(v: unknown): ModelMetadata["bnMode"] | undefined {
  if (v === undefined) return undefined;
  if (v !== "batch-statistics" && v !== "running-statistics") {
    throw new Error(`--bn-mode must be batch-statistics or running-statistics, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** Parse `--layout`. */
function parseLayout(v: unknown): "channels-last" | "channels-first" {
  if (v !== "channels-last" && v !== "channels-first") {
    throw new Error(`--layout must be channels-last or channels-first, got ${JSON.stringify(v)}`);
  }
  return v;
}

/**
 * Export a loaded model to an ONNX file (atomically) and return the line that describes it.
 * The BatchNorm mode is `bnMode`, else the model's documented inference mode ({@link inferenceBnModeOf}).
 */
export async function writeModelOnnx(
  model: GenesisUNet,
  metadata: ModelMetadata,
  file: string,
  opts: { bnMode?: ModelMetadata["bnMode"]; layout?: "channels-last" | "channels-first" } = {},
): Promise<string> {
  const bnMode = opts.bnMode ?? inferenceBnModeOf(metadata).mode;
  const bytes = await exportOnnx(model, metadata, { bnMode, layout: opts.layout });
  const facts = parseOnnxBytes(bytes, file);
  await writeOnnxFile(file, bytes);
  const a = model.architecture;
  return (
    `${file}: ONNX opset ${ONNX_OPSET}, ${(bytes.length / 2 ** 20).toFixed(1)} MiB, ${a.spatialDims}-D ${a.variant} width ${a.width}, ` +
    `${a.head.kind} head (${a.head.nClasses} ${a.head.activation}), BN ${bnMode}, input ${facts.graph.inputLayout} ` +
    `(batch and spatial axes dynamic, multiples of 8)`
  );
}

/**
 * `genesis export MODEL_DIR --out model.onnx`: the model as an ONNX graph (opset 17) with its
 * preprocessing facts in `metadata_props` (`genesis.*`), readable by any ONNX tool.
 */
export function register(program: Command): void {
  program
    .command("export")
    .description("Export a model directory to ONNX (opset 17; preprocessing facts in metadata_props)")
    .argument("<model>", "model directory written by `genesis convert` or training")
    .requiredOption("--out <file>", "output .onnx file")
    .option(
      "--bn-mode <mode>",
      "BatchNorm statistics of the graph: running-statistics (BatchNormalization) or batch-statistics (explicit reductions); default: the model's inference mode",
    )
    .option(
      "--layout <layout>",
      "graph input layout: channels-last (NDHWC, default) or channels-first (NCDHW)",
      "channels-last",
    )
    .option("--backend <name>", "tfjs backend used to read the weights (default: fastest available)")
    .action(async (dir: string, o: Record<string, string | undefined>) => {
      const bnMode = parseBnMode(o.bnMode);
      const layout = parseLayout(o.layout);
      await initBackend({ backend: o.backend, log: () => {} });
      const { model, metadata } = await loadModel(dir);
      try {
        process.stdout.write(
          `${dir} → ${await writeModelOnnx(model, metadata, String(o.out), { bnMode, layout })}\n`,
        );
      } finally {
        model.dispose();
      }
    });
}
