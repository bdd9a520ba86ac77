/**
 * Messages (or fragments) that arrived ahead of a gap, keyed by sequence
 * number, waiting for the gap to be repaired or given up. The data are views
 * into one private copy of their datagram, so a packed datagram is copied
 * once however many messages it holds; a view is handed to the application as is.
 *
 * A *run* is one item for all the messages of a packed datagram that arrived
 * whole and ahead of a gap (at 1 % loss on a fast stream, most of them): it
 * sits in each of its slots, is charged once, and leaves in one take(), so
 * the stream delivers it as one batch. Everything else is one item per
 * message or fragment.
 *
 * Storage is a ring indexed by sequence number (at 1 % loss most messages
 * pass through here, and a ring slot costs an array access where a Map costs
 * a hash lookup: see bench/RESULTS.md). Sequence numbers more than
 * MAX_RING_SLOTS beyond the ring's base — which only a misbehaving or hostile
 * sender produces — go to a Map instead, so memory follows what is stored,
 * not how far apart the numbers are.
 */

import { BUFFERED_ITEM_OVERHEAD_BYTES } from './constants';

export interface BufferedItem {
  /** The message or fragment; for a run, the datagram's packed records (u16 length + bytes each). */
  data: Buffer;
  /** Total message length for a fragment, -1 for a whole message (and a run). */
  fragTotal: number;
  fragOffset: number;
  /** Messages in a run (> 1), sequence numbers [first, first + count); 1 for a single item. */
  count: number;
  first: number;
  /** Slots of a run still in the buffer. */
  left: number;
}

/** One message or fragment. */
export function singleItem(data: Buffer, fragTotal: number, fragOffset: number): BufferedItem {
  return { data, fragTotal, fragOffset, count: 1, first: 0, left: 1 };
}

/** Bytes an item is charged (once for a run). */
function chargeOf(item: BufferedItem): number {
  return item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
}

const MIN_RING_SLOTS = 64;
/** Largest ring: the default window (262,144 messages) fits. */
export const MAX_RING_SLOTS = 1 << 18;

export class ReorderBuffer {
  private slots: (BufferedItem | undefined)[] = new Array<BufferedItem | undefined>(MIN_RING_SLOTS).fill(undefined);
  private mask = MIN_RING_SLOTS - 1;
  /** Sequence number held by slot `head`; the ring covers [base, base + mask]. */
  private base = 0;
  private head = 0;
  /** One past the highest sequence number in the ring (meaningful while ringCount > 0). */
  private top = 0;
  private ringCount = 0;
  private readonly far = new Map<number, BufferedItem>();
  bytes = 0;
  /** Bytes the last take() released (a run's charge when its last slot left, else the item's). */
  lastFreed = 0;

  get size(): number {
    return this.ringCount + this.far.size;
  }

  private slotOf(seq: number): number {
    const d = seq - this.base;
    return d >= 0 && d <= this.mask ? (this.head + d) & this.mask : -1;
  }

  has(seq: number): boolean {
    const i = this.slotOf(seq);
    if (i >= 0 && this.slots[i] !== undefined) return true;
    return this.far.size > 0 && this.far.has(seq);
  }

  /**
   * Stores the run `item` (count > 1, first) in its slots, all of which the
   * caller checked are empty; returns the bytes charged, or -1 (nothing
   * stored) when the run does not fit the ring — store its messages one by one then.
   */
  putRun(item: BufferedItem): number {
    const first = item.first;
    const end = first + item.count;
    if (this.ringCount === 0) {
      this.base = first;
      this.head = 0;
      this.top = first;
      if (item.count > this.mask + 1 && !this.refit(end - 1)) return -1;
    } else if ((this.slotOf(first) < 0 && !this.refit(first)) || (this.slotOf(end - 1) < 0 && !this.refit(end - 1))) {
      return -1;
    }
    for (let seq = first; seq < end; seq++) this.slots[this.slotOf(seq)] = item;
    item.left = item.count;
    this.ringCount += item.count;
    if (end > this.top) this.top = end;
    const n = chargeOf(item);
    this.bytes += n;
    return n;
  }

  /** Stores `item` at `seq` (the caller checked it is not there yet); returns the bytes charged. */
  put(seq: number, item: BufferedItem): number {
    const n = chargeOf(item);
    this.bytes += n;
    if (this.ringCount === 0) {
      this.base = seq;
      this.head = 0;
      this.top = seq + 1;
    }
    let i = this.slotOf(seq);
    if (i < 0 && this.refit(seq)) i = this.slotOf(seq);
    if (i < 0) {
      this.far.set(seq, item);
      return n;
    }
    const old = this.slots[i];
    if (old === undefined) this.ringCount++;
    else if (old.count > 1) {
      // Never expected (callers check has() first): keep the run, charge nothing.
      this.bytes -= n;
      return 0;
    } else this.bytes -= chargeOf(old);
    this.slots[i] = item;
    if (seq >= this.top) this.top = seq + 1;
    return n;
  }

