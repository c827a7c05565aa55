import { registerTransform, type Transform, unregisterTransform } from "@models-genesis/transforms";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { augmentArg } from "../src/commands/finetune.js";
import { buildProgram } from "../src/index.js";

function choices(program: Command, command: string, flag: string): readonly string[] | undefined {
  const cmd = program.commands.find((c) => c.name() === command);
  return cmd?.options.find((o) => o.long === flag)?.argChoices;
}

describe("ablation choices come from the transforms registry", () => {
  it("pretrain --transforms and pairs --ablation list the registered Genesis transforms", () => {
    const builtIn = ["all", "identity", "flip", "localShuffle", "nonlinear", "inPaint", "outPaint"];
    expect(choices(buildProgram(), "pretrain", "--transforms")).toEqual(builtIn);
    expect(choices(buildProgram(), "pairs", "--ablation")).toEqual(builtIn);
    const invert = (): Transform<never, null> => ({
      name: "testInvert",
      kind: "intensity",
      sample: () => null,
      apply: (x) => x,
    });
    registerTransform("testInvert", invert, { genesis: { name: "invert", rate: 0.2 } });
    try {
      expect(choices(buildProgram(), "pretrain", "--transforms")).toEqual([...builtIn, "invert"]);
      expect(choices(buildProgram(), "pairs", "--ablation")).toEqual([...builtIn, "invert"]);
    } finally {
      unregisterTransform("testInvert");
    }
  });
});

describe("finetune --augment", () => {
  it("parses names and none; no flag leaves the registry's default to runFinetuning", () => {
    expect(augmentArg("randFlip, randRot90")).toEqual(["randFlip", "randRot90"]);
    expect(augmentArg("none")).toBe(false);
    expect(augmentArg("")).toBe(false);
    const opt = buildProgram()
      .commands.find((c) => c.name() === "finetune")
      ?.options.find((o) => o.long === "--augment");
    expect(opt?.defaultValue).toBeUndefined();
  });
});
