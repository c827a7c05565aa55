import { open } from "node:fs/promises";
import path from "node:path";
import { initBackend } from "@models-genesis/kernels";
import {
  countParams,
  defaultInferenceBnMode,
  defaultMetadata,
  type ImportedModel,
  type ImportOptions,
  importKerasH5,
  importTorchCheckpoint,
  saveModel,
} from "@models-genesis/models";
import type { Command } from "commander";
import { writeModelOnnx } from "./export.js";

/** What kind of weights file a path holds, from its first bytes (extension as a fallback). */
export async function sniffWeightsFile(file: string): Promise<"torch" | "keras-h5"> {
  let head: Buffer;
  try {
    const fh = await open(file, "r");
    try {
      head = Buffer.alloc(8);
      await fh.read(head, 0, 8, 0);
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw new Error(
      `${file}: cannot read the weights file (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  if (head.subarray(0, 8).equals(Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a])))
    return "keras-h5";
  if (head[0] === 0x50 && head[1] === 0x4b) return "torch"; // zip (PyTorch >= 1.6)
  if (head[0] === 0x80) return "torch"; // legacy pickle stream
  const ext = path.extname(file).toLowerCase();
  if (ext === ".h5" || ext === ".hdf5") return "keras-h5";
  if (ext === ".pt" || ext === ".pth" || ext === ".tar") return "torch";
  throw new Error(`${file}: neither a PyTorch checkpoint (.pt) nor a Keras HDF5 file (.h5)`);
}

function parseBnMode(v: string | undefined): ImportOptions["bnMode"] {
  if (v === undefined) return undefined;
  if (v !== "batch-statistics" && v !== "running-statistics") {
    throw new Error(`--bn-mode must be batch-statistics or running-statistics, got ${JSON.stringify(v)}`);
  }
  return v;
}

function parseSpacing(v: string | undefined): [number, number, number] | null {
  if (v === undefined) return null;
  const s = v.split(",").map(Number);
  if (s.length !== 3 || s.some((x) => !(Number.isFinite(x) && x > 0)))
    throw new Error(`--spacing must be three positive mm values x,y,z like 1,1,1, got ${v}`);
  return [s[0], s[1], s[2]];
}

/**
 * `genesis convert <file.pt | file.h5> --out <model dir>`: import official Models Genesis weights
 * (PyTorch zip or legacy `.pt`; Keras weights-only or whole-model `.h5`) and save them as our model
 * directory (`model.json` + weight shards) with the metadata `genesis predict` needs.
 */
export function register(program: Command): void {
  program
    .command("convert")
    .description("Convert official Models Genesis weights (.pt PyTorch, .h5 Keras) into a model directory")
    .argument("<weights>", "PyTorch checkpoint (.pt, zip or legacy serialisation) or Keras HDF5 (.h5)")
    .option("--out <dir>", "output model directory (model.json + weight shards)")
    .option(
      "--onnx <file>",
      "also (or, without --out, only) write the model as ONNX (opset 17, the inference BatchNorm mode; see genesis export)",
    )
    .option(
      "--bn-mode <mode>",
      "BatchNorm statistics at inference: batch-statistics (default for .pt, the reference behaviour) or running-statistics (default for .h5)",
    )
    .option(
      "--head <kind>",
      "segmentation (default: as in the file) or classification (encoder → GAP → 1024 → n)",
    )
    .option("--n-classes <n>", "classes of a new head (default: as in the file, else 1)")
    .option(
      "--spacing <mm>",
      "voxel spacing the model expects, comma-separated mm (x,y,z); stored in the model's preprocessing record",
    )
    .option(
      "--backend <name>",
      "tfjs backend: wasm, cpu or tensorflow (default: GENESIS_BACKEND or the fastest available)",
    )
    .action(async (weights: string, o: Record<string, string | undefined>) => {
      if (o.out === undefined && o.onnx === undefined) {
        throw new Error("convert: give --out <dir> (model directory), --onnx <file.onnx>, or both");
      }
      const bnMode = parseBnMode(o.bnMode);
      const spacing = parseSpacing(o.spacing);
      let head: ImportOptions["head"];
      if (o.head !== undefined || o.nClasses !== undefined) {
        const kind = o.head ?? "segmentation";
        if (kind !== "segmentation" && kind !== "classification") {
          throw new Error(`--head must be segmentation or classification, got ${JSON.stringify(kind)}`);
        }
        const nClasses = o.nClasses === undefined ? undefined : Number(o.nClasses);
        if (nClasses !== undefined && !(Number.isInteger(nClasses) && nClasses > 0)) {
          throw new Error(`--n-classes must be a positive integer, got ${o.nClasses}`);
        }
        head = { kind, nClasses };
      }
      await initBackend({ backend: o.backend, log: () => {} });
      const kind = await sniffWeightsFile(weights);
      const imported: ImportedModel =
        kind === "torch"
          ? await importTorchCheckpoint(weights, { bnMode, head })
          : await importKerasH5(weights, { bnMode, head });
      const { model, provenance } = imported;
      try {
        const a = model.architecture;
        const id =
          a.spatialDims === 2
            ? "genesis-unet2d"
            : a.variant === "torch"
              ? "genesis-unet3d"
              : "genesis-unet3d-keras";
        // Inference BN mode: an explicit --bn-mode, else the documented default for the weights' origin.
        const inferenceBnMode = bnMode ?? defaultInferenceBnMode(provenance);
        // the official weights' record (CT [-1000, 1000] → [0, 1], 64×64×32), with --spacing when given
        const preprocessing = spacing ? { ...imported.preprocessing, spacing } : imported.preprocessing;
        const target = o.out ?? o.onnx;
        if (o.out !== undefined)
          await saveModel(o.out, model, { id, preprocessing, provenance, inferenceBnMode });
        process.stdout.write(
          `${weights} (${provenance.format}) → ${target}: ${id}, width ${a.width}, ${a.head.kind} head (${a.head.nClasses} ${a.head.activation}), ` +
            `BN ${a.bnMode} (inference ${inferenceBnMode}), ${countParams(model).toLocaleString("en-US")} parameters\n`,
        );
        if (o.onnx !== undefined) {
          const metadata = defaultMetadata(model, { id, preprocessing, provenance, inferenceBnMode });
          process.stdout.write(`${await writeModelOnnx(model, metadata, o.onnx)}\n`);
        }
      } finally {
        model.dispose();
      }
    });
}
