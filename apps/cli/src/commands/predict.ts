import { dirname, resolve } from "node:path";
import { type ForwardEngine, parsePatchSize, predictVolume, tfjsEngine } from "@models-genesis/inference";
import { initBackend } from "@models-genesis/kernels";
import { type GenesisUNet, inferenceBnModeOf, type ModelMetadata } from "@models-genesis/models";
import { assertWritableDir, meanOverSlices, sliceAxial, stackSlices } from "@models-genesis/train";
import {
  collectOneVolume,
  readNpy,
  readVolume,
  type Volume,
  windowIntensity,
  writeNifti,
  writeNpy,
} from "@models-genesis/volume-io";
import * as tf from "@tensorflow/tfjs-core";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { deprecationWarning } from "../lib/cube-options.js";
import { chooseEngine, type EngineChoice, openPredictor, parseExecutionProvider } from "../lib/engine.js";
import { irregularSlicesOption, volumeReadOptions } from "../lib/read-options.js";

/**
 * `genesis predict`'s whole-volume defaults, also used by `genesis finetune --images/--labels` for
 * its whole-volume test score so the two agree: 1 patch per forward pass, overlap 0.5, threshold
 * 0.5, Gaussian blending; the BN mode is the model's documented default ({@link inferenceBnModeOf})
 * and the patch size the model's record's (`metadata.preprocessing.patchSize`).
 */
export const PREDICT_VOLUME_DEFAULTS = Object.freeze({
  batchSize: 1,
  overlap: 0.5,
  threshold: 0.5,
  blend: "gaussian" as const,
});

/** Options of {@link predictArray}. */
export interface PredictArrayOptions {
  /** Samples per forward pass (default 1). In batch-statistics BN mode the outputs depend on it. */
  batchSize?: number;
  /** BatchNorm mode (default: the model's documented inference mode, {@link inferenceBnModeOf}). */
  bnMode?: ModelMetadata["bnMode"];
  /** `window`: clip to the model's intensity window and scale to its range first; `none`: as is. */
  preprocess?: "none" | "window";
  /** For error messages. */
  source?: string;
  /** Forward-pass engine (default: tfjs, `model.forward` with `bnMode`). */
  engine?: ForwardEngine;
}

/**
 * Run a model over an array of cubes.
 *
 * 2-D (slice-wise) models take slices (N, rows, cols[, C]) as they are, and also 3-D cubes
 * (N, rows, cols, deps) with deps ≠ C, or (N, rows, cols, deps, C): each cube's axial slices are
 * predicted (batches of `batchSize` slices) and segmentation slices stacked back into
 * (N, rows, cols, deps[, K]); a classification cube scores the mean of its slices' probabilities
 * (N, nClasses) — the rule the target-task apps use for `scratch-2d` / `genesis-2d`.
 *
 * @param x (N, rows, cols, deps) or (N, rows, cols, deps, C) for 3-D models; for 2-D models
 *   (N, rows, cols[, C]) slices or the cubes above
 * @returns segmentation (N, rows, cols, deps) for one class, else (N, rows, cols, deps, C);
 *   classification (N, nClasses)
 * @throws Error naming `source` for a wrong rank, channel count or spatial size; ModelFileError for
 *   a metadata BN mode that is not batch-statistics or running-statistics.
 */
