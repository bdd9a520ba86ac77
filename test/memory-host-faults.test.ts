/**
 * Host faults of the memory network: crash (kill -9) and pause (kill -STOP)
 * of one simulated host, seen through its transports and its scheduler.
 */

import test from 'ava';
import { InvalidArgumentValueError } from '../src/util/errors';
import { MemoryNetwork, type LinkConditions } from '../src/transport/memory';
import type { DatagramBatch, Transport } from '../src/transport/transport';

const GROUP = { group: '239.255.10.2', port: 5000, loopback: false };

function tagged(i: number): Buffer {
  const b = Buffer.alloc(100);
  b.writeUInt32LE(i, 0);
  return b;
}

function record(t: Transport, into: string[], label: string, net: MemoryNetwork): void {
  t.receive((batch: DatagramBatch) => {
    for (let i = 0; i < batch.count; i++) into.push(`${net.nowMs()} ${label} ${batch.datagram(i).readUInt32LE(0)}`);
  });
}

/** Hosts a and b, one transport each on GROUP, what each receives logged as `time host index`. */
function twoHosts(seed: number, link?: LinkConditions) {
  const net = new MemoryNetwork({ seed, link });
  const a = net.host('a');
  const b = net.host('b');
  const log: string[] = [];
  const ta = net.createTransport(a, GROUP);
  const tb = net.createTransport(b, GROUP);
  record(ta, log, 'a', net);
  record(tb, log, 'b', net);
  return { net, a, b, ta, tb, log };
}

test('a crashed host stops dead: its timers never fire, it receives and sends nothing, and what opens on it afterwards runs', (t) => {
  const { net, b, ta, tb, log } = twoHosts(1, { delayMs: 1 });
  const clock = net.hostScheduler(b);
  let fired = 0;
  clock.setTimer(() => fired++, 5);
  net.setTimer(() => fired += 100, 5); // the network's own timer is nobody's host: it runs
  tb.send([tagged(1)]);
  ta.send([tagged(2)]);
  net.crash(b);
  tb.send([tagged(3)]); // a dead process sends nothing: no error, no datagram
  ta.send([tagged(4)]);
  net.advance(10);
  t.is(fired, 100);
  t.deepEqual(log, ['1 a 1'], 'b received nothing after the crash, and what it sent before the crash still arrives');
  clock.setTimer(() => (fired += 1000), 1); // armed by what ran before the crash: dead too
  const again = net.createTransport(b, GROUP);
  record(again, log, 'b2', net);
  net.hostScheduler(b).setTimer(() => fired++, 1);
  ta.send([tagged(5)]);
  net.advance(2);
  t.is(fired, 101, 'a timer armed after the crash runs');
  t.deepEqual(log.slice(1), ['11 b2 5']);
});

test('a paused host runs its overdue timers when the pause ends, then the datagrams its socket held, in order', (t) => {
  const { net, b, ta, log } = twoHosts(2);
  const clock = net.hostScheduler(b);
  clock.setTimer(() => log.push(`${net.nowMs()} timer 1`), 3);
  clock.setTimer(() => log.push(`${net.nowMs()} timer 2`), 4);
  clock.setTimer(() => log.push(`${net.nowMs()} timer 3`), 30);
  net.pause(b, 10);
  t.true(b.paused);
  net.setTimer(() => ta.send([tagged(1), tagged(2)]), 5);
  net.advance(9);
  t.deepEqual(log, [], 'nothing runs on a paused host');
  net.advance(25);
  t.false(b.paused);
  t.deepEqual(log, ['10 timer 1', '10 timer 2', '10 b 1', '10 b 2', '30 timer 3']);
});

test('a paused host\'s socket holds recvBufferBytes; what does not fit is dropped and counted as kernel drops', (t) => {
  const net = new MemoryNetwork({ seed: 3 });
  const ta = net.createTransport(net.host('a'), GROUP);
  const tb = net.createTransport(net.host('b'), { ...GROUP, recvBufferBytes: 250 });
  const log: string[] = [];
  record(tb, log, 'b', net);
  net.pause('b', 5);
  for (let i = 0; i < 4; i++) ta.send([tagged(i)]);
  net.advance(6);
  t.deepEqual(log, ['5 b 0', '5 b 1'], 'two 100-byte datagrams fit in 250 bytes');
  t.is(tb.stats().kernelDrops, 2);
});

test('pausing a paused host extends the pause to the later end; crashing it ends the pause for good', (t) => {
  const net = new MemoryNetwork({ seed: 4 });
  const b = net.host('b');
  let fired = -1;
  net.hostScheduler(b).setTimer(() => (fired = net.nowMs()), 1);
  net.pause(b, 10);
  net.advance(2);
  net.pause(b, 20);
  net.pause(b, 1); // shorter: no effect
  net.advance(15);
  t.is(fired, -1);
  net.advance(10);
  t.is(fired, 22);
  net.hostScheduler(b).setTimer(() => (fired = -2), 1);
  net.pause(b, 5);
  net.crash(b);
  t.false(b.paused);
  net.advance(10);
  t.is(fired, 22, 'the parked timer died with the host');
});

test('host faults name their host and their duration, or throw a typed error', (t) => {
  const net = new MemoryNetwork({ seed: 5 });
  net.host('a');
  t.throws(() => net.crash('nobody'), { instanceOf: InvalidArgumentValueError });
  t.throws(() => net.pause('nobody', 1), { instanceOf: InvalidArgumentValueError });
  t.throws(() => net.pause('a', -1), { instanceOf: InvalidArgumentValueError });
  t.throws(() => net.pause('a', Infinity), { instanceOf: InvalidArgumentValueError });
  t.throws(() => net.hostScheduler('nobody'), { instanceOf: InvalidArgumentValueError });
});
