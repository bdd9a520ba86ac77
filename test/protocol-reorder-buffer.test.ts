import test from 'ava';
import fc from 'fast-check';
import { MAX_RING_SLOTS, ReorderBuffer, singleItem, type BufferedItem } from '../src/protocol/reorder-buffer';

type Op = { op: 'put' | 'run' | 'take' | 'drop'; seq: number; count: number };

const seqArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 500 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 * MAX_RING_SLOTS }) },
  { weight: 1, arbitrary: fc.integer({ min: 2 ** 40, max: 2 ** 40 + 100 }) },
);
const opArb: fc.Arbitrary<Op> = fc.record({ op: fc.constantFrom<Op['op']>('put', 'put', 'run', 'take', 'drop'), seq: seqArb, count: fc.integer({ min: 2, max: 40 }) });

test('the reorder buffer behaves like a map from sequence number to item, whatever the numbers, runs included', (t) => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
    const buf = new ReorderBuffer();
    // seq → the item stored for it (a run appears under each of its sequence numbers).
    const model = new Map<number, BufferedItem>();
    const runLeft = new Map<BufferedItem, number>();
    const release = (item: BufferedItem, n: number): void => {
      if (item.count > 1) runLeft.set(item, runLeft.get(item)! - n);
    };
    for (const { op, seq, count } of ops) {
      if (op === 'put') {
        if (model.has(seq)) continue; // callers check has() first
        const item = singleItem(Buffer.from(String(seq)), -1, 0);
        model.set(seq, item);
        buf.put(seq, item);
      } else if (op === 'run') {
        let free = true;
        for (let k = seq; k < seq + count; k++) if (model.has(k)) free = false;
        if (!free) continue;
        const item: BufferedItem = { data: Buffer.alloc(count * 3, seq & 0xff), fragTotal: -1, fragOffset: 0, count, first: seq, left: count };
        const sizeBefore = buf.size;
        if (buf.putRun(item) < 0) {
          if (buf.size !== sizeBefore) return false; // a run that does not fit stores nothing
          continue;
        }
        for (let k = seq; k < seq + count; k++) model.set(k, item);
        runLeft.set(item, count);
      } else if (op === 'take') {
        const got = buf.take(seq);
        const want = model.get(seq);
        if (got !== want) return false;
        if (want === undefined) continue;
        // A run leaves from seq to its end: the slots it still holds (one taken earlier may hold another item by now).
        const end = want.count > 1 ? want.first + want.count : seq + 1;
        let left = 0;
        for (let k = seq; k < end; k++) {
          if (model.get(k) !== want) continue;
          model.delete(k);
          left++;
        }
        release(want, left);
        if (want.count > 1 && (runLeft.get(want) === 0) !== (buf.lastFreed > 0)) return false;
      } else {
        buf.dropBelow(seq);
        for (const [k, item] of [...model]) {
          if (k < seq) {
            model.delete(k);
            release(item, 1);
          }
        }
      }
      if (buf.size !== model.size) return false;
      for (const k of model.keys()) if (!buf.has(k)) return false;
      const keys = buf.keys().sort((a, b) => a - b);
      const want = [...model.keys()].sort((a, b) => a - b);
      if (JSON.stringify(keys) !== JSON.stringify(want)) return false;
      if (buf.lowest() !== (want.length ? want[0] : undefined)) return false;
      // Singles are charged per item, runs once while any of their slots is held.
      let bytes = 0;
      for (const item of new Set(model.values())) bytes += item.data.length + 48;
      if (buf.bytes !== bytes) return false;
    }
    return true;
  }), { numRuns: 500, examples: [[[{ op: 'run', seq: 0, count: 2 }, { op: 'take', seq: 1, count: 2 }, { op: 'take', seq: 0, count: 2 }]]] });
  t.pass();
});

test('draining in order slides the ring without growing it', (t) => {
  const buf = new ReorderBuffer();
  for (let seq = 1; seq < 1_000_000; seq++) {
    buf.put(seq, singleItem(Buffer.alloc(1), -1, 0));
    if (seq > 10) t.truthy(buf.take(seq - 10)) || t.fail();
  }
  t.is(buf.size, 10);
  t.true((buf as unknown as { mask: number }).mask < 64);
});