export async function predictArray(
  model: GenesisUNet | Pick<GenesisUNet, "architecture">,
  metadata: ModelMetadata,
  x: { data: ArrayLike<number>; shape: number[] },
  opts: PredictArrayOptions = {},
): Promise<{ data: Float32Array; shape: number[] }> {
  const a = model.architecture;
  const s = x.shape;
  const cubes =
    a.spatialDims === 2 &&
    (s.length === 5 || (s.length === 4 && s[3] !== a.inChannels && a.inChannels === 1));
  if (!cubes) return predictArrayAsIs(model, metadata, x, opts);
  const C = s.length === 5 ? s[4] : 1;
  if (C !== a.inChannels) {
    throw new Error(
      `${opts.source ?? "input"}: expected cubes (N, rows, cols, deps) or (N, rows, cols, deps, ${a.inChannels}) for this 2-D model, got shape (${s.join(", ")})`,
    );
  }
  const [n, rows, cols, deps] = s;
  const cube: [number, number, number] = [rows, cols, deps];
  const slices = sliceAxial(Float32Array.from(x.data), n, cube, C);
  const y = await predictArrayAsIs(model, metadata, { data: slices, shape: [n * deps, rows, cols, C] }, opts);
  if (a.head.kind === "classification") {
    const k = y.shape[1];
    return { data: meanOverSlices(y.data, n, deps, k), shape: [n, k] };
  }
  const K = a.head.nClasses;
  return {
    data: stackSlices(y.data, n, cube, K),
    shape: K === 1 ? [n, rows, cols, deps] : [n, rows, cols, deps, K],
  };
}

