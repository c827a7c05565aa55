import {
  GENESIS_DEFAULTS,
  genesisAblation,
  registerTransform,
  type Transform,
  unregisterTransform,
} from "@models-genesis/transforms";
import { describe, expect, it } from "vitest";
import { RESTORATION_CASES, restorationCaseConfig, restorationCases } from "../src/index.js";

describe("restorationBreakdown cases come from the transforms registry", () => {
  it("built-in cases and their configs are the earlier hand-written ones", () => {
    expect(RESTORATION_CASES).toEqual(["all", "localShuffle", "nonlinear", "inPaint", "outPaint", "none"]);
    const noFlip = { flip: false };
    // the configurations `restorationCaseConfig` spelled out before it read the registry
    expect(restorationCaseConfig("all")).toEqual({});
    expect(restorationCaseConfig("none")).toEqual(genesisAblation("identity"));
    expect(restorationCaseConfig("nonlinear")).toEqual({
      ...genesisAblation("nonlinear"),
      ...noFlip,
      nonlinearRate: 1,
    });
    expect(restorationCaseConfig("localShuffle")).toEqual({
      ...genesisAblation("localShuffle"),
      ...noFlip,
      localRate: 1,
    });
    expect(restorationCaseConfig("inPaint")).toEqual({
      ...genesisAblation("inPaint"),
      ...noFlip,
      paintRate: 1,
    });
    expect(restorationCaseConfig("outPaint")).toEqual({
      ...genesisAblation("outPaint"),
      ...noFlip,
      paintRate: 1,
    });
    expect(() => restorationCaseConfig("rotate")).toThrow(/unknown Genesis transform "rotate"/);
  });

  it("a registered corruption gets its case (always applied, alone) with no change to train", () => {
    const t = (): Transform<never, null> => ({
      name: "testInvert",
      kind: "intensity",
      sample: () => null,
      apply: (x) => x,
    });
    registerTransform("testInvert", t, { genesis: { name: "invert", rate: 0.2 } });
    try {
      expect(restorationCases()).toEqual([
        "all",
        "localShuffle",
        "nonlinear",
        "inPaint",
        "outPaint",
        "invert",
        "none",
      ]);
      expect(restorationCaseConfig("invert")).toEqual({
        ...GENESIS_DEFAULTS,
        flip: false,
        localShuffle: false,
        nonlinear: false,
        inPaint: false,
        outPaint: false,
        enabled: { invert: true },
        rates: { invert: 1 },
      });
    } finally {
      unregisterTransform("testInvert");
    }
  });
});
