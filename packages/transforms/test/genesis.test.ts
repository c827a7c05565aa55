// @vitest-environment node
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  applyGenesisPair,
  flip3d,
  flippedAxes,
  GENESIS_DEFAULTS,
  genesisAblation,
  genesisBatch,
  genesisPair,
  inPaint,
  localPixelShuffle,
  localShuffleInto,
  MIN_AXIS,
  nonlinearIntensity,
  nonlinearInto,
  nonlinearValues,
  outPaint,
  Rng,
  type Shape3,
  sampleGenesisPair,
  sampleInPaint,
  sampleLocalShuffle,
  sampleOutPaint,
} from "../src/index.js";
import { sameBytes } from "./shared.js";

const SMALL: Shape3 = [16, 15, 14];

function randomCube(seed: number, shape: Shape3): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < a.length; i++) a[i] = r.float32();
  return a;
}

const idx = (s: Shape3, x: number, y: number, z: number) => (x * s[1] + y) * s[2] + z;

describe("genesisPair properties (fast-check)", () => {
  const cfg = { localBlocks: 300, bezierTimes: 2000 };
  it("keeps values in [0, 1] and shapes, and target = the original under the same flips", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 31 }),
        fc.constantFrom<Shape3>([16, 15, 14], [14, 20, 17]),
        (seed, shape) => {
          const cube = randomCube(seed ^ 0x5bd1e995, shape);
          const pair = genesisPair(cube, shape, new Rng(seed), { ...cfg, localRate: 0.7, flipRate: 0.7 });
          expect(pair.input.length).toBe(cube.length);
          expect(pair.target.length).toBe(cube.length);
          expect(pair.input.every((v) => v >= 0 && v <= 1)).toBe(true);
          expect(sameBytes(pair.target, flip3d(cube, shape, flippedAxes(pair.params.flip)))).toBe(true);
          // the reference draw never flips depth
          expect(flippedAxes(pair.params.flip)[2]).toBe(false);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("same seed → same pair; different seed → different pair", () => {
    const cube = randomCube(1, [64, 64, 32]);
    const a = genesisPair(cube, [64, 64, 32], new Rng(123));
    const b = genesisPair(cube, [64, 64, 32], new Rng(123));
    const c = genesisPair(cube, [64, 64, 32], new Rng(124));
    expect(sameBytes(a.input, b.input)).toBe(true);
    expect(sameBytes(a.target, b.target)).toBe(true);
    expect(a.params.flip).toEqual(b.params.flip);
    expect(sameBytes(c.input, a.input)).toBe(false);
    // the input of params replayed with applyGenesisPair is identical
    expect(sameBytes(applyGenesisPair(cube, a.params).input, a.input)).toBe(true);
  });

  it("identity ablation returns the cube unchanged; history lists exactly the applied transforms", () => {
    const cube = randomCube(2, SMALL);
    const p = genesisPair(cube, SMALL, new Rng(5), genesisAblation("identity"));
    expect(sameBytes(p.input, cube)).toBe(true);
    expect(sameBytes(p.target, cube)).toBe(true);
    expect(p.history).toEqual([]);
    const all = genesisPair(cube, SMALL, new Rng(5), {
      localRate: 1,
      nonlinearRate: 1,
      paintRate: 1,
      ...cfg,
    });
    expect(all.history.map((h) => h.name).filter((n) => n !== "genesisFlip")).toEqual([
      "localPixelShuffle",
      "nonlinearIntensity",
      all.params.paint!.kind,
    ]);
  });
});

describe("genesisBatch", () => {
  it("draws distinct cubes per batch and equals pair-by-pair generation from the same stream", () => {
    const shape: Shape3 = [16, 16, 16];
    const n = 5;
    const cubes = randomCube(3, [n * 16, 16, 16]);
    const b = genesisBatch(cubes, new Rng(8), { batchSize: 3, shape, config: { localBlocks: 50 } });
    expect(new Set(b.indices).size).toBe(3);
    expect(b.input.length).toBe(3 * 4096);
    const rng = new Rng(8);
    rng.shuffle(Array.from({ length: n }, (_, i) => i));
    b.indices.forEach((c, k) => {
      const p = sampleGenesisPair(rng, shape, { localBlocks: 50 });
      const ref = applyGenesisPair(cubes.subarray(c * 4096, (c + 1) * 4096), p);
      expect(sameBytes(b.input.subarray(k * 4096, (k + 1) * 4096), ref.input)).toBe(true);
      expect(sameBytes(b.target.subarray(k * 4096, (k + 1) * 4096), ref.target)).toBe(true);
    });
    expect(() => genesisBatch(cubes, new Rng(1), { batchSize: 6, shape })).toThrow(
      /batchSize must be an integer in \[1, 5\]/,
    );
    expect(() => genesisBatch(cubes.subarray(1), new Rng(1), { batchSize: 1, shape })).toThrow(
      /whole number/,
    );
  });
});

