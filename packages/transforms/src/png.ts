import { writeFileAtomic } from "@models-genesis/volume-io";
import { PNG } from "pngjs";
import { drawText, FONT_GLYPH_HEIGHT, textWidth } from "./font5x7.js";
import type { Shape3 } from "./types.js";

/** One row of a slice sheet: an optional label and the volumes shown side by side. */
export interface SliceSheetRow {
  /** Not drawn (the column headers are, see {@link SliceSheetOptions.columns}); for callers that log what each row shows. */
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
  /**
   * Column headers, one per volume of a row (e.g. `["transformed", "restored", "original"]`), drawn
   * as text above every tile of that volume with the built-in 5×7 font (`font5x7.ts`); none by default.
   */
  columns?: readonly string[];
  /**
   * Integer image pixels per voxel. Default: the smallest that makes every panel at least `minPanel`
   * pixels wide and tall and, with `columns`, wide enough for the longest header at twice the font size.
   */
  scale?: number;
  /** Smallest panel side in pixels for the default `scale`; default 128. */
  minPanel?: number;
  /** Gap in pixels between tiles (twice that between depth groups); default 4. */
  gap?: number;
  /** Grey value of the background/gap (0–255); default 255 (white). Headers are black on a light background, white on a dark one. */
  background?: number;
}

/** The layout {@link renderSliceSheet} uses: pixels per voxel, header text scale and header height. */
export interface SliceSheetLayout {
  /** Image pixels per voxel. */
  readonly scale: number;
  /** Panel (one slice) width × height in pixels: (cols·scale) × (rows·scale). */
  readonly panel: readonly [number, number];
  /** Font pixel size of the headers (1–3; 0 without headers). */
  readonly textScale: number;
  /** Height in pixels of the header band above the first row (0 without headers). */
  readonly headerHeight: number;
}

/**
 * The layout of a sheet of volumes of `shape` (see {@link SliceSheetOptions.scale}).
 * @throws RangeError when `scale` or `minPanel` is not a positive integer.
 */
export function sliceSheetLayout(shape: Shape3, options: SliceSheetOptions = {}): SliceSheetLayout {
  const [nx, ny] = shape;
  const minPanel = options.minPanel ?? 128;
  if (!Number.isInteger(minPanel) || minPanel < 1)
    throw new RangeError(`transforms/writeSliceSheet: minPanel must be a positive integer, got ${minPanel}`);
  const columns = options.columns ?? [];
  const longest = Math.max(0, ...columns.map((c) => textWidth(c, 1)));
  let scale =
    options.scale ?? Math.max(1, Math.ceil(minPanel / Math.min(nx, ny)), Math.ceil((2 * longest + 2) / ny));
  if (!Number.isInteger(scale) || scale < 1)
    throw new RangeError(`transforms/writeSliceSheet: scale must be a positive integer, got ${scale}`);
  scale = Math.floor(scale);
  const pw = ny * scale;
  const textScale = columns.length === 0 ? 0 : ([3, 2, 1].find((t) => longest * t <= pw - 2) ?? 1);
  const headerHeight = textScale === 0 ? 0 : (FONT_GLYPH_HEIGHT + 6) * textScale;
  return { scale, panel: [pw, nx * scale], textScale, headerHeight };
}

/**
 * Render a sheet of axial slices: one row per `rows` entry; in each row, for each depth
 * fraction, the row's volumes side by side (e.g. transformed | original, or
 * transformed | restored | original), slice z = floor(fraction · deps). A slice is drawn with
 * x down and y across, each voxel a `scale` × `scale` square ({@link sliceSheetLayout}: by default
 * panels of at least 128 px). With `columns`, a header band on top names each tile's volume,
 * centred over the tile (a header wider than its tile keeps only the characters that fit).
 * Size: width = tiles·(cols·scale) + (tiles − 1)·gap + (fractions − 1)·2·gap, tiles = fractions ×
 * volumes per row; height = header + rows·(rows·scale) + (rows − 1)·gap. Returns an RGBA PNG
 * (pngjs) ready to encode.
 * @throws Error when a volume's length does not match the shape or no row is given; RangeError for
 *   a bad `scale` / `minPanel`.
 */
export function renderSliceSheet(rows: readonly SliceSheetRow[], options: SliceSheetOptions = {}): PNG {
  const {
    shape = [64, 64, 32],
    fractions = [2 / 6, 3 / 6, 4 / 6, 5 / 6],
    gap = 4,
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
  const { scale, panel, textScale, headerHeight } = sliceSheetLayout(shape, options);
  const [pw, ph] = panel;
  const tilesAcross = fractions.length * perRow;
  const width = tilesAcross * pw + (tilesAcross - 1) * gap + (fractions.length - 1) * gap * 2;
  const height = headerHeight + rows.length * ph + (rows.length - 1) * gap;
  const png = new PNG({ width, height });
  png.data.fill(background);
  for (let i = 3; i < png.data.length; i += 4) png.data[i] = 255;
  const tileLeft = (fi: number, vi: number) => (fi * perRow + vi) * (pw + gap) + fi * gap * 2;
  if (textScale > 0) {
    const ink = background >= 128 ? 0 : 255;
    fractions.forEach((_, fi) => {
      (options.columns ?? []).slice(0, perRow).forEach((label, vi) => {
        let text = label;
        while (text.length > 0 && textWidth(text, textScale) > pw) text = text.slice(0, -1);
        const left = tileLeft(fi, vi) + Math.floor((pw - textWidth(text, textScale)) / 2);
        drawText(png.data, width, text, left, 3 * textScale, textScale, ink);
      });
    });
  }
  rows.forEach((row, r) => {
    const top = headerHeight + r * (ph + gap);
    fractions.forEach((f, fi) => {
      const z = Math.min(nz - 1, Math.floor(f * nz));
      row.volumes.forEach((vol, vi) => {
        const left = tileLeft(fi, vi);
        for (let x = 0; x < nx; x++) {
          for (let y = 0; y < ny; y++) {
            const v = vol[(x * ny + y) * nz + z];
            const g = Math.round(255 * (v < 0 ? 0 : Math.min(v, 1)));
            for (let dx = 0; dx < scale; dx++) {
              let o = ((top + x * scale + dx) * width + left + y * scale) * 4;
              for (let dy = 0; dy < scale; dy++, o += 4) {
                png.data[o] = g;
                png.data[o + 1] = g;
                png.data[o + 2] = g;
              }
            }
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
