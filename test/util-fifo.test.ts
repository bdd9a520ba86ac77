import test from 'ava';
import { Fifo, FIFO_KEEP_SLOTS } from '../src/util/fifo';

test('shifts items in the order they were pushed, across wrap-around and growth', (t) => {
  const q = new Fifo<number>();
  const want: number[] = [];
  let next = 0;
  const got: number[] = [];
  // Uneven push/shift rounds move the head around the ring while it grows.
  for (let round = 0; round < 200; round++) {
    for (let k = 0; k < (round % 7) + 1; k++) {
      q.push(next);
      want.push(next++);
    }
    for (let k = 0; k < (round % 5) + 1 && q.length > 0; k++) got.push(q.shift()!);
  }
  while (q.length > 0) got.push(q.shift()!);
  t.deepEqual(got, want);
  t.is(q.shift(), undefined);
  t.is(q.peek(), undefined);
});

test('at(i) and peek() read from the head without removing', (t) => {
  const q = new Fifo<string>();
  for (let i = 0; i < 40; i++) q.push(`m${i}`);
  for (let i = 0; i < 25; i++) q.shift();
  for (let i = 40; i < 60; i++) q.push(`m${i}`);
  t.is(q.length, 35);
  t.is(q.peek(), 'm25');
  t.is(q.at(0), 'm25');
  t.is(q.at(34), 'm59');
  t.is(q.length, 35);
});

test('clear() empties the queue, and a ring grown by a burst is usable again after draining', (t) => {
  const q = new Fifo<number>();
  for (let i = 0; i < FIFO_KEEP_SLOTS * 4; i++) q.push(i);
  while (q.length > 1) q.shift();
  t.is(q.shift(), FIFO_KEEP_SLOTS * 4 - 1);
  q.push(7);
  t.is(q.peek(), 7);
  q.clear();
  t.is(q.length, 0);
  t.is(q.shift(), undefined);
  q.push(8);
  t.is(q.shift(), 8);
});
