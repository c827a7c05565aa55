import type { SampleBatch } from "../../callback.js";

/** Column headers of the pretraining sample sheets, in the order {@link sheetRows} puts the volumes. */
export const SAMPLE_SHEET_COLUMNS = ["transformed", "restored", "original"] as const;

/**
 * Rows of a sample sheet: `max` samples of the batch, evenly spaced through it (3-D: cubes; 2-D: the
 * validation slices are cube-major, so spacing them shows several depths instead of a cube's first,
 * often out-painted, slices).
 */
export function sheetRows(sample: SampleBatch, per: number, max = 4): { volumes: Float32Array[] }[] {
  const total = sample.xShape[0];
  const n = Math.min(max, total);
  const rows: { volumes: Float32Array[] }[] = [];
  for (let k = 0; k < n; k++) {
    const i = Math.floor((k * total) / n);
    const s = (a: Float32Array) => a.subarray(i * per, (i + 1) * per);
    rows.push({ volumes: [s(sample.x), s(sample.pred), s(sample.y)] });
  }
  return rows;
}
