import { Rng } from "../rng.js";
import type { FloatImage, Transform } from "../types.js";
import { checkImage } from "../types.js";

/** Params of {@link intensityScaleShift}: output = input · scale + shift. */
export interface ScaleShiftParams {
  scale: number;
  shift: number;
}

/** Options of {@link intensityScaleShift}. */
export interface ScaleShiftOptions {
  /** Uniform range of the multiplicative factor; default [0.9, 1.1]. */
  scale?: readonly [number, number];
  /** Uniform range of the additive offset (units of the [0, 1] intensity); default [−0.1, 0.1]. */
  shift?: readonly [number, number];
  /** Probability of applying; default 1. When skipped, params are scale 1, shift 0. */
  prob?: number;
}

/**
 * Random intensity scale and shift (MONAI `RandScaleIntensity` + `RandShiftIntensity`):
 * v ↦ v · scale + shift, float32 out, no clipping. Intensity-only (skips labels).
 */
export function intensityScaleShift(
  options: ScaleShiftOptions = {},
): Transform<FloatImage, ScaleShiftParams> {
  const { scale = [0.9, 1.1], shift = [-0.1, 0.1], prob = 1 } = options;
  return {
    name: "intensityScaleShift",
    kind: "intensity",
    sample(rng) {
      if (!(rng.random() < prob)) return { scale: 1, shift: 0 };
      return { scale: rng.uniform(scale[0], scale[1]), shift: rng.uniform(shift[0], shift[1]) };
    },
    apply(input, params) {
      checkImage("intensityScaleShift", input);
      const out = new Float32Array(input.data.length);
      const { scale: a, shift: b } = params;
      for (let i = 0; i < out.length; i++) out[i] = input.data[i] * a + b;
      return { ...input, data: out };
    },
  };
}

/** Params of {@link gaussianNoise}: noise standard deviation (0 = not applied) and the noise seed. */
export interface GaussianNoiseParams {
  std: number;
  seed: number;
}

/** Options of {@link gaussianNoise}. */
export interface GaussianNoiseOptions {
  /** Probability of applying; default 0.5 (MONAI `RandGaussianNoise` prob 0.1; raised here for small sets). */
  prob?: number;
  /** Mean of the noise; default 0. */
  mean?: number;
  /** Upper bound of the standard deviation; std is uniform in [0, maxStd]; default 0.02. */
  maxStd?: number;
}

/**
 * Additive Gaussian noise (MONAI `RandGaussianNoise`, sample_std): std uniform in [0, maxStd],
 * noise field expanded deterministically from `params.seed`. Float32 out, no clipping.
 * Intensity-only (skips labels); one draw applied to every key in dictionary form.
 */
export function gaussianNoise(
  options: GaussianNoiseOptions = {},
): Transform<FloatImage, GaussianNoiseParams> {
  const { prob = 0.5, mean = 0, maxStd = 0.02 } = options;
  return {
    name: "gaussianNoise",
    kind: "intensity",
    sample(rng) {
      if (!(rng.random() < prob)) return { std: 0, seed: 0 };
      return { std: rng.uniform(0, maxStd), seed: rng.childSeed() };
    },
    apply(input, params) {
      checkImage("gaussianNoise", input);
      const out = Float32Array.from(input.data);
      if (params.std === 0) return { ...input, data: out };
      const rng = new Rng(params.seed);
      for (let i = 0; i < out.length; i++) out[i] += rng.normal(mean, params.std);
      return { ...input, data: out };
    },
  };
}
