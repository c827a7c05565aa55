// @vitest-environment node
import { describe, expect, it } from "vitest";
import {
  applyGenesisPairInto,
  augmentationsFor,
  createTransform,
  GENESIS_DEFAULTS,
  type GenesisConfig,
  genesisAblation,
  genesisAblations,
  genesisBatch,
  genesisCorruptions,
  genesisIsolation,
  genesisPair,
  genesisRoles,
  genesisStageNames,
  genesisStages,
  Rng,
  registerTransform,
  type Shape3,
  sampleGenesisPair,
  unregisterTransform,
  withGenesisRate,
} from "../src/index.js";
import {
  type LegacyGenesisConfig,
  legacyApplyGenesisPairInto,
  legacyGenesisAblation,
  legacyGenesisPair,
  legacySampleGenesisPair,
} from "./legacy-pair.js";
import { sameBytes } from "./shared.js";

function randomCube(seed: number, shape: Shape3): Float32Array {
  const r = new Rng(seed);
  const a = new Float32Array(shape[0] * shape[1] * shape[2]);
  for (let i = 0; i < a.length; i++) a[i] = r.float32();
  return a;
}

/** The legacy views of the new params, i.e. exactly the fields the old `GenesisPairParams` had. */
function legacyView(p: ReturnType<typeof sampleGenesisPair>) {
  return {
    shape: p.shape,
    flip: p.flip,
    localShuffle: p.localShuffle,
    nonlinear: p.nonlinear,
    paint: p.paint,
  };
}

/**
 * Deep equality that compares typed arrays bytewise first (vitest's deep equality takes ~0.1 s on
 * the 60,000-entry local-shuffle block table) and then everything else with `toEqual`.
 */
function expectSame(a: unknown, b: unknown): void {
  const arrays: [ArrayBufferView, ArrayBufferView][] = [];
  const strip = (x: unknown, y: unknown, keep: boolean): unknown => {
    if (ArrayBuffer.isView(x)) {
      if (keep) arrays.push([x, y as ArrayBufferView]);
      return `<${x.constructor.name} ${(x as Int32Array).length}>`;
    }
    if (Array.isArray(x)) return x.map((v, i) => strip(v, (y as unknown[] | undefined)?.[i], keep));
    if (x && typeof x === "object") {
      return Object.fromEntries(
        Object.entries(x).map(([k, v]) => [
          k,
          strip(v, (y as Record<string, unknown> | undefined)?.[k], keep),
        ]),
      );
    }
    return x;
  };
  expect(strip(a, b, true)).toEqual(strip(b, a, false));
  for (const [x, y] of arrays) expect(sameBytes(x, y)).toBe(true);
}

const SHAPE: Shape3 = [20, 18, 16];

