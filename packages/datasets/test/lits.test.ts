import { describe, expect, it } from "vitest";
import { litsPart } from "../src/lits.js";

describe("LiTS split by case number", () => {
  it("0–99 train, 100–114 validation, 115–129 test", () => {
    expect([0, 99, 100, 114, 115, 129, 130].map(litsPart)).toEqual([
      "train",
      "train",
      "val",
      "val",
      "test",
      "test",
      null,
    ]);
  });
});
