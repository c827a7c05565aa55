import { Rng } from "../rng.js";
import type { FloatImage, Shape3, Transform } from "../types.js";
import { checkImage } from "../types.js";
import { checkMinSize, MIN_AXIS } from "./sizes.js";

/** A box `[x, y, z, sx, sy, sz]`: corner and size in voxels. */
export type Box = readonly [number, number, number, number, number, number];

/**
 * Params of {@link inPaint} / {@link outPaint}: the boxes in draw order and the seed of the
 * uniform [0, 1) noise (the reference's `np.random.rand`).
 */
export interface PaintParams {
  boxes: Box[];
  seed: number;
}

function drawBox(rng: Rng, shape: Shape3, size: (d: number) => number): Box {
  const sx = size(shape[0]);
  const sy = size(shape[1]);
  const sz = size(shape[2]);
  const x = rng.randint(3, shape[0] - sx - 3);
  const y = rng.randint(3, shape[1] - sy - 3);
  const z = rng.randint(3, shape[2] - sz - 3);
  return [x, y, z, sx, sy, sz];
}

/**
 * In-painting draws (`pytorch/utils.py`, `image_in_painting`): `cnt = 5; while cnt > 0 and
 * random() < 0.95:` size `randint(d // 6, d // 3)` per axis (x, y, z), then corner
 * `randint(3, d − size − 3)` per axis.
 * @throws Error when an axis is shorter than 8 voxels (`MIN_AXIS.inPaint`).
 */
export function sampleInPaint(rng: Rng, shape: Shape3, maxBoxes = 5, continueRate = 0.95): PaintParams {
  checkMinSize("inPaint", shape, MIN_AXIS.inPaint);
  const boxes: Box[] = [];
  let cnt = maxBoxes;
  while (cnt > 0 && rng.random() < continueRate) {
    boxes.push(drawBox(rng, shape, (d) => rng.randint(Math.floor(d / 6), Math.floor(d / 3))));
    cnt--;
  }
  return { boxes, seed: rng.childSeed() };
}

/**
 * Out-painting draws (`pytorch/utils.py`, `image_out_painting`): one kept box of size
 * `d − randint(3d // 7, 4d // 7)` per axis at corner `randint(3, d − size − 3)`, then
 * `cnt = 4; while cnt > 0 and random() < 0.95:` one more such box.
 * @throws Error when an axis is shorter than 14 voxels (`MIN_AXIS.outPaint`).
 */
export function sampleOutPaint(rng: Rng, shape: Shape3, maxExtra = 4, continueRate = 0.95): PaintParams {
  checkMinSize("outPaint", shape, MIN_AXIS.outPaint);
  const size = (d: number) => d - rng.randint(Math.floor((3 * d) / 7), Math.floor((4 * d) / 7));
  const boxes: Box[] = [drawBox(rng, shape, size)];
  let cnt = maxExtra;
  while (cnt > 0 && rng.random() < continueRate) {
    boxes.push(drawBox(rng, shape, size));
    cnt--;
  }
  return { boxes, seed: rng.childSeed() };
}

/** In place: fill each box of `data` (C order over `shape`) with float32-exact uniform [0, 1) noise from `seed`. */
export function inPaintInPlace(data: Float32Array, shape: Shape3, params: PaintParams): void {
  const [, ny, nz] = shape;
  const rng = new Rng(params.seed);
  for (const [x0, y0, z0, sx, sy, sz] of params.boxes) {
    for (let x = x0; x < x0 + sx; x++) {
      for (let y = y0; y < y0 + sy; y++) {
        const base = (x * ny + y) * nz + z0;
        for (let z = 0; z < sz; z++) data[base + z] = rng.float32();
      }
    }
  }
}

/**
 * Out-paint in place: every voxel outside all boxes becomes uniform [0, 1) noise (drawn from
 * `seed` in C order over the uncovered voxels); voxels inside a box keep their value. Same result
 * as the reference's "noise everywhere, then copy the boxes back from the original".
 */
export function outPaintInPlace(data: Float32Array, shape: Shape3, params: PaintParams): void {
  const [nx, ny, nz] = shape;
  const rng = new Rng(params.seed);
  const boxes = params.boxes;
  const starts = new Int32Array(boxes.length);
  const ends = new Int32Array(boxes.length);
  for (let x = 0; x < nx; x++) {
    for (let y = 0; y < ny; y++) {
      // z-intervals of the boxes covering (x, y), sorted by start (insertion sort, ≤ 5 boxes)
      let m = 0;
      for (const [bx, by, bz, sx, sy, sz] of boxes) {
        if (x < bx || x >= bx + sx || y < by || y >= by + sy || sz <= 0) continue;
        let p = m++;
        while (p > 0 && starts[p - 1] > bz) {
          starts[p] = starts[p - 1];
          ends[p] = ends[p - 1];
          p--;
        }
        starts[p] = bz;
        ends[p] = bz + sz;
      }
      const base = (x * ny + y) * nz;
      let z = 0;
      for (let k = 0; k < m; k++) {
        for (; z < starts[k]; z++) data[base + z] = rng.float32();
        if (ends[k] > z) z = ends[k];
      }
      for (; z < nz; z++) data[base + z] = rng.float32();
    }
  }
}

/** Out-paint `src` into `dst` (no aliasing): `dst` = `src`, then {@link outPaintInPlace}. */
export function outPaintInto(src: Float32Array, dst: Float32Array, shape: Shape3, params: PaintParams): void {
  dst.set(src);
  outPaintInPlace(dst, shape, params);
}

/**
 * In-painting (Models Genesis; `pytorch/utils.py`, `image_in_painting`; in `generate_pair` it
 * runs with probability paint_rate 0.9 × inpaint_rate 0.2): up to 5 boxes of size
 * [d // 6, d // 3] per axis, at least 3 voxels from the border, replaced by uniform noise
 * in [0, 1). Input float32 image (x, y, z), every axis ≥ 8; shape kept. Intensity-only.
 */
export function inPaint(): Transform<FloatImage, PaintParams> {
  return {
    name: "inPaint",
    kind: "intensity",
    sample: (rng, shape) => sampleInPaint(rng, shape),
    apply(input, params) {
      checkImage("inPaint", input);
      const out = Float32Array.from(input.data);
      inPaintInPlace(out, input.shape, params);
      return { ...input, data: out };
    },
    applyInto(src, dst, shape, params) {
      if (src !== dst) dst.set(src);
      inPaintInPlace(dst, shape, params);
    },
  };
}

/**
 * Out-painting (Models Genesis; `pytorch/utils.py`, `image_out_painting`; in `generate_pair`
 * with probability paint_rate 0.9 × outpaint_rate 0.8): everything becomes uniform noise in
 * [0, 1) except 1–5 large boxes (size d − [3d // 7, 4d // 7] per axis) that keep the input.
 * Input float32 image (x, y, z), every axis ≥ 14; shape kept. Intensity-only.
 */
export function outPaint(): Transform<FloatImage, PaintParams> {
  return {
    name: "outPaint",
    kind: "intensity",
    sample: (rng, shape) => sampleOutPaint(rng, shape),
    apply(input, params) {
      checkImage("outPaint", input);
      const out = new Float32Array(input.data.length);
      outPaintInto(input.data, out, input.shape, params);
      return { ...input, data: out };
    },
    applyInto(src, dst, shape, params) {
      if (src !== dst) dst.set(src);
      outPaintInPlace(dst, shape, params);
    },
  };
}
