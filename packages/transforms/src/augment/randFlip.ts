import { flip3d } from "../genesis/flip.js";
import type { Image3D, Transform } from "../types.js";
import { checkImage } from "../types.js";

/** Params of {@link randFlip}: whether each spatial axis (x, y, z) is flipped. */
export interface RandFlipParams {
  axes: [boolean, boolean, boolean];
}

/** Options of {@link randFlip}. */
export interface RandFlipOptions {
  /** Probability of flipping each allowed axis independently; default 0.5 (MONAI `RandFlip` prob). */
  prob?: number;
  /** Spatial axes that may flip (0 = x, 1 = y, 2 = z); default all three. */
  axes?: readonly number[];
}

/**
 * Random flips for fine-tuning (MONAI `RandFlipd`, TorchIO `RandomFlip`): each allowed axis
 * flips independently with probability `prob` (one `random()` per allowed axis, in axis order).
 * Spatial: applied to every key, labels included. Shape kept; any voxel type. Its own inverse.
 */
export function randFlip(options: RandFlipOptions = {}): Transform<Image3D, RandFlipParams> {
  const { prob = 0.5, axes = [0, 1, 2] } = options;
  return {
    name: "randFlip",
    kind: "spatial",
    sample(rng) {
      const f: [boolean, boolean, boolean] = [false, false, false];
      for (const a of axes) f[a] = rng.random() < prob;
      return { axes: f };
    },
    apply(input, params) {
      checkImage("randFlip", input);
      return { ...input, data: flip3d(input.data, input.shape, params.axes) };
    },
    inverse(output, params) {
      return { ...output, data: flip3d(output.data, output.shape, params.axes) };
    },
  };
}
