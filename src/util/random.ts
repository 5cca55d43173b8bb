/**
 * A small seedable pseudo-random generator (xoshiro128**, seeded through splitmix32).
 *
 * Every random choice in magnet takes one of these, so a run is reproducible from its seed.
 * `Math.random` is never used.
 */
export class Random {
  #s0: number;
  #s1: number;
  #s2: number;
  #s3: number;
  #spareNormal: number | null = null;

  /** Creates a generator from an integer seed (any 32-bit value; other numbers are truncated). */
  constructor(seed: number) {
    let x = seed >>> 0;
    const next = () => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#s0 = next();
    this.#s1 = next();
    this.#s2 = next();
    this.#s3 = next();
  }

  /** The next raw 32-bit unsigned integer. */
  nextUint32(): number {
    const s0 = this.#s0, s1 = this.#s1, s2 = this.#s2, s3 = this.#s3;
    const result = Math.imul(rotl(Math.imul(s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (s1 << 9) >>> 0;
    this.#s2 = (s2 ^ s0) >>> 0;
    this.#s3 = (s3 ^ s1) >>> 0;
    this.#s1 = (s1 ^ this.#s2) >>> 0;
    this.#s0 = (s0 ^ this.#s3) >>> 0;
    this.#s2 = (this.#s2 ^ t) >>> 0;
    this.#s3 = rotl(this.#s3, 11);
    return result;
  }

  /** A float uniformly distributed in [0, 1), with 53 random bits. */
  next(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** An integer uniformly distributed in [0, n). */
  int(n: number): number {
    if (!(n >= 1)) throw new RangeError(`Random.int: n must be at least 1, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** A standard normal sample (Box-Muller, caching the second value). */
  normal(): number {
    if (this.#spareNormal !== null) {
      const v = this.#spareNormal;
      this.#spareNormal = null;
      return v;
    }
    let u = 0;
    while (u === 0) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spareNormal = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Shuffles `items` in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[];
  /** Shuffles a typed array (or any indexable list of numbers) in place and returns it. */
  shuffle<A extends { length: number; [i: number]: number }>(items: A): A;
  shuffle<T>(items: { length: number; [i: number]: T }): { length: number; [i: number]: T } {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** A new generator whose stream is independent of this one's later draws. */
  fork(): Random {
    return new Random(this.nextUint32());
  }

  /** The generator's full state, for checkpoints. */
  get state(): [number, number, number, number] {
    return [this.#s0, this.#s1, this.#s2, this.#s3];
  }

  /** Restores a state previously read from {@link Random.state}. */
  set state(s: [number, number, number, number]) {
    [this.#s0, this.#s1, this.#s2, this.#s3] = s.map((v) => v >>> 0) as [
      number,
      number,
      number,
      number,
    ];
    this.#spareNormal = null;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
