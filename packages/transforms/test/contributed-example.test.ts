// @vitest-environment node
// The README's "Contributing a transform" example, compiled and run: importing it registers
// `randGamma` as a Genesis corruption (this test file runs in its own process, so the other test
// files see only the built-ins).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import "../examples/gamma.js";
import {
  createTransform,
  genesisAblation,
  genesisAblations,
  genesisCorruptions,
  genesisIsolation,
  genesisPair,
  Rng,
  type Shape3,
  sampleGenesisPair,
} from "../src/index.js";
import { legacySampleGenesisPair } from "./legacy-pair.js";
import { sameBytes } from "./shared.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const SHAPE: Shape3 = [16, 16, 16];

function cube(seed: number): Float32Array {
  const r = new Rng(seed);
  return Float32Array.from({ length: 16 ** 3 }, () => r.float32());
}

describe("README example: a contributed Genesis transform", () => {
  it("the README quotes the example file verbatim", () => {
    const readme = readFileSync(path.join(here, "../README.md"), "utf8");
    const example = readFileSync(path.join(here, "../examples/gamma.ts"), "utf8");
    expect(readme).toContain(`\`\`\`ts\n${example}\`\`\``);
  });

  it("reaches the ablations (CLI choices) and the breakdown's corruption list by registration alone", () => {
    expect(genesisAblations()).toEqual([
      "all",
      "identity",
      "flip",
      "localShuffle",
      "nonlinear",
      "inPaint",
      "outPaint",
      "gamma",
    ]);
    expect(genesisCorruptions().at(-1)).toBe("gamma");
    expect(createTransform("randGamma", { range: [2, 2] }).sample(new Rng(1), SHAPE)).toEqual({ gamma: 2 });
  });

  it("runs in the default pair at its rate, after the built-ins, whose draws are unchanged", () => {
    let applied = 0;
    for (let seed = 0; seed < 300; seed++) {
      const p = sampleGenesisPair(new Rng(seed), SHAPE, { localBlocks: 20, bezierTimes: 200 });
      const q = legacySampleGenesisPair(new Rng(seed), SHAPE, { localBlocks: 20, bezierTimes: 200 });
      expect(p.flip).toEqual(q.flip);
      expect(p.nonlinear).toEqual(q.nonlinear);
      expect(p.paint).toEqual(q.paint);
      const names = p.corruptions.map((e) => e.name);
      if (names.includes("randGamma")) {
        applied++;
        expect(names.at(-1)).toBe("randGamma");
      }
    }
    // Binomial(300, 0.3): mean 90, sd ≈ 7.9 → within 4 sd
    expect(applied).toBeGreaterThan(58);
    expect(applied).toBeLessThan(122);
  });

  it("isolated, it is always applied, alone, with exactly v^γ; ablated and switched off as the built-ins", () => {
    const c = cube(2);
    const p = genesisPair(c, SHAPE, new Rng(5), genesisIsolation("gamma"));
    expect(p.history.map((h) => h.name)).toEqual(["randGamma"]);
    const { gamma } = p.history[0].params as { gamma: number };
    expect(gamma).toBeGreaterThanOrEqual(0.5);
    expect(gamma).toBeLessThan(2);
    expect(sameBytes(p.target, c)).toBe(true);
    for (const i of [0, 100, 4095]) expect(p.input[i]).toBe(Math.fround(c[i] ** gamma));

    for (let seed = 0; seed < 30; seed++) {
      const a = genesisPair(c, SHAPE, new Rng(seed), genesisAblation("gamma"));
      for (const h of a.history) expect(["genesisFlip", "randGamma"]).toContain(h.name);
      const off = genesisPair(c, SHAPE, new Rng(seed), { enabled: { gamma: false }, localBlocks: 20 });
      expect(off.history.map((h) => h.name)).not.toContain("randGamma");
      const always = genesisPair(c, SHAPE, new Rng(seed), { rates: { gamma: 1 }, localBlocks: 20 });
      expect(always.history.at(-1)?.name).toBe("randGamma");
    }
    expect(() => genesisPair(c, SHAPE, new Rng(1), { rates: { gamma: 1.5 } })).toThrow(
      /rates.gamma must be in \[0, 1\]/,
    );
  });
});
