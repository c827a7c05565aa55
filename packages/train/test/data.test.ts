import { describe, expect, it } from "vitest";
import { arrayBatchSource, prefetch, Rng, TrainError } from "../src/index.js";

async function collect<T>(it: AsyncIterable<T> | Iterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

describe("arrayBatchSource", () => {
  const n = 10;
  const x = Float32Array.from({ length: n * 4 }, (_, i) => i);
  const y = Float32Array.from({ length: n }, (_, i) => i);
  const src = arrayBatchSource({ x, y, sampleShapeX: [2, 2], sampleShapeY: [1], batchSize: 3 });

  it("yields len // batch batches (dropLast) with matching x/y rows", async () => {
    expect(src.length).toBe(3);
    const bs = await collect(src.batches(0, new Rng(5)));
    expect(bs.length).toBe(3);
    for (const b of bs) {
      expect(b.xShape).toEqual([3, 2, 2]);
      expect(b.yShape).toEqual([3, 1]);
      for (let k = 0; k < 3; k++) expect(b.x[k * 4]).toBe(b.y[k] * 4);
    }
    const seen = new Set(bs.flatMap((b) => Array.from(b.y)));
    expect(seen.size).toBe(9);
  });
  it("same rng seed → same order; another seed → another order", async () => {
    const a = (await collect(src.batches(0, new Rng(5)))).flatMap((b) => Array.from(b.y));
    const b = (await collect(src.batches(3, new Rng(5)))).flatMap((b) => Array.from(b.y));
    const c = (await collect(src.batches(0, new Rng(6)))).flatMap((b) => Array.from(b.y));
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });
  it("keeps the last partial batch without dropLast, and no shuffle keeps the order", async () => {
    const s = arrayBatchSource({
      x,
      y,
      sampleShapeX: [4],
      sampleShapeY: [1],
      batchSize: 4,
      dropLast: false,
      shuffle: false,
    });
    const bs = await collect(s.batches(0, new Rng(1)));
    expect(bs.map((b) => b.yShape[0])).toEqual([4, 4, 2]);
    expect(Array.from(bs[2].y)).toEqual([8, 9]);
  });
  it("applies a per-sample transform with the epoch rng", async () => {
    const s = arrayBatchSource({
      x,
      y,
      sampleShapeX: [4],
      sampleShapeY: [1],
      batchSize: 5,
      shuffle: false,
      transform: (xs, ys, rng) => ({ x: xs.map((v) => v + rng.randint(0, 0) + 100), y: ys }),
    });
    const [b] = await collect(s.batches(0, new Rng(1)));
    expect(b.x[0]).toBe(100);
  });
  it("rejects inconsistent arrays", () => {
    expect(() =>
      arrayBatchSource({ x, y: new Float32Array(3), sampleShapeX: [4], sampleShapeY: [1], batchSize: 2 }),
    ).toThrow(TrainError);
    expect(() => arrayBatchSource({ x, y, sampleShapeX: [4], sampleShapeY: [1], batchSize: 20 })).toThrow(
      /no full batch/,
    );
  });
});

describe("prefetch", () => {
  it("keeps order, runs ahead of the consumer, and closes the source on early exit", async () => {
    const started: number[] = [];
    let closed = false;
    async function* slow() {
      try {
        for (let i = 0; i < 10; i++) {
          started.push(i);
          await new Promise((r) => setTimeout(r, 1));
          yield i;
        }
      } finally {
        closed = true;
      }
    }
    const got: number[] = [];
    for await (const v of prefetch(slow(), 3)) {
      got.push(v);
      // by the time the consumer holds item v, the producer has been asked for the following ones
      await new Promise((r) => setTimeout(r, 5));
      expect(started.length).toBeGreaterThanOrEqual(Math.min(10, v + 2));
      if (v === 5) break;
    }
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
    expect(closed).toBe(true);
  });
  it("accepts sync iterables", async () => {
    expect(await collect(prefetch([1, 2, 3], 2))).toEqual([1, 2, 3]);
  });
});

describe("Rng", () => {
  it("state round trip reproduces the stream", () => {
    const r = new Rng(42);
    r.random();
    const s = r.getState();
    const a = [r.random(), r.randint(0, 10), r.childSeed()];
    const r2 = Rng.fromState(s);
    expect([r2.random(), r2.randint(0, 10), r2.childSeed()]).toEqual(a);
  });
});