describe("the Genesis pair as a composition of registered transforms", () => {
  it("draws the same params and builds byte-identical pairs as the old hard-coded genesisPair (200 seeds, reference rates)", () => {
    const cube = randomCube(99, SHAPE);
    let applied = { flip: 0, localShuffle: 0, nonlinear: 0, inPaint: 0, outPaint: 0 };
    for (let seed = 0; seed < 200; seed++) {
      const a = genesisPair(cube, SHAPE, new Rng(seed));
      const b = legacyGenesisPair(cube, SHAPE, new Rng(seed));
      expectSame(legacyView(a.params), b.params);
      expectSame(a.history, b.history);
      expect(sameBytes(a.input, b.input)).toBe(true);
      expect(sameBytes(a.target, b.target)).toBe(true);
      applied = {
        flip: applied.flip + (b.params.flip.draws.length > 0 ? 1 : 0),
        localShuffle: applied.localShuffle + (b.params.localShuffle ? 1 : 0),
        nonlinear: applied.nonlinear + (b.params.nonlinear ? 1 : 0),
        inPaint: applied.inPaint + (b.params.paint?.kind === "inPaint" ? 1 : 0),
        outPaint: applied.outPaint + (b.params.paint?.kind === "outPaint" ? 1 : 0),
      };
    }
    // every transform was exercised (expected counts 80, 100, 180, 36, 144)
    for (const v of Object.values(applied)) expect(v).toBeGreaterThan(20);
  });

  it("stays identical under every ablation, odd rates, spatial flips and switched-off paint members", () => {
    const cube = randomCube(7, SHAPE);
    const configs: Partial<LegacyGenesisConfig>[] = [
      ...(["identity", "flip", "localShuffle", "nonlinear", "inPaint", "outPaint", "all"] as const).map((w) =>
        legacyGenesisAblation(w),
      ),
      { flipMode: "spatial", flipRate: 0.9 },
      {
        localRate: 1,
        nonlinearRate: 0.3,
        paintRate: 1,
        inpaintRate: 0.7,
        localBlocks: 300,
        bezierTimes: 1000,
      },
      { inPaint: false, inpaintRate: 1 },
      { outPaint: false, inpaintRate: 0 },
      { inPaint: false, outPaint: false },
      { paintRate: 0, localRate: 0, nonlinearRate: 0, flipRate: 0 },
    ];
    const input = new Float32Array(cube.length);
    const target = new Float32Array(cube.length);
    const oldInput = new Float32Array(cube.length);
    const oldTarget = new Float32Array(cube.length);
    for (const cfg of configs) {
      for (let seed = 1000; seed < 1040; seed++) {
        const p = sampleGenesisPair(new Rng(seed), SHAPE, cfg as Partial<GenesisConfig>);
        const q = legacySampleGenesisPair(new Rng(seed), SHAPE, cfg);
        expectSame(legacyView(p), q);
        applyGenesisPairInto(cube, p, input, target);
        legacyApplyGenesisPairInto(cube, q, oldInput, oldTarget);
        expect(sameBytes(input, oldInput)).toBe(true);
        expect(sameBytes(target, oldTarget)).toBe(true);
      }
    }
  });

  it("genesisAblation agrees with the old switch for every built-in name, and the list comes from the registry", () => {
    expect(genesisAblations()).toEqual([
      "all",
      "identity",
      "flip",
      "localShuffle",
      "nonlinear",
      "inPaint",
      "outPaint",
    ]);
    expect(genesisCorruptions()).toEqual(["localShuffle", "nonlinear", "inPaint", "outPaint"]);
    for (const w of [
      "identity",
      "flip",
      "localShuffle",
      "nonlinear",
      "inPaint",
      "outPaint",
      "all",
    ] as const) {
      expect(genesisAblation(w)).toEqual(legacyGenesisAblation(w));
    }
    expect(() => genesisAblation("rotate")).toThrow(/unknown Genesis transform "rotate".*localShuffle/);
  });

  it("genesisIsolation applies one corruption always and nothing else", () => {
    const cube = randomCube(3, SHAPE);
    for (const name of genesisCorruptions()) {
      const cfg = genesisIsolation(name);
      for (let seed = 0; seed < 20; seed++) {
        const p = genesisPair(cube, SHAPE, new Rng(seed), cfg);
        expect(p.params.spatial).toEqual([]);
        expect(sameBytes(p.target, cube)).toBe(true);
        const expected = { localShuffle: "localPixelShuffle", nonlinear: "nonlinearIntensity" }[name] ?? name;
        expect(p.history.map((h) => h.name)).toEqual([expected]);
      }
    }
    expect(genesisIsolation("inPaint")).toMatchObject({
      paintRate: 1,
      inPaint: true,
      outPaint: false,
      flip: false,
    });
  });

  it("the registered rates are the reference's and the pipeline stages follow the reference order", () => {
    const rates = Object.fromEntries(genesisRoles().map((r) => [r.role.name, r.role.rate]));
    expect(rates).toEqual({ flip: 0.4, localShuffle: 0.5, nonlinear: 0.9, inPaint: 0.9, outPaint: 0.9 });
    expect(GENESIS_DEFAULTS.flipRate).toBe(rates.flip);
    expect(GENESIS_DEFAULTS.localRate).toBe(rates.localShuffle);
    expect(GENESIS_DEFAULTS.paintRate).toBe(rates.inPaint);
    expect(genesisStages().map((s) => [s.name, s.pairwise])).toEqual([
      ["flip", true],
      ["localShuffle", false],
      ["nonlinear", false],
      ["paint", false],
    ]);
  });

  it("genesisBatch matches per-pair sampling after the batch shuffle", () => {
    const shape: Shape3 = [16, 15, 14];
    const size = 16 * 15 * 14;
    const cubes = new Float32Array(4 * size);
    cubes.set(randomCube(1, shape));
    cubes.set(randomCube(2, shape), size);
    cubes.set(randomCube(3, shape), 2 * size);
    cubes.set(randomCube(4, shape), 3 * size);
    const b = genesisBatch(cubes, new Rng(8), { batchSize: 3, shape, config: { localBlocks: 50 } });
    const rng = new Rng(8);
    const order = rng.shuffle([0, 1, 2, 3]);
    expect(b.indices).toEqual(order.slice(0, 3));
    for (let i = 0; i < 3; i++) {
      const q = legacySampleGenesisPair(rng, shape, { localBlocks: 50 });
      const oi = new Float32Array(size);
      const ot = new Float32Array(size);
      legacyApplyGenesisPairInto(cubes.subarray(b.indices[i] * size, (b.indices[i] + 1) * size), q, oi, ot);
      expect(sameBytes(b.input.subarray(i * size, (i + 1) * size), oi)).toBe(true);
      expect(sameBytes(b.target.subarray(i * size, (i + 1) * size), ot)).toBe(true);
    }
  });
});

