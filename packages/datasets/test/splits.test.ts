import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bratsReferenceSplit } from "../src/brats.js";
import { groupKFold, groupSplit, loadOrCreateSplits } from "../src/splits.js";
import { withTmp } from "./shared.js";

const ids = Array.from(
  { length: 40 },
  (_, i) => `LIDC-IDRI-${String(1000 + Math.floor(i / 3)).slice(1)}_R_${i % 3}`,
);
const patient = (id: string) => id.slice(0, 14);

describe("splits", () => {
  it("groupSplit keeps patients together and covers every id once", () => {
    const s = groupSplit(ids, patient, { fractions: { train: 0.7, val: 0.1 }, seed: 0 });
    expect([...s.train, ...s.val, ...s.test].sort()).toEqual([...ids].sort());
    const parts = [s.train, s.val, s.test].map((p) => new Set(p.map(patient)));
    for (let a = 0; a < 3; a++)
      for (let b = a + 1; b < 3; b++) for (const p of parts[a]) expect(parts[b].has(p)).toBe(false);
    expect(parts[0].size).toBe(Math.round(0.7 * 14));
    expect(parts[1].size).toBe(1);
    // seeded: same seed, same split; another seed, another split
    expect(groupSplit(ids, patient, { fractions: { train: 0.7, val: 0.1 }, seed: 0 })).toEqual(s);
    expect(groupSplit(ids, patient, { fractions: { train: 0.7, val: 0.1 }, seed: 1 })).not.toEqual(s);
  });

  it("groupKFold: test folds partition the groups", () => {
    const folds = groupKFold(["a", "b", "c", "d"], (v) => v, { k: 3, seed: 0, valFraction: 1 / 8 });
    expect(folds.flatMap((f) => f.test).sort()).toEqual(["a", "b", "c", "d"]);
    for (const f of folds) {
      expect(f.val.length).toBe(1);
      expect(new Set([...f.train, ...f.val, ...f.test]).size).toBe(4);
    }
    expect(() => groupKFold(["a", "b"], (v) => v, { k: 3, seed: 0, valFraction: 0.1 })).toThrow(
      /cannot make 3 folds/,
    );
  });

  it("bratsReferenceSplit = random.Random(4).shuffle(fold_1 + fold_2), first len//8 validate", () => {
    // CPython: a = list(range(10)); random.Random(4).shuffle(a) -> [8, 2, 0, 7, 6, 9, 5, 1, 4, 3]
    const f1 = ["0", "1", "2", "3", "4"];
    const f2 = ["5", "6", "7", "8", "9"];
    const s = bratsReferenceSplit(f1, f2, ["t"]);
    expect(s.val).toEqual(["8"]);
    expect(s.train).toEqual(["2", "0", "7", "6", "9", "5", "1", "4", "3"]);
    expect(s.test).toEqual(["t"]);
    expect(bratsReferenceSplit(["c", "d"], ["a", "b"], [], 0).val).toEqual([]);
    expect(bratsReferenceSplit(["c", "d"], ["a", "b"], [], 1).val).toEqual(["a"]);
  });

  it("loadOrCreateSplits writes once and then reuses; refuses foreign files", async () => {
    await withTmp(async (dir) => {
      const file = join(dir, "splits.json");
      let calls = 0;
      const make = () => {
        calls++;
        return {
          task: "ncs",
          method: "test",
          seed: 0,
          folds: [groupSplit(ids, patient, { fractions: { train: 0.7, val: 0.1 }, seed: 0 })],
        };
      };
      const a = await loadOrCreateSplits(file, "ncs", ids, make);
      const b = await loadOrCreateSplits(file, "ncs", ids, make);
      expect(a.created).toBe(true);
      expect(b.created).toBe(false);
      expect(calls).toBe(1);
      expect(b.splits).toEqual(a.splits);
      await expect(loadOrCreateSplits(file, "lcs", ids, make)).rejects.toThrow(/for task "ncs"/);
      await expect(loadOrCreateSplits(file, "ncs", ids.slice(0, 5), make)).rejects.toThrow(
        /not in the dataset/,
      );
      await expect(loadOrCreateSplits(file, "ncs", [...ids, "LIDC-IDRI-0999_R_1"], make)).rejects.toThrow(
        /1 case\(s\) of the dataset are in no split \(first: LIDC-IDRI-0999_R_1\)/,
      );
      const text = await readFile(file, "utf8");
      await writeFile(file, text.slice(0, 20));
      await expect(loadOrCreateSplits(file, "ncs", ids, make)).rejects.toThrow(/not valid JSON/);
    });
  });
});
