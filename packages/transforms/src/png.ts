import { writeFileAtomic } from "@models-genesis/volume-io";
import { PNG } from "pngjs";
import type { Shape3 } from "./types.js";

/** One row of a slice sheet: an optional label and the volumes shown side by side. */
export interface SliceSheetRow {
  /** Not drawn (no font renderer); for callers that log what each row shows. */
  label?: string;
  /** Float volumes, C order (x, y, z), values shown on a [0, 1] grey scale (clipped). */
  volumes: Float32Array[];
}

/** Options of {@link renderSliceSheet} / {@link writeSliceSheet}. */
export interface SliceSheetOptions {
  /** Shape (x, y, z) of every volume; default (64, 64, 32). */
  shape?: Shape3;
  /** Depth fractions of the slices; default 2/6, 3/6, 4/6, 5/6 (`pytorch/Genesis_Chest_CT.py` sample images). */
  fractions?: readonly number[];
  /** Gap in pixels between tiles; default 2. */
  gap?: number;
  /** Grey value of the background/gap (0–255); default 255 (white). */
  background?: number;
}

/**
 * Render a sheet of axial slices: one row per `rows` entry; in each row, for each depth
 * fraction, the row's volumes side by side (e.g. transformed | original, or
 * transformed | restored | original), slice z = floor(fraction · deps). A slice is drawn with
 * x down and y across. Returns an RGBA PNG (pngjs) ready to encode.
 * @throws Error when a volume's length does not match the shape or no row is given.
 */
export function renderSliceSheet(rows: readonly SliceSheetRow[], options: SliceSheetOptions = {}): PNG {
  const {
    shape = [64, 64, 32],
    fractions = [2 / 6, 3 / 6, 4 / 6, 5 / 6],
    gap = 2,
    background = 255,
  } = options;
  const [nx, ny, nz] = shape;
  if (rows.length === 0) throw new Error("transforms/writeSliceSheet: no rows to draw");
  const perRow = Math.max(...rows.map((r) => r.volumes.length));
  for (const r of rows) {
    for (const v of r.volumes) {
      if (v.length !== nx * ny * nz) {
        throw new Error(
          `transforms/writeSliceSheet: a volume has ${v.length} values, shape [${shape.join(", ")}] needs ${nx * ny * nz}`,
        );
      }
    }
  }
  const tilesAcross = fractions.length * perRow;
  const width = tilesAcross * ny + (tilesAcross - 1) * gap + (fractions.length - 1) * gap * 2;
  const height = rows.length * nx + (rows.length - 1) * gap;
  const png = new PNG({ width, height });
  png.data.fill(background);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  rows.forEach((row, r) => {
    const top = r * (nx + gap);
    fractions.forEach((f, fi) => {
      const z = Math.min(nz - 1, Math.floor(f * nz));
      row.volumes.forEach((vol, vi) => {
        const tile = fi * perRow + vi;
        const left = tile * (ny + gap) + fi * gap * 2;
        for (let x = 0; x < nx; x++) {
          for (let y = 0; y < ny; y++) {
            const v = vol[(x * ny + y) * nz + z];
            const g = Math.round(255 * (v < 0 ? 0 : Math.min(v, 1)));
            const o = ((top + x) * width + left + y) * 4;
            png.data[o] = g;
            png.data[o + 1] = g;
            png.data[o + 2] = g;
          }
        }
      });
    });
  });
  return png;
}

/**
 * Write a slice sheet PNG atomically (temp file + rename); see {@link renderSliceSheet}. Used by
 * `genesis pairs` (transformed | original) and by the trainer's per-epoch samples
 * (transformed | restored | original).
 * @throws Error when the file cannot be written (message names the path).
 */
export async function writeSliceSheet(
  file: string,
  rows: readonly SliceSheetRow[],
  options: SliceSheetOptions = {},
): Promise<void> {
  const bytes = PNG.sync.write(renderSliceSheet(rows, options));
  try {
    await writeFileAtomic(file, bytes);
  } catch (err) {
    throw new Error(`${file}: cannot write PNG (${(err as Error).message})`, { cause: err });
  }
}