describe("local pixel shuffling", () => {
  it("permutes the values inside each block and leaves everything else unchanged (one block at a time)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const shape: Shape3 = [20, 30, 12];
        const cube = randomCube(seed, shape);
        const params = sampleLocalShuffle(new Rng(seed), shape, 1);
        const out = localPixelShuffle().apply({ data: cube, shape }, params).data;
        const [x0, y0, z0, sx, sy, sz] = params.blocks;
        const inside: number[] = [];
        const before: number[] = [];
        let outsideChanged = 0;
        for (let x = 0; x < shape[0]; x++)
          for (let y = 0; y < shape[1]; y++)
            for (let z = 0; z < shape[2]; z++) {
              const i = idx(shape, x, y, z);
              const inBlock = x >= x0 && x < x0 + sx && y >= y0 && y < y0 + sy && z >= z0 && z < z0 + sz;
              if (inBlock) {
                inside.push(out[i]);
                before.push(cube[i]);
              } else if (out[i] !== cube[i]) outsideChanged++;
            }
        expect(outsideChanged).toBe(0);
        expect(inside.sort()).toEqual(before.sort());
        expect(sx >= 1 && sx <= 2 && sy >= 1 && sy <= 3 && sz === 1).toBe(true);
      }),
      { numRuns: 60 },
    );
  });

  it("draws every permutation of a block equally often (3- and 4-voxel blocks)", () => {
    for (const k of [3, 4]) {
      const shape: Shape3 = [k, 1, 1];
      const src = Float32Array.from({ length: k }, (_, i) => i);
      const dst = new Float32Array(k);
      const counts = new Map<string, number>();
      const n = 24000;
      for (let seed = 0; seed < n; seed++) {
        localShuffleInto(src, dst, shape, { blocks: Int32Array.from([0, 0, 0, k, 1, 1]), seed });
        const key = dst.join("");
        counts.set(key, (counts.get(key) ?? 0) + 1);
      }
      const perms = k === 3 ? 6 : 24;
      expect(counts.size).toBe(perms);
      const p = 1 / perms;
      for (const c of counts.values())
        expect(Math.abs(c / n - p)).toBeLessThan(4 * Math.sqrt((p * (1 - p)) / n));
    }
  });

  it("reads blocks from the original: with 10,000 blocks every output value is an input value", () => {
    const shape: Shape3 = [64, 64, 32];
    const cube = randomCube(8, shape);
    const t = localPixelShuffle();
    const out = t.apply({ data: cube, shape }, t.sample(new Rng(8), shape)).data;
    const set = new Set(cube);
    let changed = 0;
    let foreign = 0;
    for (let i = 0; i < out.length; i++) {
      if (!set.has(out[i])) foreign++;
      if (out[i] !== cube[i]) changed++;
    }
    expect(foreign).toBe(0);
    expect(changed).toBeGreaterThan(out.length * 0.5);
  });
});

