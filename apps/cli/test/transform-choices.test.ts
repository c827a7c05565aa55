import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { registerTransform, type Transform, unregisterTransform } from "@models-genesis/transforms";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { augmentArg } from "../src/commands/finetune.js";
import { rateArg } from "../src/commands/pretrain.js";
import { buildProgram } from "../src/index.js";
import { genesis } from "./run-cli.js";

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

describe("pretrain --rate stage=p", () => {
  it("parses repeatable stage=p pairs and refuses malformed ones", () => {
    expect(rateArg("paint=0.5")).toEqual([["paint", 0.5]]);
    expect(rateArg(" nonlinear = 1 ", [["flip", 0]])).toEqual([
      ["flip", 0],
      ["nonlinear", 1],
    ]);
    expect(() => rateArg("paint")).toThrow(/stage=p/);
    expect(() => rateArg("paint=1.2")).toThrow(/p in \[0, 1\]/);
    expect(() => rateArg("inPaint=0.2")).toThrow(/unknown Genesis stage "inPaint"/);
  });

  it("an unknown stage is one error line naming the registry's stages, before any work", async () => {
    const dir = mkdtempSync(join(tmpdir(), "rate-"));
    try {
      const r = await genesis(
        "pretrain",
        join(dir, "missing.nii.gz"),
        "--out",
        join(dir, "out"),
        "--backend",
        "cpu",
        "--rate",
        "bogus=0.5",
      );
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/unknown Genesis stage "bogus" \(stages: flip, localShuffle, nonlinear, paint\)/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
