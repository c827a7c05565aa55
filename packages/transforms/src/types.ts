import type { VolumeKind, VoxelArray } from "@models-genesis/volume-io";
import type { Rng } from "./rng.js";

/** A spatial shape `(x, y, z)` = (rows, cols, deps) in voxels. */
export type Shape3 = readonly [number, number, number];

/**
 * A single-channel 3-D image: voxels in C order over `(x, y, z)` (z fastest), the layout of a
 * NumPy `(64, 64, 32)` cube and of `Volume.data` (`@models-genesis/volume-io`). A `Volume` is
 * structurally an `Image3D`; transforms return `{ ...input, data, shape }`, so extra fields
 * (geometry, meta) are carried along unchanged (augmentations act in voxel space).
 */
export interface Image3D<T extends VoxelArray = VoxelArray> {
  readonly data: T;
  readonly shape: Shape3;
  /** `label` images are skipped by intensity transforms and never interpolated. Default `intensity`. */
  readonly kind?: VolumeKind;
}

/** A float32 image, the input of Genesis transforms (values in [0, 1] after HU windowing). */
export type FloatImage = Image3D<Float32Array>;

/** One applied transform as recorded in a history: its registered name and its params. */
export interface AppliedTransform {
  readonly name: string;
  readonly params: unknown;
}

/**
 * A transform, split TorchIO/MONAI style into a random part and a deterministic part:
 *
 * - `sample(rng, shape)` draws every random parameter (all randomness lives here, from the
 *   explicit `rng`), given the spatial shape `(x, y, z)` of the input;
 * - `apply(input, params)` is pure and deterministic: same input + params → same output.
 *
 * Bulk randomness (noise fields, per-block permutations) is represented in the params by a
 * 32-bit seed that `apply` expands deterministically, so params stay small and replayable.
 *
 * `X` is what the transform acts on: an {@link Image3D} for array transforms, a
 * {@link Subject} (dictionary of images) for dictionary transforms (see `dictionary.ts`).
 */
export interface Transform<X, P = unknown> {
  /** Registered name (see `registry.ts`), used in histories. */
  readonly name: string;
  /** `intensity` transforms change values only and skip label images; `spatial` ones move voxels. */
  readonly kind: "intensity" | "spatial";
  sample(rng: Rng, shape: Shape3): P;
  apply(input: X, params: P): X;
  /** Output spatial shape for the given input shape and params; identity when absent. */
  outputShape?(shape: Shape3, params: P): Shape3;
  /**
   * Spatial transforms: undo `apply(·, params)` on an output (e.g. map a prediction back to the
   * input grid; MONAI `InvertibleTransform`, TorchIO `inverse`). Absent when not invertible;
   * intensity transforms are skipped by `compose`'s inverse.
   */
  inverse?(output: X, params: P): X;
  /** The applied leaf transforms for these params (combinators expand; default `[{name, params}]`). */
  history?(params: P): AppliedTransform[];
  /**
   * Optional allocation-free fast path for shape-keeping transforms of float32 images: write
   * `apply({ data: src, shape }, params).data` into `dst` (same length as `src`, C order over
   * `shape` (x, y, z)). `src` and `dst` **may be the same array** (in place). The Genesis pair
   * (`applyGenesisPairInto`) uses it when present and falls back to `apply` + copy otherwise; the
   * result must be byte-identical to `apply`'s.
   */
  applyInto?(src: Float32Array, dst: Float32Array, shape: Shape3, params: P): void;
}

/** A dictionary of co-registered images with the same spatial shape, e.g. `{ image, label }`. */
export type Subject = Readonly<Record<string, Image3D>>;

/** Product of a shape's entries (voxel count). */
export function numel(shape: Shape3): number {
  return shape[0] * shape[1] * shape[2];
}

/** Throws unless `image.data.length` equals the product of `image.shape`. */
export function checkImage(op: string, image: Image3D): void {
  const s = image.shape;
  if (s.length !== 3 || s.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new Error(
      `transforms/${op}: shape must be three positive integers (x, y, z), got [${s.join(", ")}]`,
    );
  }
  if (image.data.length !== numel(s)) {
    throw new Error(
      `transforms/${op}: data length ${image.data.length} does not match shape [${s.join(", ")}] (${numel(s)} voxels)`,
    );
  }
}
