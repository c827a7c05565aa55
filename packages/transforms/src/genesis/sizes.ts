import type { Shape3 } from "../types.js";

/**
 * Smallest axis length each Genesis transform accepts. The reference (`pytorch/utils.py`)
 * crashes with `ValueError: empty range for randrange()` below these:
 *
 * - local pixel shuffling: block size `randint(1, d // 10)` needs `d // 10 ≥ 1` → d ≥ 10;
 * - in-painting: position `randint(3, d − s − 3)` with `s` up to `d // 3` needs
 *   `d − d // 3 − 6 ≥ 0` → d ≥ 8 (holds for every d ≥ 8);
 * - out-painting: kept block `s = d − randint(3d // 7, 4d // 7)`, position `randint(3, d − s − 3)`
 *   needs `3d // 7 ≥ 6` → d ≥ 14.
 *
 * Flip and the non-linear transform accept any size.
 */
export const MIN_AXIS = {
  localPixelShuffle: 10,
  inPaint: 8,
  outPaint: 14,
} as const;

/** Throws a clear error when an axis of `shape` is shorter than `min` for transform `name`. */
export function checkMinSize(name: string, shape: Shape3, min: number): void {
  const axes = ["x", "y", "z"];
  for (let a = 0; a < 3; a++) {
    if (shape[a] < min) {
      throw new Error(
        `transforms/${name}: axis ${axes[a]} has ${shape[a]} voxels but ${name} needs at least ${min} per axis (shape [${shape.join(", ")}])`,
      );
    }
  }
}
