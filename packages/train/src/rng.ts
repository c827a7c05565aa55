import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64";
import { uniformInt } from "pure-rand/distribution/uniformInt";
import { xoroshiro128plus, xoroshiro128plusFromState } from "pure-rand/generator/xoroshiro128plus";
import type { RandomGenerator } from "pure-rand/types/RandomGenerator";

/**
 * A seeded random generator whose full state can be saved in a checkpoint and restored
 * (xoroshiro128+ from `pure-rand`). Never `Math.random`.
 */
export class Rng {
  private gen: RandomGenerator;

  /** @param seed 32-bit integer seed */
  constructor(seed: number) {
    this.gen = xoroshiro128plus(seed | 0);
  }

  /** Rebuild from {@link getState}. */
  static fromState(state: readonly number[]): Rng {
    const r = new Rng(0);
    r.gen = xoroshiro128plusFromState(state);
    return r;
  }

  /** Opaque JSON-serialisable state (4 int32 numbers). */
  getState(): number[] {
    return [...this.gen.getState()];
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    return uniformFloat64(this.gen);
  }

  /** Uniform integer in [lo, hi], both ends included (like Python `random.randint`). */
  int(lo: number, hi: number): number {
    return uniformInt(this.gen, lo, hi);
  }

  /** A fresh 32-bit seed for a child generator. */
  seed(): number {
    return this.gen.next();
  }

  /** In-place Fisher–Yates shuffle of `a`; returns `a`. */
  shuffle<T extends { length: number; [i: number]: unknown }>(a: T): T {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(0, i);
      const t = a[i];
      a[i] = a[j];
      a[j] = t;
    }
    return a;
  }
}
