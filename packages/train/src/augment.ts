import {
  type AugmentTask,
  augmentationsFor,
  createTransform,
  type Image3D,
  type Rng,
  type Shape3,
  type Transform,
} from "@models-genesis/transforms";
import { TrainError } from "./errors.js";

/**
 * Fine-tuning augmentations: names of registered transforms (`@models-genesis/transforms`
 * registry), optionally with factory options, applied in order; `false` or `[]` = none.
 */
export type AugmentSpec = false | readonly (string | { transform: string; options?: unknown })[];

/**
 * The registry's default augmentations of `task` (`augmentationsFor(task)`): with the built-ins
 * `randFlip` (each axis with probability 0.5) and `randRot90` (`squareSafe`: quarter turns in
 * the (x, y) plane when it is square, half turns otherwise, so shapes never change).
 */
export function defaultAugment(task: AugmentTask): AugmentSpec {
  return augmentationsFor(task).map((a) => ({ transform: a.transform, options: a.options }));
}

/**
 * A per-sample transform for `arrayBatchSource` that augments fine-tuning samples with registered
 * transforms. Each transform's params are drawn **once** per sample from the epoch `rng` (sample
 * order, so deterministic) and applied to every image channel and — for segmentation — every mask
 * channel alike, so masks stay aligned with their images; intensity transforms skip masks (labels
 * are never interpolated). Classification labels pass through.
 *
 * @param spec the transforms (see {@link AugmentSpec}).
 * @param sampleShapeX one image sample, channels last: (X, Y, Z, C) or 2-D (X, Y, C) (treated as
 *   (X, Y, 1) volumes); voxels in C order.
 * @param sampleShapeY (X, Y, Z, K) / (X, Y, K) masks for segmentation, (k) labels for classification.
 * @returns the transform, or `undefined` when `spec` names no transform.
 * @throws TrainError for an unknown transform name, a mask shape that does not match the image's, or
 *   (when run) a transform that changes the sample shape.
 */
export function augmentSamples(
  spec: AugmentSpec,
  task: AugmentTask,
  sampleShapeX: readonly number[],
  sampleShapeY: readonly number[],
): ((x: Float32Array, y: Float32Array, rng: Rng) => { x: Float32Array; y: Float32Array }) | undefined {
  if (spec === false || spec.length === 0) return undefined;
  const transforms = spec.map((s) => {
    const { transform, options } = typeof s === "string" ? { transform: s, options: undefined } : s;
    try {
      return createTransform(transform, options) as Transform<Image3D, unknown>;
    } catch (e) {
      throw new TrainError(`augment: ${(e as Error).message}`);
    }
  });
  if (sampleShapeX.length !== 4 && sampleShapeX.length !== 3) {
    throw new TrainError(`augment: samples must be (X, Y, Z, C) or (X, Y, C), got [${sampleShapeX}]`);
  }
  const spatial = sampleShapeX.slice(0, -1);
  const shape: Shape3 = [spatial[0], spatial[1], spatial[2] ?? 1];
  const c = sampleShapeX[sampleShapeX.length - 1];
  const seg = task === "segmentation";
  const k = seg ? sampleShapeY[sampleShapeY.length - 1] : 0;
  if (seg && (sampleShapeY.length !== sampleShapeX.length || spatial.some((d, i) => d !== sampleShapeY[i]))) {
    throw new TrainError(`augment: masks [${sampleShapeY}] do not match the images [${sampleShapeX}]`);
  }
  return (x, y, rng) => {
    let xs = channels(x, c);
    let ys = seg ? channels(y, k) : [];
    for (const t of transforms) {
      const params = t.sample(rng, shape);
      xs = xs.map((d) => applyKeepingShape(t, { data: d, shape, kind: "intensity" }, params));
      if (t.kind === "spatial")
        ys = ys.map((d) => applyKeepingShape(t, { data: d, shape, kind: "label" }, params));
    }
    return { x: interleave(xs), y: seg ? interleave(ys) : y };
  };
}

function applyKeepingShape(t: Transform<Image3D, unknown>, img: Image3D<Float32Array>, params: unknown) {
  const out = t.apply(img, params);
  if (out.shape[0] !== img.shape[0] || out.shape[1] !== img.shape[1] || out.shape[2] !== img.shape[2]) {
    throw new TrainError(
      `augment: "${t.name}" turned a [${img.shape}] sample into [${out.shape}]; batches need fixed shapes`,
    );
  }
  return out.data instanceof Float32Array ? out.data : Float32Array.from(out.data);
}

/** Split channels-last data into one array per channel. */
function channels(a: Float32Array, n: number): Float32Array[] {
  if (n === 1) return [a];
  const m = a.length / n;
  return Array.from({ length: n }, (_, ch) => {
    const out = new Float32Array(m);
    for (let i = 0; i < m; i++) out[i] = a[i * n + ch];
    return out;
  });
}

/** Inverse of {@link channels}. */
function interleave(cs: Float32Array[]): Float32Array {
  if (cs.length === 1) return cs[0];
  const n = cs.length;
  const out = new Float32Array(cs[0].length * n);
  cs.forEach((a, ch) => {
    for (let i = 0; i < a.length; i++) out[i * n + ch] = a[i];
  });
  return out;
}
