/**
 * The receiver's timers, one per source: a binary min-heap of sources keyed
 * by when their next timer (status, NAK, source timeout) may be due, so that
 * finding the next wake-up and the sources due now costs O(log n) per
 * source touched instead of a scan over every tracked source (up to
 * maxSources, most of them idle under a flood of fake sessions).
 *
 * Keys are lower bounds, refreshed lazily: a change that makes a source due
 * sooner must lower its key at once ({@link TimerHeap.update}); one that
 * makes it due later (data heard, a gap filled) need not touch the heap: the
 * owner recomputes the true due time when the entry reaches the top and
 * files it again.
 */

/** What the heap keeps in each entry (the entries are the sources themselves: no allocation per update). */
export interface TimerEntry {
  /** The key it is filed under (≤ its true next due time, ms); Infinity when not filed. */
  timerAtMs: number;
  /** Its index in the heap, -1 when not filed. */
  timerSlot: number;
  /** When it was first filed, relative to the others (ties on the key go to the older one). */
  timerOrder: number;
}

export class TimerHeap<T extends TimerEntry> {
  private readonly heap: T[] = [];
  private filed = 0;

  get size(): number {
    return this.heap.length;
  }

  /** The entry with the earliest key, without removing it. */
  peek(): T | undefined {
    return this.heap[0];
  }

  /** Files a new entry under `atMs`. */
  add(e: T, atMs: number): void {
    e.timerOrder = this.filed++;
    this.insert(e, atMs);
  }

  /** Files `e` again under `atMs` (after {@link pop}), keeping its order among equal keys. */
  insert(e: T, atMs: number): void {
    e.timerAtMs = atMs;
    e.timerSlot = this.heap.length;
    this.heap.push(e);
    this.up(e.timerSlot);
  }

  /** Moves a filed entry to `atMs` (earlier or later); an entry not filed is left alone (its owner files it when done with it). */
  update(e: T, atMs: number): void {
    const i = e.timerSlot;
    if (i < 0) return;
    const was = e.timerAtMs;
    e.timerAtMs = atMs;
    if (atMs < was) this.up(i);
    else this.down(i);
  }

  /** Removes and returns the entry with the earliest key. */
  pop(): T | undefined {
    const top = this.heap[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  /** Removes `e` if it is filed. */
  remove(e: T): void {
    const i = e.timerSlot;
    if (i < 0) return;
    e.timerSlot = -1;
    e.timerAtMs = Infinity;
    const last = this.heap.pop()!;
    if (last === e) return;
    this.heap[i] = last;
    last.timerSlot = i;
    this.down(i);
    this.up(last.timerSlot);
  }

  private before(a: T, b: T): boolean {
    return a.timerAtMs < b.timerAtMs || (a.timerAtMs === b.timerAtMs && a.timerOrder < b.timerOrder);
  }

  private up(i: number): void {
    const h = this.heap;
    const e = h[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p]!;
      if (!this.before(e, parent)) break;
      h[i] = parent;
      parent.timerSlot = i;
      i = p;
    }
    h[i] = e;
    e.timerSlot = i;
  }

  private down(i: number): void {
    const h = this.heap;
    const n = h.length;
    const e = h[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(h[r]!, h[l]!) ? r : l;
      const child = h[c]!;
      if (!this.before(child, e)) break;
      h[i] = child;
      child.timerSlot = i;
      i = c;
    }
    h[i] = e;
    e.timerSlot = i;
  }
}