describe("painting", () => {
  const shape: Shape3 = [64, 64, 32];
  const marked = new Float32Array(64 * 64 * 32).fill(2); // outside the noise range [0, 1)
  const inBox = (boxes: readonly (readonly number[])[], x: number, y: number, z: number) =>
    boxes.some(
      ([bx, by, bz, sx, sy, sz]) =>
        x >= bx && x < bx + sx && y >= by && y < by + sy && z >= bz && z < bz + sz,
    );

  it("out-painting keeps exactly the chosen boxes and fills the rest with noise in [0, 1)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const params = sampleOutPaint(new Rng(seed), shape);
        const out = outPaint().apply({ data: marked, shape }, params).data;
        expect(params.boxes.length).toBeGreaterThanOrEqual(1);
        expect(params.boxes.length).toBeLessThanOrEqual(5);
        let bad = 0;
        let kept = 0;
        for (let x = 0; x < 64; x++)
          for (let y = 0; y < 64; y++)
            for (let z = 0; z < 32; z++) {
              const v = out[idx(shape, x, y, z)];
              if (inBox(params.boxes, x, y, z)) {
                kept++;
                if (v !== 2) bad++;
              } else if (!(v >= 0 && v < 1)) bad++;
            }
        expect(bad).toBe(0);
        expect(out.filter((v) => v === 2).length).toBe(kept);
        for (const [bx, by, bz, sx, sy, sz] of params.boxes) {
          // kept block: d − randint(3d//7, 4d//7) per axis, corner in [3, d − s − 3]
          expect(
            sx >= 64 - 36 && sx <= 64 - 27 && sy >= 28 && sy <= 37 && sz >= 32 - 18 && sz <= 32 - 13,
          ).toBe(true);
          expect(
            bx >= 3 && bx <= 64 - sx - 3 && by >= 3 && by <= 64 - sy - 3 && bz >= 3 && bz <= 32 - sz - 3,
          ).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  });

  it("in-painting replaces exactly the chosen boxes with noise", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 }), (seed) => {
        const params = sampleInPaint(new Rng(seed), shape);
        const out = inPaint().apply({ data: marked, shape }, params).data;
        expect(params.boxes.length).toBeLessThanOrEqual(5);
        let bad = 0;
        for (let x = 0; x < 64; x++)
          for (let y = 0; y < 64; y++)
            for (let z = 0; z < 32; z++) {
              const v = out[idx(shape, x, y, z)];
              if (inBox(params.boxes, x, y, z) ? !(v >= 0 && v < 1) : v !== 2) bad++;
            }
        expect(bad).toBe(0);
        for (const [, , , sx, sy, sz] of params.boxes) {
          expect(sx >= 10 && sx <= 21 && sy >= 10 && sy <= 21 && sz >= 5 && sz <= 10).toBe(true);
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe("non-linear transform", () => {
  it("sort_both is increasing from 0 to 1; sort_x_only inverts (1 at 0, 0 at 1)", () => {
    const points = [
      [0, 0],
      [0.3, 0.8],
      [0.6, 0.1],
      [1, 1],
    ] as const;
    const grid = Array.from({ length: 101 }, (_, i) => i / 100);
    const inc = nonlinearValues(grid, { points, mode: "sort_both", nTimes: 100000 });
    const dec = nonlinearValues(grid, { points, mode: "sort_x_only", nTimes: 100000 });
    expect(inc[0]).toBe(0);
    expect(inc[100]).toBe(1);
    expect(dec[0]).toBe(1);
    expect(dec[100]).toBe(0);
    for (let i = 1; i <= 100; i++) expect(inc[i]).toBeGreaterThanOrEqual(inc[i - 1]);
  });

  it("float32 fast paths (memo, sorted walk, in place) equal the per-value np.interp path", () => {
    const shape: Shape3 = [64, 64, 32];
    const t = nonlinearIntensity();
    for (const [seed, distinct] of [
      [21, 0],
      [22, 2001],
    ]) {
      const r = new Rng(seed);
      const cube = new Float32Array(64 * 64 * 32);
      for (let i = 0; i < cube.length; i++)
        cube[i] = distinct ? r.below(distinct) / (distinct - 1) : r.random() * 1.2 - 0.1;
      cube[5] = Number.NaN;
      cube[6] = -0;
      for (const [i, v] of [
        [20000, Number.NaN],
        [20001, -0],
        [20002, 1e30],
        [20003, -5],
        [20004, 1],
        [20005, 0],
      ])
        cube[i] = v;
      const p = t.sample(r, shape);
      const expected = Float32Array.from(nonlinearValues(Array.from(cube), p));
      expect(sameBytes(t.apply({ data: cube, shape }, p).data, expected)).toBe(true);
      const inPlace = Float32Array.from(cube);
      nonlinearInto(inPlace, inPlace, p);
      expect(sameBytes(inPlace, expected)).toBe(true);
    }
  });

  it("the image transform skips nothing in [0, 1] and returns float32 of the same shape", () => {
    const shape: Shape3 = [8, 8, 8];
    const cube = randomCube(4, shape);
    const t = nonlinearIntensity();
    const p = t.sample(new Rng(4), shape);
    const out = t.apply({ data: cube, shape }, p);
    expect(out.shape).toEqual(shape);
    expect(out.data).toBeInstanceOf(Float32Array);
    const ref = nonlinearValues(cube, p);
    expect(sameBytes(out.data, Float32Array.from(ref))).toBe(true);
  });
});

describe("sizes", () => {
  it("throws a clear error naming the transform and the minimum size", () => {
    expect(() => sampleGenesisPair(new Rng(1), [64, 13, 32])).toThrow(/outPaint.*at least 14/);
    expect(() => sampleGenesisPair(new Rng(1), [64, 64, 9], genesisAblation("localShuffle"))).toThrow(
      /localPixelShuffle.*at least 10/,
    );
    expect(() => sampleGenesisPair(new Rng(1), [7, 64, 32], genesisAblation("inPaint"))).toThrow(
      /inPaint.*at least 8/,
    );
    expect(() => sampleGenesisPair(new Rng(1), [5, 5, 5], genesisAblation("nonlinear"))).not.toThrow();
  });

  it("at the minimum sizes the reference draws never hit an empty range (every d up to 80)", () => {
    const r = new Rng(77);
    for (let d = 1; d <= 80; d++) {
      const s: Shape3 = [d, d, d];
      const tries = 30;
      for (let k = 0; k < tries; k++) {
        if (d >= MIN_AXIS.inPaint) sampleInPaint(r, s);
        else expect(() => sampleInPaint(r, s)).toThrow(/inPaint/);
        if (d >= MIN_AXIS.outPaint) sampleOutPaint(r, s);
        else expect(() => sampleOutPaint(r, s)).toThrow(/outPaint/);
        if (d >= MIN_AXIS.localPixelShuffle) sampleLocalShuffle(r, s, 5);
        else expect(() => sampleLocalShuffle(r, s, 5)).toThrow(/localPixelShuffle/);
      }
    }
  });
});

describe("rates over 10,000 seeded draws (params only) match the configuration within 3σ", () => {
  const within3Sigma = (hits: number, n: number, p: number) => {
    const sigma = Math.sqrt((p * (1 - p)) / n);
    expect(Math.abs(hits / n - p)).toBeLessThanOrEqual(3 * sigma);
  };
  const draw = (config: Parameters<typeof sampleGenesisPair>[2], n = 10000) => {
    const rng = new Rng(2024);
    return Array.from({ length: n }, () =>
      sampleGenesisPair(rng, [64, 64, 32], { ...config, localBlocks: 1 }),
    );
  };

  it("reference defaults: flip 0.4, local 0.5, non-linear 0.9 (half inverting), paint 0.9 with in-paint 0.2", () => {
    const n = 10000;
    const ps = draw({});
    within3Sigma(ps.filter((p) => p.flip.draws.length > 0).length, n, GENESIS_DEFAULTS.flipRate);
    within3Sigma(ps.filter((p) => p.flip.draws.length >= 2).length, n, 0.4 ** 2);
    expect(Math.max(...ps.map((p) => p.flip.draws.length))).toBe(3);
    const draws = ps.flatMap((p) => p.flip.draws);
    within3Sigma(draws.filter((d) => d === 0).length, draws.length, 1 / 3);
    within3Sigma(ps.filter((p) => p.localShuffle).length, n, 0.5);
    const nl = ps.filter((p) => p.nonlinear);
    within3Sigma(nl.length, n, 0.9);
    within3Sigma(nl.filter((p) => p.nonlinear!.mode === "sort_x_only").length, nl.length, 0.5);
    const painted = ps.filter((p) => p.paint);
    within3Sigma(painted.length, n, 0.9);
    within3Sigma(painted.filter((p) => p.paint!.kind === "inPaint").length, painted.length, 0.2);
    within3Sigma(ps.filter((p) => p.paint?.kind === "outPaint").length, n, 0.9 * 0.8);
  });

  it("configured rates are honoured and switches turn transforms off", () => {
    const n = 10000;
    const ps = draw({
      flipRate: 0.7,
      localRate: 0.25,
      nonlinearRate: 0.33,
      paintRate: 0.6,
      inpaintRate: 0.5,
    });
    within3Sigma(ps.filter((p) => p.flip.draws.length > 0).length, n, 0.7);
    within3Sigma(ps.filter((p) => p.localShuffle).length, n, 0.25);
    within3Sigma(ps.filter((p) => p.nonlinear).length, n, 0.33);
    within3Sigma(ps.filter((p) => p.paint?.kind === "inPaint").length, n, 0.3);
    const off = draw({ nonlinear: false, inPaint: false }, 2000);
    expect(off.every((p) => p.nonlinear === null && p.paint?.kind !== "inPaint")).toBe(true);
    within3Sigma(off.filter((p) => p.paint?.kind === "outPaint").length, 2000, 0.9);
  });

  it("spatial flip mode draws x, y and z (depth included) uniformly", () => {
    const ps = draw({ flipMode: "spatial" }, 5000);
    const draws = ps.flatMap((p) => p.flip.draws);
    for (const a of [0, 1, 2]) within3Sigma(draws.filter((d) => d === a).length, draws.length, 1 / 3);
    expect(ps.some((p) => flippedAxes(p.flip)[2])).toBe(true);
  });
});
