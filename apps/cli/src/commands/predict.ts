import { initBackend } from "@models-genesis/kernels";
import { type GenesisUNet, loadModel, type ModelMetadata } from "@models-genesis/models";
import { readNpy, writeNpy } from "@models-genesis/volume-io";
import * as tf from "@tensorflow/tfjs-core";
import type { Command } from "commander";

/** Options of {@link predictArray}. */
export interface PredictArrayOptions {
  /** Samples per forward pass (default 1). In batch-statistics BN mode the outputs depend on it. */
  batchSize?: number;
  /** `window`: clip to the model's intensity window and scale to its range first; `none`: as is. */
  preprocess?: "none" | "window";
  /** For error messages. */
  source?: string;
}

/**
 * Run a model over an array of cubes.
 * @param x (N, rows, cols, deps) or (N, rows, cols, deps, C) for 3-D models (one spatial axis fewer for 2-D)
 * @returns segmentation (N, rows, cols, deps) for one class, else (N, rows, cols, deps, C);
 *   classification (N, nClasses)
 * @throws Error naming `source` for a wrong rank, channel count or spatial size.
 */
export async function predictArray(
  model: GenesisUNet,
  metadata: ModelMetadata,
  x: { data: ArrayLike<number>; shape: number[] },
  opts: PredictArrayOptions = {},
): Promise<{ data: Float32Array; shape: number[] }> {
  const source = opts.source ?? "input";
  const a = model.architecture;
  const nd = a.spatialDims;
  const axes = nd === 3 ? "(N, rows, cols, deps)" : "(N, rows, cols)";
  let shape = [...x.shape];
  if (shape.length === nd + 1) shape = [...shape, 1];
  if (shape.length !== nd + 2 || shape[nd + 1] !== a.inChannels) {
    throw new Error(
      `${source}: expected an array ${axes} or ${axes.slice(0, -1)}, ${a.inChannels}), got shape (${x.shape.join(", ")})`,
    );
  }
  const spatial = shape.slice(1, nd + 1);
  if (spatial.some((s) => s % 8 !== 0 || s === 0)) {
    throw new Error(`${source}: every spatial size must be a multiple of 8, got (${spatial.join(", ")})`);
  }
  const batchSize = opts.batchSize ?? 1;
  if (!(Number.isInteger(batchSize) && batchSize > 0))
    throw new Error(`--batch-size must be a positive integer, got ${batchSize}`);
  const n = shape[0];
  const per = shape.slice(1).reduce((p, s) => p * s, 1);
  const input = Float32Array.from(x.data as ArrayLike<number>);
  if (opts.preprocess === "window") {
    if (!metadata.intensity) throw new Error(`${source}: the model has no intensity window in its metadata`);
    const [lo, hi] = metadata.intensity.window;
    const [r0, r1] = metadata.intensity.range;
    for (let i = 0; i < input.length; i++) {
      const v = Math.min(hi, Math.max(lo, input[i]));
      input[i] = r0 + ((v - lo) / (hi - lo)) * (r1 - r0);
    }
  }
  const chunks: Float32Array[] = [];
  let outTail: number[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    const y = tf.tidy(() =>
      model.forward(tf.tensor(input.subarray(start * per, (start + b) * per), [b, ...shape.slice(1)]), {
        training: false,
      }),
    );
    outTail = y.shape.slice(1);
    chunks.push((await y.data()) as Float32Array);
    y.dispose();
  }
  const total = chunks.reduce((s, c) => s + c.length, 0);
  const data = new Float32Array(total);
  let o = 0;
  for (const c of chunks) {
    data.set(c, o);
    o += c.length;
  }
  if (a.head.kind === "segmentation" && outTail[outTail.length - 1] === 1) outTail = outTail.slice(0, -1);
  return { data, shape: [n, ...outTail] };
}

/**
 * `genesis predict --model <dir> --in x.npy --out y.npy [--batch-size N]`: run a saved model over
 * an array of cubes (N, rows, cols, deps) and write (N, rows, cols, deps[, C]) float32
 * (classification models: (N, nClasses)).
 */
export function register(program: Command): void {
  program
    .command("predict")
    .description(
      "Run a saved model over a .npy array of cubes (N, rows, cols, deps) → (N, rows, cols, deps[, C])",
    )
    .requiredOption("--model <dir>", "model directory written by `genesis convert` or training")
    .requiredOption(
      "--in <file>",
      "input .npy (N, rows, cols, deps), intensities already in the model's range unless --preprocess window",
    )
    .requiredOption("--out <file>", "output .npy (float32)")
    .option(
      "--batch-size <n>",
      "cubes per forward pass; with batch-statistics BatchNorm the outputs depend on it",
      "1",
    )
    .option("--bn-mode <mode>", "override the model's BatchNorm mode: batch-statistics or running-statistics")
    .option(
      "--preprocess <kind>",
      "none (default) or window: clip to the model's intensity window (e.g. HU [-1000, 1000]) and scale to [0, 1]",
      "none",
    )
    .option(
      "--backend <name>",
      "tfjs backend: wasm, cpu or tensorflow (default: GENESIS_BACKEND or the fastest available)",
    )
    .action(async (o: Record<string, string | undefined>) => {
      const batchSize = Number(o.batchSize);
      if (!(Number.isInteger(batchSize) && batchSize > 0)) {
        throw new Error(`--batch-size must be a positive integer, got ${o.batchSize}`);
      }
      if (o.preprocess !== "none" && o.preprocess !== "window") {
        throw new Error(`--preprocess must be none or window, got ${JSON.stringify(o.preprocess)}`);
      }
      if (o.bnMode !== undefined && o.bnMode !== "batch-statistics" && o.bnMode !== "running-statistics") {
        throw new Error(
          `--bn-mode must be batch-statistics or running-statistics, got ${JSON.stringify(o.bnMode)}`,
        );
      }
      await initBackend({ backend: o.backend, log: () => {} });
      const x = await readNpy(o.in!);
      if (x.data instanceof BigInt64Array || x.data instanceof BigUint64Array) {
        throw new Error(`${o.in}: 64-bit integer arrays are not supported as model input; save float32`);
      }
      const loaded = await loadModel(o.model!);
      let { model } = loaded;
      try {
        if (o.bnMode !== undefined && o.bnMode !== model.architecture.bnMode) {
          model = await withBnMode(model, o.bnMode as GenesisUNet["architecture"]["bnMode"]);
          loaded.model.dispose();
        }
        const t0 = Date.now();
        const y = await predictArray(
          model,
          loaded.metadata,
          x as { data: ArrayLike<number>; shape: number[] },
          {
            batchSize,
            preprocess: o.preprocess,
            source: o.in,
          },
        );
        await writeNpy(o.out!, y);
        process.stdout.write(
          `${o.in} (${x.shape.join("×")}) → ${o.out} (${y.shape.join("×")}), BN ${model.architecture.bnMode}, ` +
            `batch ${batchSize}, ${((Date.now() - t0) / 1000).toFixed(1)} s on ${tf.getBackend()}\n`,
        );
      } finally {
        model.dispose();
      }
    });
}

/** A copy of `model` with another BatchNorm mode (same weights). */
async function withBnMode(
  model: GenesisUNet,
  bnMode: GenesisUNet["architecture"]["bnMode"],
): Promise<GenesisUNet> {
  const { createModel } = await import("@models-genesis/models");
  const copy = createModel({ ...model.architecture, bnMode });
  copy.setWeights(await model.getWeights());
  return copy;
}