/** {@link predictArray} for input in the model's own layout (cubes for 3-D models, slices for 2-D). */
async function predictArrayAsIs(
  model: GenesisUNet | Pick<GenesisUNet, "architecture">,
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
  const bnMode = opts.bnMode ?? inferenceBnModeOf(metadata).mode;
  const n = shape[0];
  const per = shape.slice(1).reduce((p, s) => p * s, 1);
  // the one windowing function (whole-volume prediction uses it too), with the model's record; a copy either way
  const p = metadata.preprocessing;
  const input =
    opts.preprocess === "window"
      ? windowIntensity(x.data as ArrayLike<number>, p.window, { range: p.range, source })
      : Float32Array.from(x.data as ArrayLike<number>);
  if (!opts.engine && !("forward" in model))
    throw new Error("predictArray: give a GenesisUNet, or opts.engine");
  const engine = opts.engine ?? tfjsEngine(model as GenesisUNet, bnMode);
  const chunks: Float32Array[] = [];
  let outTail: number[] =
    a.head.kind === "classification" ? [a.head.nClasses] : [...spatial, a.head.nClasses];
  for (let start = 0; start < n; start += batchSize) {
    const b = Math.min(batchSize, n - start);
    chunks.push(await engine.forward(input.subarray(start * per, (start + b) * per), [b, ...shape.slice(1)]));
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
 * `genesis predict`, two modes:
 * - array: `genesis predict --model <dir> --in x.npy --out y.npy [--batch-size N]` runs a saved
 *   model over an array of cubes (N, rows, cols, deps) and writes (N, rows, cols, deps[, C])
 *   float32 (classification models: (N, nClasses)); a 2-D model predicts cubes slice by slice
 *   (see {@link predictArray}) or takes slices (N, rows, cols);
 * - volume: `genesis predict --model <dir> <volume> --out <mask.nii.gz> [--probabilities]
 *   [--threshold 0.5] [--overlap 0.5] [--patch-size XxYxZ]` segments a whole volume (NIfTI, MetaImage,
 *   DICOM folder, .npy) with {@link predictVolume} and writes NIfTI in the input's geometry.
 */
export function register(program: Command): void {
  const cmd = program
    .command("predict")
    .description(
      "Segment a whole volume (NIfTI/MetaImage/DICOM → NIfTI mask in the input's geometry) or run a model over a .npy array of cubes (--in)",
    )
    .argument("[volume]", "volume to segment: .nii(.gz), .mhd/.mha, a DICOM folder or file, or .npy")
    .requiredOption(
      "--model <dir|file.onnx>",
      "model directory written by `genesis convert` or training, or an .onnx file from `genesis export` (onnx engine)",
    )
    .option(
      "--in <file>",
      "array mode: input .npy (N, rows, cols, deps) (2-D models: cubes predicted slice by slice, or slices (N, rows, cols)), intensities already in the model's range unless --preprocess window",
    )
    .requiredOption(
      "--out <file>",
      "volume mode: output .nii or .nii.gz (uint8 labels, or float32 with --probabilities); array mode: output .npy (float32)",
    )
    .option(
      "--batch-size <n>",
      "cubes/patches per forward pass; with batch-statistics BatchNorm the outputs depend on it",
      String(PREDICT_VOLUME_DEFAULTS.batchSize),
    )
    .option(
      "--bn-mode <mode>",
      "BatchNorm mode: batch-statistics or running-statistics (default: the model metadata's inferenceBnMode; models saved without it: their bnMode)",
    )
    .option(
      "--preprocess <kind>",
      "array mode: none (default) or window: clip to the model's intensity window (e.g. HU [-1000, 1000]) and scale to [0, 1]",
      "none",
    )
    .option("--probabilities", "volume mode: write float32 probabilities instead of a label map")
    .option(
      "--allow-restoration",
      "volume mode: run a restoration model from genesis pretrain (refused by default: its output is a restored volume, not a mask) and write the float32 restored volume",
    )
    .option(
      "--threshold <p>",
      "volume mode: probability ≥ p → label 1 (softmax heads: argmax)",
      String(PREDICT_VOLUME_DEFAULTS.threshold),
    )
    .option(
      "--overlap <f>",
      "volume mode: fraction in [0, 1) shared by neighbouring patches",
      String(PREDICT_VOLUME_DEFAULTS.overlap),
    )
    .option(
      "--patch-size <XxYxZ>",
      "volume mode: patch size in voxels (x, y, z), multiples of 8 (default: the model's preprocessing record, e.g. 64x64x32)",
    )
    .option("--patch <XxYxZ>", "deprecated alias of --patch-size")
    .option(
      "--blend <mode>",
      "volume mode: gaussian (default) or constant patch weights",
      PREDICT_VOLUME_DEFAULTS.blend,
    )
    .option(
      "--engine <name>",
      "onnx (ONNX Runtime, onnxruntime-node) or tfjs (TensorFlow.js); default onnx when onnxruntime-node loads, else tfjs",
    )
    .option("--ep <provider>", "onnx engine: execution provider cpu (default), cuda or tensorrt")
    .option(
      "--backend <name>",
      "tfjs engine: tensorflow | webgpu | wasm | cpu (default: fastest available; env GENESIS_BACKEND)",
    );
  irregularSlicesOption(cmd).action(
    async (volumePath: string | undefined, o: Record<string, string | boolean | undefined>) => {
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
      if (volumePath !== undefined && o.in !== undefined) {
        throw new Error("give either a volume (whole-volume mode) or --in <file.npy> (array mode), not both");
      }
      if (volumePath === undefined && o.in === undefined) {
        throw new Error("nothing to predict: give a volume path, or --in <file.npy> for an array of cubes");
      }
      const ep = parseExecutionProvider(o.ep);
      const choice = await chooseEngine(o.engine);
      const out = String(o.out);
      // the folder of --out is created (and checked writable) before any work, and named on failure
      assertWritableDir(dirname(resolve(out)), `--out ${out}: its folder`);
      if (volumePath !== undefined) {
        await runVolumeMode(volumePath, out, o, batchSize, choice, ep);
        return;
      }
      const inFile = String(o.in);
      await initBackend({ backend: o.backend as string | undefined, log: () => {} });
      const x = await readNpy(inFile);
      if (x.data instanceof BigInt64Array || x.data instanceof BigUint64Array) {
        throw new Error(`${inFile}: 64-bit integer arrays are not supported as model input; save float32`);
      }
      // array mode keeps stderr for errors only: its one summary line names the engine
      const loaded = await openPredictor(
        String(o.model),
        choice,
        ep,
        o.bnMode as ModelMetadata["bnMode"] | undefined,
      );
      const { model, bn, engine } = loaded;
      try {
        // array mode writes the raw float32 outputs: for a restoration model the restored cubes
        const t0 = Date.now();
        const y = await predictArray(
          model,
          loaded.metadata,
          x as { data: ArrayLike<number>; shape: number[] },
          {
            batchSize,
            bnMode: bn.mode,
            preprocess: o.preprocess,
            source: inFile,
            engine,
          },
        );
        await writeNpy(out, y);
        process.stdout.write(
          `${inFile} (${x.shape.join("×")}) → ${out} (${y.shape.join("×")}), BN ${bn.text}, ` +
            `batch ${batchSize}, ${((Date.now() - t0) / 1000).toFixed(1)} s on ${engineText(engine)} (${choice.note})\n`,
        );
      } finally {
        await loaded.close();
      }
    },
  );
}

/**
 * A restoration model from `genesis pretrain` (`metadata.extra.pretraining`) restores corrupted
 * intensities: its sigmoid output is no segmentation, and a mask thresholded from it is
 * meaningless. Whole-volume mode refuses it unless `allow` (`--allow-restoration`), and then writes
 * its float32 output (the restored volume); array mode (`--in`) writes raw outputs anyway.
 * @throws Error, one line naming the model, without `allow`.
 */
export function refuseRestorationModel(modelPath: string, metadata: ModelMetadata, allow: boolean): void {
  const extra = metadata.extra as Record<string, unknown> | undefined;
  if (allow || !extra || extra.pretraining === undefined || extra.pretraining === null) return;
  throw new Error(
    `--model ${modelPath}: a restoration model from genesis pretrain (metadata.extra.pretraining), not a segmentation model: fine-tune it first (genesis finetune --init ${modelPath} …), or pass --allow-restoration to write its restored volume`,
  );
}

/** `onnx: onnxruntime-node 1.30.0 (cpu)` or `tfjs: wasm`. */
function engineText(e: ForwardEngine): string {
  return e.name === "tfjs" ? `tfjs (${tf.getBackend()})` : e.description;
}

/** `genesis predict --model <dir> <volume> --out <mask.nii.gz>`: see {@link predictVolume}. */
async function runVolumeMode(
  volumePath: string,
  out: string,
  o: Record<string, string | boolean | undefined>,
  batchSize: number,
  choice: EngineChoice,
  ep: ReturnType<typeof parseExecutionProvider>,
): Promise<void> {
  const low = out.toLowerCase();
  if (!low.endsWith(".nii") && !low.endsWith(".nii.gz")) {
    throw new Error(
      `--out ${out}: whole-volume predictions are written as NIfTI; the name must end in .nii or .nii.gz`,
    );
  }
  const threshold = Number(o.threshold);
  if (!Number.isFinite(threshold))
    throw new Error(`--threshold must be a number, got ${JSON.stringify(o.threshold)}`);
  const overlap = Number(o.overlap);
  if (!(overlap >= 0 && overlap < 1))
    throw new Error(`--overlap must be in [0, 1), got ${JSON.stringify(o.overlap)}`);
  if (o.blend !== "gaussian" && o.blend !== "constant") {
    throw new Error(`--blend must be gaussian or constant, got ${JSON.stringify(o.blend)}`);
  }
  if (typeof o.patch === "string") {
    if (typeof o.patchSize === "string")
      throw new Error("--patch is a deprecated alias of --patch-size; give only --patch-size");
    process.stderr.write(`${deprecationWarning("predict", "--patch", "--patch-size")}\n`);
  }
  const patchText = typeof o.patchSize === "string" ? o.patchSize : o.patch;
  const patchSize =
    typeof patchText === "string"
      ? parsePatchSize(patchText, typeof o.patchSize === "string" ? "--patch-size" : "--patch")
      : undefined;
  const readOptions = volumeReadOptions(o);
  await initBackend({ backend: o.backend as string | undefined, log: () => {} });
  let vol: Volume;
  try {
    // the one input collection of every command: a file, or a folder holding exactly one volume
    vol = await readVolume((await collectOneVolume(volumePath)).path, readOptions);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    throw new Error(msg.includes(volumePath) ? msg : `${volumePath}: ${msg}`);
  }
  const loaded = await openPredictor(
    String(o.model),
    choice,
    ep,
    o.bnMode as ModelMetadata["bnMode"] | undefined,
  );
  const { model, bn, engine } = loaded;
  const progress = new PatchProgress(process.stderr);
  try {
    refuseRestorationModel(String(o.model), loaded.metadata, o.allowRestoration === true);
    // a restoration model's output is a restored volume: written as float32, never thresholded
    const restoration = (loaded.metadata.extra as Record<string, unknown> | undefined)?.pretraining != null;
    process.stderr.write(`genesis predict: engine ${engineText(engine)} (${choice.note})\n`);
    const t0 = Date.now();
    const { volume: y, info } = await predictVolume(model, loaded.metadata, vol, {
      batchSize,
      overlap,
      threshold,
      patchSize,
      blend: o.blend,
      bnMode: bn.mode,
      output: o.probabilities || restoration ? "probabilities" : "labels",
      source: volumePath,
      engine,
      onProgress: (done, total) => progress.update(done, total),
    });
    progress.stop();
    await writeNifti(out, y);
    const seconds = (Date.now() - t0) / 1000;
    let summary = "";
    if (y.kind === "label") {
      let fg = 0;
      for (let i = 0; i < y.data.length; i++) if (y.data[i] > 0) fg++;
      summary = `, ${fg} foreground voxels`;
    }
    process.stdout.write(
      `${volumePath} (${vol.shape.join("×")}, ${vol.spacing.map((s) => s.toFixed(2)).join("×")} mm) → ${out} ` +
        `(${y.kind === "label" ? "uint8 labels" : restoration ? "float32 restored volume" : `float32 probabilities, ${y.channels} channel(s)`}${summary}); ` +
        `${info.patches} patches ${info.patchSize.join("×")} on a ${info.modelGridShape.join("×")} grid` +
        `${info.reoriented ? ` in ${info.preprocessing.orientation}` : ""}` +
        `${info.preprocessing.spacing && info.resampled ? ` at ${info.preprocessing.spacing.join("×")} mm` : ""}` +
        `${info.preprocessing.resize && info.resampled ? ` scaled by ${info.preprocessing.resize.join("×")}` : ""}, ` +
        `${info.preprocessing.modality} window [${info.preprocessing.window.join(", ")}] → [${info.preprocessing.range.join(", ")}], overlap ${overlap}, ` +
        `batch ${batchSize}, BN ${bn.text}, ${seconds.toFixed(1)} s on ${engineText(engine)}\n`,
    );
  } finally {
    progress.stop();
    await loaded.close();
  }
}

/** Patch progress: a cli-progress bar on a TTY, otherwise a plain line about every 10 %. */
class PatchProgress {
  private bar?: cliProgress.SingleBar;
  private lastTenth = -1;
  constructor(private readonly stream: NodeJS.WriteStream) {}

  update(done: number, total: number): void {
    if (this.stream.isTTY) {
      if (!this.bar) {
        this.bar = new cliProgress.SingleBar(
          {
            stream: this.stream,
            format: "predict |{bar}| {value}/{total} patches | ETA {eta_formatted}",
            hideCursor: true,
            clearOnComplete: true,
          },
          cliProgress.Presets.shades_classic,
        );
        this.bar.start(total, 0);
      }
      this.bar.update(done);
      return;
    }
    const tenth = Math.floor((10 * done) / total);
    if (tenth <= this.lastTenth) return;
    this.lastTenth = tenth;
    this.stream.write(`predict: ${done}/${total} patches\n`);
  }

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
