import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

/** 2^-24: spacing of the float32-exact uniform grid used by {@link Rng.float32}. */
const TWO_POW_M24 = 1 / 16777216;
/** 2^-32. */
const TWO_POW_M32 = 1 / 4294967296;

/**
 * A seeded random number generator: a thin, mutable wrapper around pure-rand's
 * `xoroshiro128plus` with the draws this package needs, named after Python's `random` module.
 *
 * Never use `Math.random` in transforms; pass an `Rng` explicitly so that one seed reproduces
 * a whole pipeline / epoch (style guide, "Transform interface").
 *
 * @example
 * const rng = new Rng(1);
 * rng.random();        // float in [0, 1)
 * rng.randint(1, 6);   // integer in {1, …, 6}, both ends included (Python `random.randint`)
 * const child = rng.fork(); // independent child stream (MONAI `Compose.set_random_state`)
 */
export class Rng {
  private gen: RandomGenerator;
  /** The 32-bit seed this generator was created from (that of the original for {@link Rng.fromState}). */
  readonly seed: number;

  /**
   * @param seed any finite number; it is reduced to an unsigned 32-bit integer (`seed >>> 0`).
   * @throws Error when `seed` is not a finite number.
   */
  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new Error(`transforms/rng: seed must be a finite number, got ${seed}`);
    this.seed = Math.trunc(seed) >>> 0;
    // Expand the seed with splitmix32 into the 128-bit state: pure-rand's `xoroshiro128plus(seed)`
    // uses the seed bits directly, so neighbouring seeds (1, 2, 3, …) would start with nearly
    // equal outputs.
    let a = this.seed;
    const mix = () => {
      a = (a + 0x9e3779b9) | 0;
      let t = a ^ (a >>> 16);
      t = Math.imul(t, 0x21f0aaad);
      t ^= t >>> 15;
      t = Math.imul(t, 0x735a2d97);
      return (t ^ (t >>> 15)) | 0;
    };
    const state = [mix(), mix(), mix(), mix()];
    if (!state.some((v) => v !== 0)) state[0] = 1;
    this.gen = xoroshiro128plusFromState(state);
  }

  /**
   * Rebuild a generator from {@link Rng.getState} (e.g. from a training checkpoint): it continues
   * the saved stream draw for draw. The format — four int32 numbers, pure-rand's xoroshiro128+
   * state — is the one `@models-genesis/train` checkpoints have always stored.
   * @param seed recorded as {@link Rng.seed}; default 0 (unknown).
   * @throws Error when `state` is not four int32 numbers, or all zero (not a valid xoroshiro state).
   */
  static fromState(state: readonly number[], seed = 0): Rng {
    if (state.length !== 4 || state.some((v) => !Number.isInteger(v) || v !== (v | 0))) {
      throw new Error(`transforms/rng: a state is four int32 numbers, got [${state.join(", ")}]`);
    }
    if (state.every((v) => v === 0))
      throw new Error("transforms/rng: the all-zero state is not a valid state");
    const r = new Rng(seed);
    r.gen = xoroshiro128plusFromState(state);
    return r;
  }

  /** The full generator state, four int32 numbers (JSON-serialisable); see {@link Rng.fromState}. */
  getState(): number[] {
    return [...this.gen.getState()];
  }

  /** Next raw 32-bit draw as an unsigned integer in [0, 2^32). */
  uint32(): number {
    return this.gen.next() >>> 0;
  }

  /** Uniform float in [0, 1) with 53 random bits (pure-rand `uniformFloat64`); like Python `random.random()`. */
  random(): number {
    return uniformFloat64(this.gen);
  }

  /**
   * Uniform float in [0, 1) on the 2^-24 grid, so it is exactly representable in float32 and
   * strictly below 1 after rounding to float32 (one 32-bit draw; used for bulk noise).
   */
  float32(): number {
    return (this.gen.next() >>> 8) * TWO_POW_M24;
  }

  /**
   * Uniform integer in [a, b], **both ends included**, like Python's `random.randint(a, b)`.
   * @throws Error when a > b (Python raises `ValueError: empty range`) or either is not an integer.
   */
  randint(a: number, b: number): number {
    if (!Number.isInteger(a) || !Number.isInteger(b)) {
      throw new Error(`transforms/rng: randint(${a}, ${b}) needs integers`);
    }
    if (a > b) throw new Error(`transforms/rng: randint(${a}, ${b}) is an empty range`);
    return uniformInt(this.gen, a, b);
  }

  /**
   * Uniform integer in [0, n) for 1 ≤ n ≤ 2^32, exactly unbiased: Lemire's multiply-shift range
   * reduction with rejection (Lemire 2019, "Fast random integer generation in an interval") for
   * n ≤ 2^21, plain rejection sampling above. The fast path for shuffles; no argument checks.
   */
  below(n: number): number {
    const gen = this.gen;
    if (n <= 2097152) {
      // m < 2^53 is exact; its high 32 bits (< 2^21) are the result, its low 32 bits decide rejection.
      let m = (gen.next() >>> 0) * n;
      let hi = (m * TWO_POW_M32) | 0;
      let l = m - hi * 4294967296;
      if (l < n) {
        const t = (4294967296 - n) % n;
        while (l < t) {
          m = (gen.next() >>> 0) * n;
          hi = (m * TWO_POW_M32) | 0;
          l = m - hi * 4294967296;
        }
      }
      return hi;
    }
    const limit = Math.floor(4294967296 / n) * n;
    let v = gen.next() >>> 0;
    while (v >= limit) v = gen.next() >>> 0;
    return v % n;
  }

  /** Uniform float in [lo, hi). */
  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.random();
  }

  /** Normal draw with the given mean and standard deviation (Box–Muller, one value per call). */
  normal(mean = 0, std = 1): number {
    let u = this.random();
    while (u === 0) u = this.random();
    const v = this.random();
    return mean + std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** One element of `items`, uniformly (Python `random.choice`). @throws Error on an empty list. */
  choice<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error("transforms/rng: choice() from an empty list");
    return items[this.below(items.length)];
  }

  /** Shuffle `arr` in place (Fisher–Yates, like `np.random.shuffle` in distribution) and return it. */
  shuffle<T extends { length: number; [i: number]: unknown }>(arr: T): T {
    for (let i = arr.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const t = arr[i];
      arr[i] = arr[j];
      arr[j] = t;
    }
    return arr;
  }

  /** A fresh 32-bit child seed drawn from this stream. */
  childSeed(): number {
    return this.uint32();
  }

  /** An independent child generator seeded from this stream (advances this stream by one draw). */
  fork(): Rng {
    return new Rng(this.childSeed());
  }
}
