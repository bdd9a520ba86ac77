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
 *
 * The sifting is src/util/heap.ts's; this file keeps each source's key, slot
 * and order on the source itself, where the receiver reads them.
 */

import { Heap } from '../util/heap';

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
  private readonly heap = new Heap<T>((e, slot) => {
    e.timerSlot = slot;
  });

  get size(): number {
    return this.heap.size;
  }

  /** The entry with the earliest key, without removing it. */
  peek(): T | undefined {
    return this.heap.peek();
  }

  /** Files a new entry under `atMs`. */
  add(e: T, atMs: number): void {
    e.timerAtMs = atMs;
    e.timerOrder = this.heap.push(atMs, e);
  }

  /** Files `e` again under `atMs` (after {@link pop}), keeping its order among equal keys. */
  insert(e: T, atMs: number): void {
    e.timerAtMs = atMs;
    this.heap.push(atMs, e, e.timerOrder);
  }

  /** Moves a filed entry to `atMs` (earlier or later); an entry not filed is left alone (its owner files it when done with it). */
  update(e: T, atMs: number): void {
    if (e.timerSlot < 0) return;
    e.timerAtMs = atMs;
    this.heap.update(e.timerSlot, atMs);
  }

  /** Removes and returns the entry with the earliest key. */
  pop(): T | undefined {
    const e = this.heap.pop();
    if (e !== undefined) e.timerAtMs = Infinity;
    return e;
  }

  /** Removes `e` if it is filed. */
  remove(e: T): void {
    if (e.timerSlot < 0) return;
    this.heap.removeAt(e.timerSlot);
    e.timerAtMs = Infinity;
  }
}