describe("registry roles", () => {
  it("fine-tuning's default segmentation augmentations are the registered flips and rot90s", () => {
    expect(augmentationsFor("segmentation")).toEqual([
      { transform: "randFlip", options: undefined },
      { transform: "randRot90", options: { squareSafe: true } },
    ]);
  });

  it("refuses a taken Genesis role name or a reserved one, and unregisters", () => {
    const f = () => createTransform("randFlip");
    expect(() => registerTransform("x1", f, { genesis: { name: "nonlinear", rate: 0.5 } })).toThrow(
      /"nonlinear" is reserved or already used/,
    );
    expect(() => registerTransform("x2", f, { genesis: { name: "identity", rate: 0.5 } })).toThrow(
      /reserved/,
    );
    expect(() => registerTransform("x3", f, { genesis: { name: "x3", rate: 2 } })).toThrow(
      /must be in \[0, 1\]/,
    );
    registerTransform("x4", f, { genesis: { name: "x4", rate: 0.1 } });
    expect(genesisAblations().at(-1)).toBe("x4");
    expect(unregisterTransform("x4")).toBe(true);
    expect(genesisAblations()).not.toContain("x4");
    expect(unregisterTransform("x4")).toBe(false);
  });
});

describe("withGenesisRate", () => {
  it("sets a built-in's named rate or a contributed stage's `rates` entry", () => {
    expect(genesisStageNames()).toEqual(["flip", "localShuffle", "nonlinear", "paint"]);
    expect(withGenesisRate({}, "paint", 0.5)).toEqual({ paintRate: 0.5 });
    expect(withGenesisRate({ flip: false }, "flip", 1)).toEqual({ flip: false, flipRate: 1 });
    const f = () => createTransform("nonlinearIntensity");
    registerTransform("x5", f, { genesis: { name: "x5", rate: 0.1 } });
    try {
      expect(genesisStageNames().at(-1)).toBe("x5");
      expect(withGenesisRate({ rates: { y: 0.2 } }, "x5", 0.7)).toEqual({ rates: { y: 0.2, x5: 0.7 } });
    } finally {
      unregisterTransform("x5");
    }
    expect(() => withGenesisRate({}, "inPaint", 0.5)).toThrow(/unknown Genesis stage "inPaint".*paint/);
    expect(() => withGenesisRate({}, "paint", 1.5)).toThrow(/must be in \[0, 1\]/);
  });
});
