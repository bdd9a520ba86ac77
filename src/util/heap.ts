/**
 * The one binary min-heap: items keyed by a number, ties broken by an order
 * number (insertion order unless the caller gives one), so that what pops is
 * a pure function of what was pushed: the memory network's runs depend on it
 * (same seed, same run), and the receiver's timers fire oldest source first.
 *
 * Keys and orders live in typed arrays beside the items: sifting compares
 * doubles in contiguous memory instead of chasing object pointers, which
 * made 1M push/pop pairs about 3× faster than a heap of objects (measured
 * for the memory network's event queue). An owner that moves or removes
 * items other than the top passes `onMove`, told every item's new slot
 * (-1 once it leaves the heap), and addresses items by that slot.
 */

const INITIAL_SLOTS = 64;

export class Heap<T> {
  private keys = new Float64Array(INITIAL_SLOTS);
  /** Tie-breakers; doubles so that an insertion counter cannot wrap in a long run. */
  private orders = new Float64Array(INITIAL_SLOTS);
  private items: (T | undefined)[] = new Array<T | undefined>(INITIAL_SLOTS).fill(undefined);
  private count = 0;
  private nextOrder = 0;

  /** `onMove(item, slot)`: the item now sits at `slot` (-1: it left the heap). */
  constructor(private readonly onMove?: (item: T, slot: number) => void) {}

  get size(): number {
    return this.count;
  }

  /**
   * Adds `item` under `key`. `order` breaks ties (lower pops first); by
   * default the next insertion number. Returns the order used.
   */
  push(key: number, item: T, order = this.nextOrder++): number {
    if (this.count === this.keys.length) this.grow();
    this.up(this.count++, key, order, item);
    return order;
  }

  /** The item with the lowest (key, order), without removing it. */
  peek(): T | undefined {
    return this.count > 0 ? this.items[0] : undefined;
  }

  /** The lowest key, or Infinity when empty. */
  peekKey(): number {
    return this.count > 0 ? this.keys[0]! : Infinity;
  }

  /** Removes and returns the item with the lowest (key, order). */
  pop(): T | undefined {
    return this.count > 0 ? this.removeAt(0) : undefined;
  }

  /** Key of the item at `slot` (a slot reported to `onMove`). */
  keyAt(slot: number): number {
    return this.keys[slot]!;
  }

  /** Gives the item at `slot` a new key (earlier or later), keeping its order. */
  update(slot: number, key: number): void {
    const order = this.orders[slot]!;
    const item = this.items[slot]!;
    if (key < this.keys[slot]!) this.up(slot, key, order, item);
    else this.down(slot, key, order, item);
  }

  /** Removes and returns the item at `slot`. */
  removeAt(slot: number): T {
    const item = this.items[slot]!;
    const n = --this.count;
    const lastKey = this.keys[n]!;
    const lastOrder = this.orders[n]!;
    const last = this.items[n]!;
    this.items[n] = undefined;
    if (slot !== n) {
      // The last item fills the hole, then moves whichever way its key says.
      const p = (slot - 1) >> 1;
      const pk = slot > 0 ? this.keys[p]! : -Infinity;
      if (lastKey < pk || (lastKey === pk && lastOrder < this.orders[p]!)) this.up(slot, lastKey, lastOrder, last);
      else this.down(slot, lastKey, lastOrder, last);
    }
    this.onMove?.(item, -1);
    return item;
  }

  /** Sifts (key, order, item) up from the hole at `i`. */
  private up(i: number, key: number, order: number, item: T): void {
    const keys = this.keys;
    const orders = this.orders;
    const items = this.items;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pk = keys[p]!;
      if (pk < key || (pk === key && orders[p]! < order)) break;
      this.place(i, pk, orders[p]!, items[p]!);
      i = p;
    }
    this.place(i, key, order, item);
  }

  /** Sifts (key, order, item) down from the hole at `i`. */
  private down(i: number, key: number, order: number, item: T): void {
    const keys = this.keys;
    const orders = this.orders;
    const items = this.items;
    const n = this.count;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      const r = c + 1;
      if (r < n) {
        const rk = keys[r]!;
        const ck = keys[c]!;
        if (rk < ck || (rk === ck && orders[r]! < orders[c]!)) c = r;
      }
      const ck = keys[c]!;
      if (key < ck || (key === ck && order < orders[c]!)) break;
      this.place(i, ck, orders[c]!, items[c]!);
      i = c;
    }
    this.place(i, key, order, item);
  }

  /** Puts (key, order, item) in slot `i` and tells the item where it is. */
  private place(i: number, key: number, order: number, item: T): void {
    this.keys[i] = key;
    this.orders[i] = order;
    this.items[i] = item;
    this.onMove?.(item, i);
  }

  private grow(): void {
    const size = this.keys.length * 2;
    const keys = new Float64Array(size);
    keys.set(this.keys);
    const orders = new Float64Array(size);
    orders.set(this.orders);
    this.keys = keys;
    this.orders = orders;
    this.items.length = size;
  }
}
