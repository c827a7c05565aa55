import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readFoldFile } from "../src/brats.js";
import { withTmp } from "./shared.js";

describe("BraTS-2018 fold files", () => {
  it("fold files: header skipped, unknown cases refused", async () => {
    await withTmp(async (dir) => {
      await writeFile(join(dir, "f.csv"), "FileName\nA\nB\n");
      expect(await readFoldFile(join(dir, "f.csv"))).toEqual(["A", "B"]);
      await expect(readFoldFile(join(dir, "f.csv"), ["A"])).rejects.toThrow(
        /1 case\(s\) not found in the data \(first: B\)/,
      );
    });
  });
});
