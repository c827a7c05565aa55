import { describe, expect, it } from "vitest";
import { quickSubset } from "../src/quick.js";

describe("--quick subsets", () => {
  it("quickSubset keeps whole groups in a seeded order, shared out over the parts", () => {
    const items = Array.from({ length: 100 }, (_, i) => ({
      id: `p${Math.floor(i / 2)}-${i % 2}`,
      part: i < 70 ? "train" : "test",
    }));
    const r = quickSubset(items, {
      limit: 10,
      seed: 0,
      groupOf: (x) => x.id.split("-")[0],
      partOf: (x) => x.part,
    });
    // quotas 7 (train) and 3 (test) items; groups of 2 overshoot by one item each: 8 + 4
    expect(r.items).toHaveLength(12);
    expect(r.groups).toBe(6);
    expect(r.groupsTotal).toBe(50);
    expect(r.items.filter((x) => x.part === "train")).toHaveLength(8);
    expect(r.items.filter((x) => x.part === "test")).toHaveLength(4);
    // every kept group is whole
    for (const x of r.items)
      expect(r.items.filter((y) => y.id.split("-")[0] === x.id.split("-")[0])).toHaveLength(2);
    // seeded: same seed, same subset; another seed, another one
    const again = quickSubset(items, {
      limit: 10,
      seed: 0,
      groupOf: (x) => x.id.split("-")[0],
      partOf: (x) => x.part,
    });
    expect(again.items).toEqual(r.items);
    const other = quickSubset(items, {
      limit: 10,
      seed: 1,
      groupOf: (x) => x.id.split("-")[0],
      partOf: (x) => x.part,
    });
    expect(other.items).not.toEqual(r.items);
    expect(quickSubset(items.slice(0, 4), { limit: 10, seed: 0, groupOf: (x) => x.id }).items).toHaveLength(
      4,
    );
    expect(() => quickSubset(items, { limit: 0, seed: 0, groupOf: (x) => x.id })).toThrow(RangeError);
  });
});
