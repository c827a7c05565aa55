/**
 * Synthetic MetaImage files for the paths the shared data do not cover: multi-component voxels,
 * HeaderSize (incl. −1), separate zlib data (.zraw), 2-D images and a non-symmetric
 * TransformMatrix (ITK MetaImageIO: the numbers list the direction of voxel axis 0, then 1, then 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { zlibSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { affineOf, readVolume } from "../src/index.js";
import { voxel } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "vio-mha-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** x-fastest int16 LE bytes of value(x, y, z, c) with components interleaved fastest. */
function raw(
  nx: number,
  ny: number,
  nz: number,
  comps: number,
  value: (x: number, y: number, z: number, c: number) => number,
): Uint8Array {
  const out = new Uint8Array(nx * ny * nz * comps * 2);
  const dv = new DataView(out.buffer);
  let o = 0;
  for (let z = 0; z < nz; z++)
    for (let y = 0; y < ny; y++)
      for (let x = 0; x < nx; x++)
        for (let c = 0; c < comps; c++, o += 2) dv.setInt16(o, value(x, y, z, c), true);
  return out;
}

const f = (x: number, y: number, z: number, c: number) => x + 10 * y + 100 * z + 1000 * c;

describe("MetaImage details", () => {
  it("ElementNumberOfChannels: components become channels (fastest axis)", async () => {
    const header =
      "ObjectType = Image\nNDims = 3\nDimSize = 3 4 2\nElementNumberOfChannels = 2\nElementType = MET_SHORT\nElementDataFile = LOCAL\n";
    const p = join(dir, "comp.mha");
    writeFileSync(p, Buffer.concat([Buffer.from(header), raw(3, 4, 2, 2, f)]));
    const v = await readVolume(p);
    expect(v.shape).toEqual([3, 4, 2]);
    expect(v.channels).toBe(2);
    for (const [x, y, z, c] of [
      [0, 0, 0, 0],
      [2, 3, 1, 1],
      [1, 2, 0, 1],
    ])
      expect(voxel(v, x, y, z, c)).toBe(f(x, y, z, c));
  });

  it("HeaderSize skips bytes; HeaderSize = -1 takes the data from the end; .zraw is zlib", async () => {
    const data = raw(3, 4, 2, 1, f);
    const junk = new Uint8Array(17).fill(9);
    writeFileSync(join(dir, "hs.raw"), Buffer.concat([junk, data]));
    writeFileSync(join(dir, "zr.zraw"), zlibSync(data));
    const base = "ObjectType = Image\nNDims = 3\nDimSize = 3 4 2\nElementType = MET_SHORT\n";
    writeFileSync(join(dir, "hs.mhd"), `${base}HeaderSize = 17\nElementDataFile = hs.raw\n`);
    writeFileSync(join(dir, "end.mhd"), `${base}HeaderSize = -1\nElementDataFile = hs.raw\n`);
    writeFileSync(
      join(dir, "zr.mhd"),
      `${base}CompressedData = True\nCompressedDataSize = 10\nElementDataFile = zr.zraw\n`,
    );
    for (const name of ["hs.mhd", "end.mhd", "zr.mhd"]) {
      const v = await readVolume(join(dir, name));
      expect(voxel(v, 2, 3, 1), name).toBe(f(2, 3, 1, 0));
      expect(voxel(v, 1, 0, 1), name).toBe(f(1, 0, 1, 0));
    }
  });

  it("TransformMatrix lists axis directions (LPS), converted to RAS", async () => {
    // voxel axis 0 points to LPS +y (posterior), axis 1 to LPS −x (right), axis 2 to +z (superior)
    const header =
      "ObjectType = Image\nNDims = 3\nDimSize = 3 4 2\nElementSpacing = 0.5 2 3\nOffset = 10 20 30\nTransformMatrix = 0 1 0 -1 0 0 0 0 1\nElementType = MET_SHORT\nElementDataFile = LOCAL\n";
    const p = join(dir, "rot.mha");
    writeFileSync(p, Buffer.concat([Buffer.from(header), raw(3, 4, 2, 1, f)]));
    const v = await readVolume(p);
    // RAS: axis 0 → (0, −1, 0)·0.5, axis 1 → (+1, 0, 0)·2, axis 2 → (0, 0, 1)·3; origin (−10, −20, 30)
    expect(affineOf(v)).toEqual([
      [0, 2, 0, -10],
      [-0.5, 0, 0, -20],
      [0, 0, 3, 30],
      [0, 0, 0, 1],
    ]);
  });

  it("2-D images are (x, y, 1)", async () => {
    const header =
      "ObjectType = Image\nNDims = 2\nDimSize = 3 4\nElementSpacing = 0.7 0.8\nElementType = MET_SHORT\nElementDataFile = LOCAL\n";
    const p = join(dir, "flat.mha");
    writeFileSync(p, Buffer.concat([Buffer.from(header), raw(3, 4, 1, 1, f)]));
    const v = await readVolume(p);
    expect(v.shape).toEqual([3, 4, 1]);
    expect(v.spacing).toEqual([0.7, 0.8, 1]);
    expect(voxel(v, 2, 3, 0)).toBe(32);
  });
});
