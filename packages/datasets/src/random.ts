/**
 * A seeded random number generator that reproduces CPython's `random.Random(seed)` draw for draw
 * (MT19937 with CPython's `init_by_array` seeding, `random()`, `getrandbits(k)`, `_randbelow`,
 * `randint` and `shuffle`).
 *
 * Why not a general-purpose npm RNG: the reference splits its BraTS training cases with
 * `random.Random(4).shuffle(train_ids)` (`keras/downstream_tasks/config.py`, `bms_config`); only a
 * bit-exact CPython generator yields the same validation cases. The same generator is then used for
 * every seeded choice in this package, so one integer seed reproduces a whole data preparation.
 */
export class PyRandom {
  private readonly mt = new Uint32Array(624);
  private index = 625;

  /**
   * @param seed a non-negative integer below 2^53 (CPython seeds with `abs(seed)` split into 32-bit words).
   * @throws RangeError for a negative, non-integer or unsafe seed.
   */
  constructor(seed: number) {
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new RangeError(`PyRandom: seed must be a non-negative safe integer, got ${seed}`);
    }
    const key: number[] = [];
    let s = seed;
    do {
      key.push(s % 0x1_0000_0000);
      s = Math.floor(s / 0x1_0000_0000);
    } while (s > 0);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.index = 624;
  }

  private initByArray(key: number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1664525)) + key[j] + j) >>> 0;
      i++;
      j++;
      if (i >= 624) {
        mt[0] = mt[623];
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = 623; k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= 624) {
        mt[0] = mt[623];
        i = 1;
      }
    }
    mt[0] = 0x80000000;
  }

  /** The next raw 32-bit output of MT19937 (CPython `genrand_uint32`). */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= 624) {
      for (let kk = 0; kk < 624; kk++) {
        const y = (mt[kk] & 0x80000000) | (mt[(kk + 1) % 624] & 0x7fffffff);
        mt[kk] = mt[(kk + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** A float in [0, 1) with 53 random bits, as CPython `random.random()`. */
  random(): number {
    const a = this.nextUint32() >>> 5;
    const b = this.nextUint32() >>> 6;
    return (a * 67108864 + b) / 9007199254740992;
  }

  /** CPython `getrandbits(k)` for 1 ≤ k ≤ 32. @throws RangeError outside that range. */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 1 || k > 32)
      throw new RangeError(`PyRandom.getrandbits: k must be 1..32, got ${k}`);
    return this.nextUint32() >>> (32 - k);
  }

  /** A uniform integer in [0, n) by rejection on `n.bit_length()` bits, as CPython `_randbelow`. */
  randbelow(n: number): number {
    if (!Number.isInteger(n) || n < 1 || n > 0x1_0000_0000) {
      throw new RangeError(`PyRandom.randbelow: n must be an integer in 1..2^32, got ${n}`);
    }
    const k = Math.floor(Math.log2(n)) + 1;
    if (k > 32) return this.nextUint32(); // n = 2^32
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }

  /** A uniform integer in [a, b], both ends included (CPython `randint`). */
  randint(a: number, b: number): number {
    if (b < a) throw new RangeError(`PyRandom.randint: empty range [${a}, ${b}]`);
    return a + this.randbelow(b - a + 1);
  }

  /** Shuffle `items` in place exactly as CPython `random.shuffle` (Fisher–Yates from the end); returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.randbelow(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }
}