  /**
   * Removes and returns the item at `seq`; for a run, all of its slots from
   * `seq` on leave with it (its messages from `seq - item.first` on are the
   * caller's to deliver). {@link lastFreed} says what it released.
   */
  take(seq: number): BufferedItem | undefined {
    let item: BufferedItem | undefined;
    const i = this.slotOf(seq);
    this.lastFreed = 0;
    if (i >= 0 && (item = this.slots[i]) !== undefined) {
      const n = item.count > 1 ? item.first + item.count - seq : 1;
      // Only the slots this item still holds (a later slot of a run may have left, or hold another item, by now).
      let freed = 0;
      for (let k = 0; k < n; k++) {
        const slot = (i + k) & this.mask;
        if (this.slots[slot] !== item) continue;
        this.slots[slot] = undefined;
        freed++;
      }
      this.ringCount -= freed;
      this.slideTo(seq + n);
      if (item.count > 1) {
        item.left -= freed;
        if (item.left === 0) {
          this.lastFreed = chargeOf(item);
          this.bytes -= this.lastFreed;
        }
        return item;
      }
    } else if (this.far.size > 0) {
      item = this.far.get(seq);
      if (item === undefined) return undefined;
      this.far.delete(seq);
    } else {
      return undefined;
    }
    this.lastFreed = chargeOf(item);
    this.bytes -= this.lastFreed;
    return item;
  }

  /**
   * Draining in order: the ring's window slides up to `target` over empty
   * slots. Without this, a gap filled straight from the wire (never buffered)
   * would leave the base behind, and the ring would grow and re-lay itself
   * instead of sliding. Amortised O(1): the base only moves forward.
   */
  private slideTo(target: number): void {
    if (this.ringCount === 0) {
      this.base = target;
      this.head = 0;
      return;
    }
    while (this.base < target && this.slots[this.head] === undefined) {
      this.base++;
      this.head = (this.head + 1) & this.mask;
    }
  }

  /** Buffered sequence numbers, unordered. */
  keys(): number[] {
    const out: number[] = [];
    if (this.ringCount > 0) {
      for (let d = 0; d <= this.mask; d++) if (this.slots[(this.head + d) & this.mask] !== undefined) out.push(this.base + d);
    }
    for (const k of this.far.keys()) out.push(k);
    return out;
  }

  /** Lowest buffered sequence number (a scan; used only when joining and on caps). */
  lowest(): number | undefined {
    let min: number | undefined;
    if (this.ringCount > 0) {
      for (let d = 0; d <= this.mask; d++) {
        if (this.slots[(this.head + d) & this.mask] !== undefined) {
          min = this.base + d;
          break;
        }
      }
    }
    for (const k of this.far.keys()) if (min === undefined || k < min) min = k;
    return min;
  }

  /** Drops everything below `seq`; returns the bytes freed. */
  dropBelow(seq: number): number {
    let freed = 0;
    if (this.ringCount > 0) {
      const end = Math.min(seq - this.base, this.mask + 1);
      for (let d = 0; d < end; d++) {
        const i = (this.head + d) & this.mask;
        const item = this.slots[i];
        if (item === undefined) continue;
        this.slots[i] = undefined;
        this.ringCount--;
        if (item.count > 1 && --item.left > 0) continue;
        freed += chargeOf(item);
      }
    }
    for (const [k, item] of this.far) {
      if (k < seq) {
        this.far.delete(k);
        freed += chargeOf(item);
      }
    }
    this.bytes -= freed;
    return freed;
  }

  clear(): number {
    const freed = this.bytes;
    this.slots.fill(undefined);
    this.ringCount = 0;
    this.far.clear();
    this.bytes = 0;
    return freed;
  }

  /** Re-lays the ring so it covers `seq` as well as what it holds; false when that span is too large. */
  private refit(seq: number): boolean {
    const lo = Math.min(this.base, seq);
    const hi = Math.max(this.top, seq + 1);
    const span = hi - lo;
    if (span > MAX_RING_SLOTS) return false;
    let cap = this.mask + 1;
    while (cap < span) cap *= 2;
    const slots = new Array<BufferedItem | undefined>(cap).fill(undefined);
    for (let d = 0; d <= this.mask; d++) {
      const item = this.slots[(this.head + d) & this.mask];
      if (item !== undefined) slots[this.base + d - lo] = item;
    }
    this.slots = slots;
    this.mask = cap - 1;
    this.base = lo;
    this.head = 0;
    return true;
  }
}
