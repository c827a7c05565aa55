import { predictVolume } from "@models-genesis/inference";
import { binaryConfusion, diceFromConfusion, iouFromConfusion } from "@models-genesis/metrics";
import { inferenceBnModeOf, type ModelMetadata } from "@models-genesis/models";
import { readVolume } from "@models-genesis/volume-io";
import { PREDICT_VOLUME_DEFAULTS } from "../commands/predict.js";
import { chooseEngine, openPredictor } from "./engine.js";
import { volumeReadOptions } from "./read-options.js";
import type { VolumePair } from "./segmentation-data.js";

/** Voxel counts of one test volume: predicted foreground, label foreground, and their overlap. */
export interface VolumeOverlap {
  id: string;
  /** Voxels predicted 1. */
  predicted: number;
  /** Voxels with label > 0. */
  truth: number;
  /** Voxels in both. */
  intersection: number;
  /** This volume's Dice 2·|P∩G| / (|P| + |G|) (1 when both are empty). */
  dice: number;
}

/** What {@link scoreWholeVolumes} measured. */
export interface WholeVolumeScore {
  /** Pooled Dice: 2·Σ|P∩G| / (Σ|P| + Σ|G|) over the test volumes (1 when all are empty). */
  dice: number;
  /** Pooled IoU: Σ|P∩G| / Σ|P∪G| over the test volumes (1 when all are empty). */
  iou: number;
  /** How the numbers are computed, in words (written into finetune.json). */
  method: string;
  /** BatchNorm mode of the forward passes and where it came from (metadata or the old-model fallback). */
  bnMode: ModelMetadata["bnMode"];
  bnModeSource: "metadata" | "fallback";
  /** Engine of the forward passes, predict's default (e.g. `onnxruntime-node 1.30.0 (cpu)` or `tfjs`). */
  engine: string;
  /** `genesis predict`'s defaults used: patches per forward pass, overlap, threshold, blending. */
  batchSize: number;
  overlap: number;
  threshold: number;
  blend: "gaussian" | "constant";
  /** Patch size (x, y, z) the windows had (the model metadata's). */
  patchSize: number[];
  volumes: VolumeOverlap[];
}

/**
 * The test score exactly as `genesis predict` would give it: every test volume is read as predict
 * reads it, segmented whole by `predictVolume` with predict's defaults ({@link PREDICT_VOLUME_DEFAULTS};
 * BN mode and patch size from the saved model's metadata; predict's default engine, ONNX Runtime
 * when onnxruntime-node loads, else tfjs) into a uint8 label map in the image's
 * geometry, and compared with its label volume binarised at > 0. Dice and IoU are pooled over the
 * volumes (sums of intersections over sums of sizes), not averaged per volume.
 *
 * @param modelDir the saved model directory (`finetune`'s OUT/model)
 * @param pairs the (image, label) pairs; `ids` picks the test cases among them
 * @param log one line per volume
 * @throws Error naming the file for an unknown id, an unreadable volume, or a label whose shape
 *   differs from its image's; whatever `predictVolume` throws.
 */
export async function scoreWholeVolumes(
  modelDir: string,
  pairs: readonly VolumePair[],
  ids: readonly string[],
  log: (line: string) => void = () => {},
): Promise<WholeVolumeScore> {
  const byId = new Map(pairs.map((p) => [p.id, p]));
  const predictor = await openPredictor(modelDir, await chooseEngine(undefined), "cpu", undefined);
  const { model, metadata, engine } = predictor;
  const bn = inferenceBnModeOf(metadata);
  const d = PREDICT_VOLUME_DEFAULTS;
  const volumes: VolumeOverlap[] = [];
  let patchSize: number[] = [];
  try {
    for (const [k, id] of ids.entries()) {
      const p = byId.get(id);
      if (!p) throw new Error(`no volume pair with id ${id}`);
      const image = await readVolume(p.image, volumeReadOptions({}));
      const label = await readVolume(p.label, { ...volumeReadOptions({}), kind: "label" });
      if (label.shape.join() !== image.shape.join() || label.channels !== 1) {
        throw new Error(
          `${p.label}: label shape (${label.shape.join(", ")}) × ${label.channels} channel(s) does not match the image ${p.image} (${image.shape.join(", ")})`,
        );
      }
      const { volume: y, info } = await predictVolume(model, metadata, image, {
        batchSize: d.batchSize,
        overlap: d.overlap,
        threshold: d.threshold,
        blend: d.blend,
        bnMode: bn.mode,
        output: "labels",
        source: p.image,
        engine,
      });
      patchSize = [...info.patchSize];
      // label map (0/1) against label > 0: the metrics package's counts with threshold 0
      const c = binaryConfusion(y.data, label.data, 0);
      const dice = diceFromConfusion(c, "one");
      volumes.push({ id, predicted: c.tp + c.fp, truth: c.tp + c.fn, intersection: c.tp, dice });
      log(`whole-volume test [${k + 1}/${ids.length}] ${id}: Dice ${dice.toFixed(4)}`);
    }
  } finally {
    await predictor.close();
  }
  const sum = (f: (v: VolumeOverlap) => number) => volumes.reduce((s, v) => s + f(v), 0);
  const tp = sum((v) => v.intersection);
  const pooled = { tp, fp: sum((v) => v.predicted) - tp, fn: sum((v) => v.truth) - tp, tn: 0 };
  return {
    dice: diceFromConfusion(pooled, "one"),
    iou: iouFromConfusion(pooled, "one"),
    method:
      "genesis predict's whole-volume segmentation of each test volume (predictVolume with predict's defaults), " +
      "label > 0 as truth; Dice = 2·Σ|P∩G| / (Σ|P| + Σ|G|), IoU = Σ|P∩G| / Σ|P∪G|, pooled over the volumes",
    bnMode: bn.mode,
    bnModeSource: bn.source,
    engine: engine.name === "tfjs" ? "tfjs" : engine.description,
    batchSize: d.batchSize,
    overlap: d.overlap,
    threshold: d.threshold,
    blend: d.blend,
    patchSize,
    volumes,
  };
}
