import type { Vec3 } from "@models-genesis/volume-io";
import type { Sample } from "./arrays.js";
import { boxStartAround, cropBox, type Grid, gridStarts, resizeGrid, unravel, voxelsWhere } from "./patch.js";
import type { PyRandom } from "./random.js";

/**
 * Patch sampling for the segmentation tasks (LCS, BMS): windows of `crop` voxels cut from an
 * (image, label) pair and resized to `out` when the two differ (trilinear for the image, nearest for
 * the label — the reference crops 100×100×50 and feeds 64×64×32 for BMS, `bms_config`).
 */
export interface WindowOptions {
  /** Window cut from the volume (voxels, x y z). */
  crop: Vec3;
  /** Model input size; defaults to `crop`. */
  out?: Vec3;
  /** Image value outside the volume (0 = the bottom of the [0, 1] window). */
  imagePad?: number;
}

function cut(
  image: Grid,
  label: Grid,
  start: Vec3,
  opts: WindowOptions,
): { x: Float32Array; y: Float32Array } {
  const out = opts.out ?? opts.crop;
  let x = cropBox(image, start, opts.crop, opts.imagePad ?? 0);
  let y = cropBox(label, start, opts.crop, 0);
  if (out.some((v, i) => v !== opts.crop[i])) {
    x = resizeGrid({ data: x, shape: opts.crop }, out, "linear");
    y = resizeGrid({ data: y, shape: opts.crop }, out, "nearest");
  }
  return { x, y };
}

function checkPair(image: Grid, label: Grid): void {
  if (image.shape.some((v, i) => v !== label.shape[i])) {
    throw new Error(
      `sampling: image ${image.shape.join("×")} and label ${label.shape.join("×")} differ in shape`,
    );
  }
}

/**
 * Draw `n` random windows. Each window, with probability `foregroundRatio`, is centred on a voxel
 * drawn uniformly from the label's foreground (value > 0); otherwise (or when there is no foreground)
 * on a voxel drawn uniformly from the whole volume. Windows are padded at the edges. Draw order per
 * window: `rng.random()` for the choice, then one `randbelow` (foreground) or three `randint` (x, y, z).
 *
 * @returns samples with ids `${idPrefix}@x,y,z` (the window centre in voxels).
 */
export function sampleWindows(
  image: Grid,
  label: Grid,
  opts: WindowOptions & { n: number; foregroundRatio: number; rng: PyRandom; idPrefix: string },
): Sample[] {
  checkPair(image, label);
  const fg = voxelsWhere(label.data, (v) => v > 0);
  const out: Sample[] = [];
  for (let i = 0; i < opts.n; i++) {
    let centre: Vec3;
    if (opts.rng.random() < opts.foregroundRatio && fg.length > 0) {
      centre = unravel(fg[opts.rng.randbelow(fg.length)], image.shape);
    } else {
      centre = [
        opts.rng.randint(0, image.shape[0] - 1),
        opts.rng.randint(0, image.shape[1] - 1),
        opts.rng.randint(0, image.shape[2] - 1),
      ];
    }
    const { x, y } = cut(image, label, boxStartAround(centre, opts.crop), opts);
    out.push({ id: `${opts.idPrefix}@${centre.join(",")}`, x, y });
  }
  return out;
}

/**
 * Tile the whole volume with windows of `crop` (a regular grid; the last window on an axis is flush
 * with the end, a window larger than the axis is padded) — for validation and test, so every voxel
 * is evaluated. Ids are `${idPrefix}#x,y,z` (window start).
 */
export function gridWindows(image: Grid, label: Grid, opts: WindowOptions & { idPrefix: string }): Sample[] {
  checkPair(image, label);
  return gridStarts(image.shape, opts.crop).map((s) => ({
    id: `${opts.idPrefix}#${s.join(",")}`,
    ...cut(image, label, s, opts),
  }));
}
