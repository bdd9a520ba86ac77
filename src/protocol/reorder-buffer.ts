/**
 * Messages (or fragments) that arrived ahead of a gap, keyed by sequence
 * number, waiting for the gap to be repaired or given up. The data are views
 * into one private copy of their datagram, so a packed datagram is copied
 * once however many messages it holds; a view is handed to the application as is.
 */

import { BUFFERED_ITEM_OVERHEAD_BYTES } from '../constants';

export interface BufferedItem {
  data: Buffer;
  /** Total message length for a fragment, -1 for a whole message. */
  fragTotal: number;
  fragOffset: number;
}

export class ReorderBuffer {
  private readonly items = new Map<number, BufferedItem>();
  bytes = 0;

  get size(): number {
    return this.items.size;
  }

  has(seq: number): boolean {
    return this.items.has(seq);
  }

  put(seq: number, item: BufferedItem): number {
    this.items.set(seq, item);
    const n = item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
    this.bytes += n;
    return n;
  }

  /** Removes and returns the item at `seq`. */
  take(seq: number): BufferedItem | undefined {
    const item = this.items.get(seq);
    if (item === undefined) return undefined;
    this.items.delete(seq);
    this.bytes -= item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
    return item;
  }

  /** Buffered sequence numbers, unordered. */
  keys(): number[] {
    return [...this.items.keys()];
  }

  /** Lowest buffered sequence number (linear; used only when joining and on caps). */
  lowest(): number | undefined {
    let min: number | undefined;
    for (const k of this.items.keys()) if (min === undefined || k < min) min = k;
    return min;
  }

  /** Drops everything below `seq`; returns the bytes freed. */
  dropBelow(seq: number): number {
    let freed = 0;
    for (const [k, item] of this.items) {
      if (k < seq) {
        this.items.delete(k);
        const n = item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES;
        this.bytes -= n;
        freed += n;
      }
    }
    return freed;
  }

  clear(): number {
    const freed = this.bytes;
    this.items.clear();
    this.bytes = 0;
    return freed;
  }
}
