import test from 'ava';
import fc from 'fast-check';
import { Heap } from '../src/util/heap';

interface Item {
  id: number;
  slot: number;
}

type Op = { op: 'push' | 'pop' | 'update' | 'remove'; key: number; pick: number };

const opArb: fc.Arbitrary<Op> = fc.record({
  op: fc.constantFrom<Op['op']>('push', 'push', 'pop', 'update', 'remove'),
  // Few distinct keys, so that ties (and their order) are exercised.
  key: fc.integer({ min: 0, max: 8 }),
  pick: fc.nat(),
});

test('pops in (key, insertion order) order, through updates and removals of any slot', (t) => {
  fc.assert(fc.property(fc.array(opArb, { maxLength: 400 }), (ops) => {
    const heap = new Heap<Item>((item, slot) => {
      item.slot = slot;
    });
    const model = new Map<Item, { key: number; order: number }>();
    const lowest = (): Item | undefined => {
      let best: Item | undefined;
      for (const [item, k] of model) {
        const b = best === undefined ? undefined : model.get(best)!;
        if (b === undefined || k.key < b.key || (k.key === b.key && k.order < b.order)) best = item;
      }
      return best;
    };
    let id = 0;
    for (const o of ops) {
      const live = [...model.keys()];
      if (o.op === 'push') {
        const item: Item = { id: id++, slot: -1 };
        const order = heap.push(o.key, item);
        model.set(item, { key: o.key, order });
      } else if (o.op === 'pop') {
        const want = lowest();
        if (heap.pop() !== want) return false;
        if (want) {
          if (want.slot !== -1) return false;
          model.delete(want);
        }
      } else if (live.length > 0) {
        const item = live[o.pick % live.length]!;
        if (heap.keyAt(item.slot) !== model.get(item)!.key) return false;
        if (o.op === 'update') {
          heap.update(item.slot, o.key);
          model.get(item)!.key = o.key;
        } else {
          if (heap.removeAt(item.slot) !== item || item.slot !== -1) return false;
          model.delete(item);
        }
      }
      if (heap.size !== model.size || heap.peek() !== lowest()) return false;
      if (heap.peekKey() !== (heap.size === 0 ? Infinity : model.get(lowest()!)!.key)) return false;
    }
    return true;
  }));
  t.pass();
});

test('an explicit order decides ties between equal keys', (t) => {
  const heap = new Heap<string>();
  heap.push(5, 'late', 10);
  heap.push(5, 'early', 2);
  heap.push(4, 'first');
  t.deepEqual([heap.pop(), heap.pop(), heap.pop(), heap.pop()], ['first', 'early', 'late', undefined]);
});
