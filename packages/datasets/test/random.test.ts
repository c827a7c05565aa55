import { describe, expect, it } from "vitest";
import { PyRandom } from "../src/random.js";

// Expected values printed by CPython 3.11 `random.Random(seed)`.
describe("PyRandom reproduces CPython random.Random", () => {
  it("getrandbits(32) after seeding", () => {
    const r = new PyRandom(4);
    expect([r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)]).toEqual([
      1013818839, 1302657532, 443094727,
    ]);
  });
  it("random() doubles", () => {
    const r = new PyRandom(0);
    expect([r.random(), r.random(), r.random()]).toEqual([
      0.8444218515250481, 0.7579544029403025, 0.420571580830845,
    ]);
  });
  it("seeds above 2^32 use two key words", () => {
    const r = new PyRandom(2 ** 40 + 5);
    expect([r.getrandbits(32), r.getrandbits(32), r.randint(0, 1000)]).toEqual([2166296868, 2220160828, 275]);
  });
  it("_randbelow and shuffle", () => {
    const r = new PyRandom(123);
    expect(Array.from({ length: 5 }, () => r.randbelow(7))).toEqual([0, 2, 0, 6, 3]);
    expect(new PyRandom(4).shuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])).toEqual([8, 2, 0, 7, 6, 9, 5, 1, 4, 3]);
    expect(new PyRandom(4).shuffle(["c", "d", "a", "b"])).toEqual(["a", "c", "b", "d"]);
  });
  it("rejects bad seeds and ranges", () => {
    expect(() => new PyRandom(-1)).toThrow(RangeError);
    expect(() => new PyRandom(1).randint(3, 2)).toThrow(RangeError);
  });
});
