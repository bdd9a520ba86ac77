/**
 * A small seeded pseudo-random generator for simulations and loss injection.
 * Not for anything secret: it is sfc32 (Chris Doty-Humphrey's Small Fast
 * Chaotic PRNG, 128-bit state), chosen because it is fast in plain 32-bit
 * JavaScript arithmetic and passes PractRand; same seed → same sequence, on
 * every platform.
 */

export interface Random {
  /** Uniform float in [0, 1). */
  next(): number;
  /** Uniform unsigned 32-bit integer. */
  nextUint32(): number;
  /** Uniform integer in [0, n), n ≥ 1. */
  int(n: number): number;
  /** True with probability `p` (p ≤ 0 never, p ≥ 1 always, and neither consumes a draw). */
  chance(p: number): boolean;
  /** An independent generator derived from this one (for splitting streams deterministically). */
  fork(): Random;
}

class Sfc32 implements Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(a: number, b: number, c: number, d: number) {
    this.a = a | 0;
    this.b = b | 0;
    this.c = c | 0;
    this.d = d | 0;
    // Discard the first outputs: sfc32's early values are correlated with a weak seed.
    for (let i = 0; i < 15; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  next(): number {
    return this.nextUint32() / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(p: number): boolean {
    if (p <= 0) return false;
    if (p >= 1) return true;
    return this.next() < p;
  }

  fork(): Random {
    return new Sfc32(this.nextUint32(), this.nextUint32(), this.nextUint32(), this.nextUint32());
  }
}

/**
 * A generator seeded from a number (any finite number; its integer part and
 * the high bits of large seeds both count) or a string.
 */
export function createRandom(seed: number | string): Random {
  const [a, b] = typeof seed === 'string' ? hashString(seed) : splitNumber(seed);
  // A fixed odd constant in the third word keeps an all-zero seed from starting in a weak state.
  return new Sfc32(a, b, 0x9e3779b9, 1);
}

function splitNumber(seed: number): [number, number] {
  const n = Number.isFinite(seed) ? Math.trunc(seed) : 0;
  const low = n % 4294967296 | 0;
  const high = Math.floor(n / 4294967296) | 0;
  return [low, high];
}

/** FNV-1a, twice with different offsets, to fill two state words from a string. */
function hashString(text: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 0x01000193);
    h2 = Math.imul(h2 ^ ch, 0x5bd1e995);
  }
  return [h1 | 0, h2 | 0];
}

/**
 * mulberry32 as a bare function: a 32-bit state, uniform floats in [0, 1).
 * The membership simulator and the test fixtures use it rather than
 * {@link createRandom} because the published membership figures
 * (bench/RESULTS.md) were produced with it: the same seed must keep
 * replaying the same runs.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
