/**
 * The entries of one replica and the rule that merges writes: last writer
 * wins by stamp — (time, counter) of a hybrid logical clock, then writer id —
 * so every replica that has seen the same writes holds the same content, in
 * whatever order they came. A delete is a write too (a tombstone), kept until
 * it expires so that an older write arriving late cannot bring the key back.
 *
 * The digest is the XOR of a 64-bit hash of every live (key, value): it
 * changes in O(1) per write and does not depend on the order of the writes.
 */

import { fmix32 } from '../apps/hash';
import type { Stamp, WireEntry } from './codec';

export interface Entry {
  stamp: Stamp;
  /** The value's bytes; undefined for a tombstone. */
  bytes: Buffer | undefined;
  /** The decoded value, once decoded (UNSET until then). */
  decoded: unknown;
  /** A tombstone's expiry, ms on the wall clock (Infinity for a live entry). */
  expiresAt: number;
}

export const UNSET: unique symbol = Symbol('unset');

/** Orders two stamps: negative when `a` is older. */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.t !== b.t) return a.t - b.t;
  if (a.c !== b.c) return a.c - b.c;
  return a.writer < b.writer ? -1 : a.writer > b.writer ? 1 : 0;
}

/**
 * A hybrid logical clock (Kulkarni et al.): stamps follow the wall clock, never
 * go backwards, and are above every stamp this replica has seen, so a write
 * made after seeing another always wins over it even when clocks disagree.
 */
export class Hlc {
  private t = 0;
  private c = 0;
  constructor(private readonly wallMs: () => number) {}
  next(writer: string): Stamp {
    const wall = Math.floor(this.wallMs());
    if (wall > this.t) {
      this.t = wall;
      this.c = 0;
    } else if (this.c === 0xffff) {
      this.t++;
      this.c = 0;
    } else {
      this.c++;
    }
    return { t: this.t, c: this.c, writer };
  }
  observe(s: Stamp): void {
    if (s.t > this.t || (s.t === this.t && s.c > this.c)) {
      this.t = s.t;
      this.c = s.c;
    }
  }
}

/** The bucket (0..65535) of the snapshot cycle that `key` belongs to: the low 16 bits of its FNV-1a hash. */
export function bucketOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return (h ^ (h >>> 16)) & 0xffff;
}

/** A 32-bit hash of (key, value) with `seed` (murmur3-style mixing). */
function hash32(seed: number, key: string, value: Buffer): number {
  let h = seed;
  const mix = (k: number): void => {
    k = Math.imul(k, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  };
  for (let i = 0; i < key.length; i++) mix(key.charCodeAt(i));
  mix(0x10000 + key.length); // the key's end: ('ab', 'c…') and ('a', 'bc…') differ
  for (let i = 0; i < value.length; i++) mix(value[i]!);
  h ^= value.length;
  return fmix32(h);
}

export interface Applied {
  /** The entry before (undefined: the key was unknown). */
  before: Entry | undefined;
  after: Entry;
}

export class Store {
  readonly entries = new Map<string, Entry>();
  private live = 0;
  private hi = 0;
  private lo = 0;

  get size(): number {
    return this.live;
  }

  get tombstones(): number {
    return this.entries.size - this.live;
  }

  /**
   * Merges one write: applied when it is newer than what the key has.
   * `expiresAt` is the tombstone's expiry when it is one.
   * @returns what changed, or undefined when the write was stale (or a repeat).
   */
  merge(key: string, stamp: Stamp, bytes: Buffer | undefined, decoded: unknown, expiresAt: number): Applied | undefined {
    const before = this.entries.get(key);
    if (before !== undefined && compareStamps(before.stamp, stamp) >= 0) return undefined;
    const after: Entry = { stamp, bytes, decoded: bytes === undefined ? undefined : decoded, expiresAt: bytes === undefined ? expiresAt : Infinity };
    this.entries.set(key, after);
    if (before?.bytes !== undefined) this.unhash(key, before.bytes);
    if (bytes !== undefined) this.hash(key, bytes);
    return { before, after };
  }

  /** Drops the tombstones expired at `nowMs`; returns how many. */
  collect(nowMs: number): number {
    let n = 0;
    for (const [key, e] of this.entries) {
      if (e.bytes === undefined && e.expiresAt <= nowMs) {
        this.entries.delete(key);
        n++;
      }
    }
    return n;
  }

  clear(): void {
    this.entries.clear();
    this.live = 0;
    this.hi = 0;
    this.lo = 0;
  }

  /** 16 hex digits: the XOR of every live entry's 64-bit hash. */
  digest(): string {
    return (this.hi >>> 0).toString(16).padStart(8, '0') + (this.lo >>> 0).toString(16).padStart(8, '0');
  }

  wireEntry(key: string, e: Entry): WireEntry {
    return { key, stamp: e.stamp, value: e.bytes };
  }

  private hash(key: string, bytes: Buffer): void {
    this.live++;
    this.hi ^= hash32(0x9747b28c, key, bytes);
    this.lo ^= hash32(0x5bd1e995, key, bytes);
  }

  private unhash(key: string, bytes: Buffer): void {
    this.live--;
    this.hi ^= hash32(0x9747b28c, key, bytes);
    this.lo ^= hash32(0x5bd1e995, key, bytes);
  }
}

/** The digest of a plain map of key → value bytes, as Store.digest() computes it (for a test's model). */
export function digestOf(content: Iterable<[string, Buffer]>): string {
  const s = new Store();
  for (const [key, bytes] of content) s.merge(key, { t: 1, c: 0, writer: '' }, bytes, undefined, Infinity);
  return s.digest();
}
