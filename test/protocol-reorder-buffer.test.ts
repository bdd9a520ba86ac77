import test from 'ava';
import fc from 'fast-check';
import { MAX_RING_SLOTS, ReorderBuffer } from '../src/protocol/reorder-buffer';

type Op = { op: 'put' | 'take' | 'drop'; seq: number };

const seqArb = fc.oneof(
  { weight: 8, arbitrary: fc.integer({ min: 0, max: 500 }) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 4 * MAX_RING_SLOTS }) },
  { weight: 1, arbitrary: fc.integer({ min: 2 ** 40, max: 2 ** 40 + 100 }) },
);
const opArb: fc.Arbitrary<Op> = fc.record({ op: fc.constantFrom<Op['op']>('put', 'put', 'take', 'drop'), seq: seqArb });

test('the reorder buffer behaves like a map from sequence number to item, whatever the numbers', (t) => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 300 }), (ops) => {
    const buf = new ReorderBuffer();
    const model = new Map<number, Buffer>();
    for (const { op, seq } of ops) {
      if (op === 'put') {
        if (model.has(seq)) continue; // callers check has() first
        const data = Buffer.from(String(seq));
        model.set(seq, data);
        buf.put(seq, { data, fragTotal: -1, fragOffset: 0 });
      } else if (op === 'take') {
        const got = buf.take(seq);
        const want = model.get(seq);
        model.delete(seq);
        if (got?.data !== want) return false;
      } else {
        buf.dropBelow(seq);
        for (const k of [...model.keys()]) if (k < seq) model.delete(k);
      }
      if (buf.size !== model.size) return false;
      for (const k of model.keys()) if (!buf.has(k)) return false;
      const keys = buf.keys().sort((a, b) => a - b);
      const want = [...model.keys()].sort((a, b) => a - b);
      if (JSON.stringify(keys) !== JSON.stringify(want)) return false;
      if (buf.lowest() !== (want.length ? want[0] : undefined)) return false;
      const bytes = [...model.values()].reduce((s, d) => s + d.length, 0);
      if (buf.bytes !== bytes + model.size * 48) return false;
    }
    return true;
  }), { numRuns: 500 });
  t.pass();
});

test('draining in order slides the ring without growing it', (t) => {
  const buf = new ReorderBuffer();
  for (let seq = 1; seq < 1_000_000; seq++) {
    buf.put(seq, { data: Buffer.alloc(1), fragTotal: -1, fragOffset: 0 });
    if (seq > 10) t.truthy(buf.take(seq - 10)) || t.fail();
  }
  t.is(buf.size, 10);
  t.true((buf as unknown as { mask: number }).mask < 64);
});
