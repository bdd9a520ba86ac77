/**
 * What one replica knows it holds, writer by writer, and the snapshots it is
 * assembling — the bookkeeping behind "synced" (docs/state.md, "Synced").
 *
 * Every writer numbers its delta messages 1, 2, 3… (dseq). For each writer
 * a replica keeps `have` (it holds the effect of every delta up to it),
 * `seen` (the highest it knows the writer sent) and the latest run of deltas
 * it received beyond `have` (after a gap). It lacks some of a writer's
 * deltas exactly when have < seen. A gap shows as a jump in dseq, or as a
 * summary naming a dseq above `seen` (a writer's own summary travels behind
 * its deltas on the same stream).
 *
 * A snapshot from replica R repairs that: it carries R's `have` vector as it
 * was when R began the cycle, and every chunk holds at least that. Once every
 * bucket is covered (by chunks of R received in order, from a cycle start
 * on), this replica holds R's vector too, and the run it received joins it
 * when it starts at most one past it.
 */

import { BUCKETS, type Vector } from './codec';

interface WriterState {
  have: number;
  seen: number;
  /** The latest run of deltas received beyond have + 1: [runFrom, runTo]; runFrom 0 when none. */
  runFrom: number;
  runTo: number;
  /** When this replica last learned something of the writer (ms, the map's clock). */
  touchedMs: number;
}

/** A snapshot being assembled from one replica's chunks. */
interface Assembly {
  base: Vector;
  cycle: number;
  next: number;
  covered: Uint8Array;
  count: number;
}

export class Knowledge {
  private readonly writers = new Map<string, WriterState>();
  private readonly assemblies = new Map<string, Assembly>();

  constructor(private readonly self: string, private readonly nowMs: () => number) {}

  private state(w: string): WriterState {
    let s = this.writers.get(w);
    if (s === undefined) {
      s = { have: 0, seen: 0, runFrom: 0, runTo: 0, touchedMs: 0 };
      this.writers.set(w, s);
    }
    s.touchedMs = this.nowMs();
    return s;
  }

  /**
   * Forgets the writers nothing was learned of for `idleMs` (and of which nothing is lacking) unless `keep(w)`: a
   * summary names every writer, and sessions come and go. A replica cut off for longer than that cannot be told what
   * it lacks of them any more — the same horizon as a delete's tombstone (docs/state.md, "Limits").
   */
  prune(idleMs: number, keep: (w: string) => boolean): void {
    const before = this.nowMs() - idleMs;
    for (const [w, s] of this.writers) if (s.touchedMs < before && s.have >= s.seen && w !== this.self && !keep(w)) this.writers.delete(w);
  }

  /** This replica sent its delta `dseq`. */
  sent(dseq: number): void {
    const s = this.state(this.self);
    s.have = s.seen = dseq;
  }

  /** A delta `dseq` from writer `w` arrived. */
  delta(w: string, dseq: number): void {
    const s = this.state(w);
    if (dseq > s.seen) s.seen = dseq;
    if (dseq <= s.have) return;
    if (dseq === s.have + 1) {
      s.have = dseq;
      join(s);
    } else if (s.runFrom !== 0 && dseq === s.runTo + 1) {
      s.runTo = dseq;
    } else if (s.runFrom === 0 || dseq > s.runTo + 1) {
      s.runFrom = s.runTo = dseq; // a new run after a gap (the older run is forgotten: a snapshot must cover it)
    }
  }

  /** A summary said writer `w` sent up to `dseq` (more than this replica has: it lacks some). */
  claimed(w: string, dseq: number): void {
    const s = this.state(w);
    if (dseq > s.seen) s.seen = dseq;
  }

  /** A complete snapshot whose cycle began with vector `base`. */
  snapshot(base: Vector): void {
    for (const [w, v] of base) {
      if (w === this.self) continue;
      const s = this.state(w);
      if (v > s.have) s.have = v;
      join(s);
      if (s.have > s.seen) s.seen = s.have;
    }
  }

  /** Writers some of whose deltas this replica lacks, with the dseq it needs to reach. */
  needs(): Vector {
    const out: Vector = new Map();
    for (const [w, s] of this.writers) if (s.have < s.seen) out.set(w, s.seen);
    return out;
  }

  get complete(): boolean {
    for (const s of this.writers.values()) if (s.have < s.seen) return false;
    return true;
  }

  /** `have` of every writer it holds something of (the first `max` of them). */
  vector(max: number): Vector {
    const out: Vector = new Map();
    for (const [w, s] of this.writers) {
      if (out.size >= max) break;
      if (s.have > 0) out.set(w, s.have);
    }
    return out;
  }

  reset(): void {
    this.writers.clear();
    this.assemblies.clear();
  }

  // ---- snapshots being assembled ----

  /**
   * A chunk of replica `r`'s cycle. Returns the base vector when it completes
   * a snapshot (every bucket covered), else undefined. `needs` decides whether
   * an assembly under way is still worth finishing when a new cycle begins:
   * kept when its base already covers them (it then goes on across cycles).
   */
  chunk(r: string, cycle: number, index: number, from: number, to: number, vector: Vector | undefined, needs: Vector): Vector | undefined {
    let a = this.assemblies.get(r);
    if (index === 0) {
      if (a === undefined || !covers(a.base, needs)) {
        a = { base: vector ?? new Map(), cycle, next: 0, covered: new Uint8Array(BUCKETS), count: 0 };
        this.assemblies.set(r, a);
      }
      a.cycle = cycle;
      a.next = 0;
    }
    if (a === undefined) {
      // In mid-cycle: a chunk that carries the cycle's vector starts an assembly (the cycle's start comes round in the next one).
      if (vector === undefined) return undefined;
      a = { base: vector, cycle, next: index, covered: new Uint8Array(BUCKETS), count: 0 };
      this.assemblies.set(r, a);
    }
    if (a.cycle !== cycle || a.next !== index) {
      this.assemblies.delete(r); // a chunk missed: wait for the next cycle's start
      return undefined;
    }
    a.next++;
    for (let b = from; b < to; b++) {
      if (a.covered[b] === 0) {
        a.covered[b] = 1;
        a.count++;
      }
    }
    if (a.count < BUCKETS) return undefined;
    this.assemblies.delete(r);
    return a.base;
  }

  /** Replica `r`'s chunks will not come in order any more (lost, or it is gone). */
  dropAssembly(r: string): void {
    this.assemblies.delete(r);
  }
}

/** The run received beyond `have` joins it once it starts at most one past it. */
function join(s: WriterState): void {
  if (s.runFrom !== 0 && s.runFrom <= s.have + 1) {
    if (s.runTo > s.have) s.have = s.runTo;
    s.runFrom = s.runTo = 0;
  }
}

/** Whether `v` holds at least `needs` for every writer. */
export function covers(v: Vector, needs: Vector): boolean {
  for (const [w, d] of needs) if ((v.get(w) ?? 0) < d) return false;
  return true;
}

/** How many of `needs` `v` covers. */
export function coverage(v: Vector, needs: Vector): number {
  let n = 0;
  for (const [w, d] of needs) if ((v.get(w) ?? 0) >= d) n++;
  return n;
}
