/**
 * The missing ranges of one (source, stream): sequence numbers known to
 * exist (from data or a heartbeat's lead) that have neither arrived nor been
 * given up. Each gap carries its NAK state (see nak-scheduler.ts); ranges
 * split when part of them arrives or is confirmed.
 *
 * Invariant kept with the receive stream: gaps ∪ buffered ∪ declared-lost
 * = [nextDeliver, highestNext).
 */

export const GapState = {
  /** Waiting out the random back-off before NAKing. */
  BACKOFF: 0,
  /** NAKed (or suppressed by an overheard NAK / NCF): waiting for the repair. */
  WAITING: 1,
} as const;

export interface Gap {
  from: number;
  to: number;
  state: number;
  dueMs: number;
  /** NAKs sent or overheard for this gap so far. */
  retries: number;
  /** When the gap was noticed (ms): a repair that fills it measures the repair latency from here. */
  openedMs: number;
  /** When this receiver sent the gap's first NAK, or -1 (not yet, or asked again or by another: a repair then times nothing, Karn's rule). */
  nakMs: number;
}

export class GapList {
  readonly gaps: Gap[] = [];
  /** After a {@link remove} that removed something: the earliest `openedMs` of the gaps it touched. */
  filledOpenedMs = Infinity;
  /** After a {@link remove} that removed something: the `nakMs` of the first gap it touched (-1: nothing to time). */
  filledNakMs = -1;

  get length(): number {
    return this.gaps.length;
  }

  /** Adds [from, to] (disjoint from every gap), noticed at `openedMs`. */
  add(from: number, to: number, state: number, dueMs: number, openedMs: number): void {
    const g: Gap = { from, to, state, dueMs, retries: 0, openedMs, nakMs: -1 };
    const gs = this.gaps;
    if (gs.length === 0 || gs[gs.length - 1]!.to < from) {
      gs.push(g);
      return;
    }
    let i = this.firstEndingAtOrAfter(from);
    gs.splice(i, 0, g);
  }

  /** Index of the first gap with to >= seq. */
  private firstEndingAtOrAfter(seq: number): number {
    const gs = this.gaps;
    let lo = 0;
    let hi = gs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (gs[mid]!.to < seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Whether any gap overlaps [from, to]. */
  overlaps(from: number, to: number): boolean {
    const i = this.firstEndingAtOrAfter(from);
    const g = this.gaps[i];
    return g !== undefined && g.from <= to;
  }

  /**
   * Splits gaps so that [from, to] starts and ends on gap boundaries and returns
   * the gaps now inside it (live references, in order).
   */
  isolate(from: number, to: number): Gap[] {
    const gs = this.gaps;
    let i = this.firstEndingAtOrAfter(from);
    const inside: Gap[] = [];
    while (i < gs.length && gs[i]!.from <= to) {
      let g = gs[i]!;
      if (g.from < from) {
        const head: Gap = { ...g, to: from - 1 };
        g.from = from;
        gs.splice(i, 0, head);
        i++;
      }
      if (g.to > to) {
        const tail: Gap = { ...g, from: to + 1 };
        g.to = to;
        gs.splice(i + 1, 0, tail);
      }
      inside.push(g);
      i++;
    }
    return inside;
  }

  /** Removes [from, to] from the gaps; returns how many sequence numbers were missing in it (and sets {@link filledOpenedMs}). */
  remove(from: number, to: number): number {
    const gs = this.gaps;
    if (gs.length === 0) return 0;
    const last = gs[gs.length - 1]!;
    if (from > last.to) return 0;
    let i = this.firstEndingAtOrAfter(from);
    let removed = 0;
    let opened = Infinity;
    const firstNakMs = i < gs.length ? gs[i]!.nakMs : -1;
    while (i < gs.length && gs[i]!.from <= to) {
      const g = gs[i]!;
      if (g.openedMs < opened) opened = g.openedMs;
      const a = Math.max(g.from, from);
      const b = Math.min(g.to, to);
      removed += b - a + 1;
      if (a === g.from && b === g.to) {
        gs.splice(i, 1);
      } else if (a === g.from) {
        g.from = b + 1;
        i++;
      } else if (b === g.to) {
        g.to = a - 1;
        i++;
      } else {
        const tail: Gap = { ...g, from: b + 1 };
        g.to = a - 1;
        gs.splice(i + 1, 0, tail);
        i += 2;
      }
    }
    if (removed > 0) {
      this.filledOpenedMs = opened;
      this.filledNakMs = firstNakMs;
    }
    return removed;
  }

  /** Removes and returns the parts of gaps inside [from, to], in order. */
  take(from: number, to: number): { from: number; to: number }[] {
    const inside = this.isolate(from, to);
    if (inside.length === 0) return [];
    const first = this.gaps.indexOf(inside[0]!);
    this.gaps.splice(first, inside.length);
    return inside.map((g) => ({ from: g.from, to: g.to }));
  }

  /** Earliest due time of any gap, or undefined. */
  nextDueMs(): number | undefined {
    let min: number | undefined;
    for (const g of this.gaps) if (min === undefined || g.dueMs < min) min = g.dueMs;
    return min;
  }

  /** Missing sequence numbers in total. */
  missing(): number {
    let n = 0;
    for (const g of this.gaps) n += g.to - g.from + 1;
    return n;
  }
}
