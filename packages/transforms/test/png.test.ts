// @vitest-environment node
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { PNG } from "pngjs";
import { describe, expect, it } from "vitest";
import { renderSliceSheet, writeSliceSheet } from "../src/index.js";

describe("slice sheets", () => {
  const a = new Float32Array(131072).fill(0.2);
  const b = new Float32Array(131072);
  // mark slice z = floor(2/6 · 32) = 10 of b at (x=3, y=4)
  b[(3 * 64 + 4) * 32 + 10] = 1;

  it("lays out rows × (fractions × volumes) tiles with the slices at 2/6 … 5/6 of depth", () => {
    const png = renderSliceSheet([{ volumes: [a, b] }, { volumes: [b, a] }]);
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

  it("writes a readable PNG atomically and validates volume sizes", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "genesis-png-"));
    const f = path.join(dir, "sheet.png");
    await writeSliceSheet(f, [{ label: "pair 0", volumes: [a, b, a] }]);
    const png = PNG.sync.read(await readFile(f));
    expect(png.width).toBe(12 * 64 + 11 * 2 + 3 * 4);
    expect(png.height).toBe(64);
    await rm(dir, { recursive: true, force: true });
    expect(() => renderSliceSheet([{ volumes: [new Float32Array(5)] }])).toThrow(/needs 131072/);
  });
});
