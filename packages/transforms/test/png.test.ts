// @vitest-environment node
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { drawText, renderSliceSheet, sliceSheetLayout, textWidth, writeSliceSheet } from "../src/index.js";

/** Non-background (not white) pixels of `png` in columns [x0, x1) and rows [y0, y1). */
function ink(png: PNG, x0: number, x1: number, y0: number, y1: number): number {
  let n = 0;
  for (let y = y0; y < y1; y++)
    for (let x = x0; x < x1; x++) if (png.data[(y * png.width + x) * 4] !== 255) n++;
  return n;
}

describe("slice sheets", () => {
  const a = new Float32Array(131072).fill(0.2);
  const b = new Float32Array(131072);
  // mark slice z = floor(2/6 · 32) = 10 of b at (x=3, y=4)
  b[(3 * 64 + 4) * 32 + 10] = 1;

  it("lays out rows × (fractions × volumes) tiles with the slices at 2/6 … 5/6 of depth (scale 1)", () => {
    const png = renderSliceSheet([{ volumes: [a, b] }, { volumes: [b, a] }], { scale: 1, gap: 2 });
    expect(png.width).toBe(8 * 64 + 7 * 2 + 3 * 4);
    expect(png.height).toBe(2 * 64 + 2);
    const px = (x: number, y: number) => png.data[(y * png.width + x) * 4];
    expect(px(0, 0)).toBe(Math.round(255 * 0.2));
    // tile 1 of row 0 = b at fraction 2/6: pixel (row x=3, col y=4) is white, its neighbour black
    expect(px(66 + 4, 3)).toBe(255);
    expect(px(66 + 5, 3)).toBe(0);
    // the gap between tiles keeps the background
    expect(px(64, 0)).toBe(255);
  });

  it("32×32×16 pretraining cubes: upscaled 5× to 160-px panels under a header row naming each column", () => {
    const shape = [32, 32, 16] as const;
    const cube = (v: number) => new Float32Array(32 * 32 * 16).fill(v);
    const columns = ["transformed", "restored", "original"];
    const rows = [0, 1, 2, 3].map(() => ({ volumes: [cube(0.1), cube(0.5), cube(0.9)] }));
    const layout = sliceSheetLayout([...shape], { columns });
    // 128 px would be 4×; "transformed" at twice the font size (2 · 65 px + 2) needs 5×
    expect(layout).toEqual({ scale: 5, panel: [160, 160], textScale: 2, headerHeight: 26 });
    const png = renderSliceSheet(rows, { shape: [...shape], columns });
    // 12 tiles of 160 px, 11 gaps of 4 px, 3 group gaps of 8 px; header 26 + 4 rows of 160 + 3 gaps of 4
    expect(png.width).toBe(12 * 160 + 11 * 4 + 3 * 8);
    expect(png.height).toBe(26 + 4 * 160 + 3 * 4);
    const tileLeft = (g: number, v: number) => (g * 3 + v) * 164 + g * 8;
    for (let g = 0; g < 4; g++) {
      columns.forEach((label, v) => {
        const w = textWidth(label, 2);
        const left = tileLeft(g, v) + Math.floor((160 - w) / 2);
        // the header's ink lies in its tile's columns, centred, 14 px tall from y = 6 …
        expect(ink(png, left, left + w, 6, 20), `${label} ${g}`).toBeGreaterThan(40);
        expect(ink(png, tileLeft(g, v), left, 0, 26)).toBe(0);
        expect(ink(png, left + w, tileLeft(g, v) + 160, 0, 26)).toBe(0);
      });
    }
    // the three headers differ (their ink counts are the glyphs', not a block)
    const counts = columns.map((_, v) => ink(png, tileLeft(0, v), tileLeft(0, v) + 160, 0, 26));
    expect(new Set(counts).size).toBe(3);
    // the panels start below the header: a 5×5 block per voxel
    const px = (x: number, y: number) => png.data[(y * png.width + x) * 4];
    expect(px(0, 26)).toBe(Math.round(255 * 0.1));
    expect(px(159, 26 + 159)).toBe(Math.round(255 * 0.1));
    expect(px(160, 26)).toBe(255);
    expect(px(164, 26)).toBe(Math.round(255 * 0.5));
  });

  it("draws glyphs of the built-in 5×7 font; unknown characters as ?", () => {
    const data = new Uint8Array(12 * 7 * 4).fill(255);
    drawText(data, 12, "Iz", 0, 0, 1, 0);
    const row = (y: number) =>
      [...Array(12).keys()].map((x) => (data[(y * 12 + x) * 4] === 0 ? "#" : ".")).join("");
    expect([0, 1, 2, 3, 4, 5, 6].map(row)).toEqual([
      ".###........",
      "..#.........",
      "..#...#####.",
      "..#......#..",
      "..#.....#...",
      "..#....#....",
      ".###..#####.",
    ]);
    const q = new Uint8Array(6 * 7 * 4).fill(255);
    const r = new Uint8Array(6 * 7 * 4).fill(255);
    drawText(q, 6, "€", 0, 0);
    drawText(r, 6, "?", 0, 0);
    expect(q).toEqual(r);
    expect(textWidth("abc", 2)).toBe(34);
  });

  it("writes a readable PNG atomically and validates volume sizes", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "genesis-png-"));
    const f = path.join(dir, "sheet.png");
    await writeSliceSheet(f, [{ label: "pair 0", volumes: [a, b, a] }]);
    const png = PNG.sync.read(await readFile(f));
    // 64-voxel slices: 2× to 128-px panels, no header
    expect(png.width).toBe(12 * 128 + 11 * 4 + 3 * 8);
    expect(png.height).toBe(128);
    await rm(dir, { recursive: true, force: true });
    expect(() => renderSliceSheet([{ volumes: [new Float32Array(5)] }])).toThrow(/needs 131072/);
    expect(() => renderSliceSheet([{ volumes: [a] }], { scale: 1.5 })).toThrow(RangeError);
  });
});
