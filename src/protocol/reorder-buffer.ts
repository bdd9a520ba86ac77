/**
 * Messages (or fragments) that arrived ahead of a gap, keyed by sequence
 * number, waiting for the gap to be repaired or given up. The data are views
 * into one private copy of their datagram, so a packed datagram is copied
 * once however many messages it holds; a view is handed to the application as is.
 *
 * Storage is a ring indexed by sequence number (at 1 % loss most messages
 * pass through here, and a ring slot costs an array access where a Map costs
 * a hash lookup: see bench/RESULTS.md). Sequence numbers more than
 * MAX_RING_SLOTS beyond the ring's base — which only a misbehaving or hostile
 * sender produces — go to a Map instead, so memory follows what is stored,
 * not how far apart the numbers are.
 */

import { BUFFERED_ITEM_OVERHEAD_BYTES } from '../constants';

export interface BufferedItem {
  data: Buffer;
  /** Total message length for a fragment, -1 for a whole message. */
  fragTotal: number;
  fragOffset: number;
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

  /** Stores `item` at `seq` (the caller checked it is not there yet); returns the bytes charged. */
  put(seq: number, item: BufferedItem): number {
    const n = item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
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
    if (this.slots[i] === undefined) this.ringCount++;
    else this.bytes -= this.slots[i]!.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
    this.slots[i] = item;
    if (seq >= this.top) this.top = seq + 1;
    return n;
  }

  /** Removes and returns the item at `seq`. */
  take(seq: number): BufferedItem | undefined {
    let item: BufferedItem | undefined;
    const i = this.slotOf(seq);
    if (i >= 0 && (item = this.slots[i]) !== undefined) {
      this.slots[i] = undefined;
      this.ringCount--;
      if (seq === this.base) {
        // The common case (draining in order): the ring's window slides with it.
        this.base++;
        this.head = (this.head + 1) & this.mask;
      }
    } else if (this.far.size > 0) {
      item = this.far.get(seq);
      if (item === undefined) return undefined;
      this.far.delete(seq);
    } else {
      return undefined;
    }
    this.bytes -= item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
    return item;
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
        freed += item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
      }
    }
    for (const [k, item] of this.far) {
      if (k < seq) {
        this.far.delete(k);
        freed += item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
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
