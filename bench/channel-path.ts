/**
 * Hot-path micro-benchmark of the whole channel, in one process, without the
 * kernel: what one message costs from `channel.write()` to the datagram handed
 * to the transport, and from a received batch of datagrams to the
 * application's handler. The transport underneath is real (native, loopback)
 * but wrapped: sends are captured instead of sent, and received batches are
 * injected, 64 datagrams at a time (one recvmmsg's worth), one per
 * event-loop turn. The lab benchmarks add the kernel and the wire.
 *
 *   npm run build && node dist/bench/channel-path.js [--runs N]
 *
 * Receive is measured for the per-message API (`readable.on('data')`) and
 * for the batch API (`channel.on('messages')`), which skips the stream.
 */

import { parseArgs } from 'node:util';
import { open, type Channel, type Message } from '../src/api/channel';
import type { DatagramBatch, RemoteInfo, Transport } from '../src/transport/transport';
import { formatTable, median } from './table';

const BATCH = 64;

/** A transport whose sends are captured and whose receive batches come from {@link inject}. */
class Tap {
  sent: Uint8Array[] = [];
  capture = true;
  handler: ((batch: DatagramBatch) => void) | undefined;
  wrap = (inner: Transport): Transport => {
    const tap = this;
    return {
      kind: inner.kind,
      info: inner.info,
      receive(handler) {
        tap.handler = handler;
      },
      send(datagrams) {
        // References, not copies: the sender's window keeps its datagrams (1 GiB window, no flow control) unchanged.
        if (tap.capture) for (const d of datagrams) tap.sent.push(d);
        return datagrams.length;
      },
      close: () => inner.close(),
      stats: () => inner.stats(),
      onError: (l) => inner.onError(l),
    };
  };
}

const SOURCE: RemoteInfo = { address: '127.0.0.1', port: 1, family: 4 };

function batchOf(datagrams: readonly Uint8Array[]): DatagramBatch {
  const total = datagrams.reduce((n, d) => n + d.length, 0);
  const buffer = Buffer.allocUnsafe(total);
  const offsets = new Uint32Array(datagrams.length);
  const lengths = new Uint32Array(datagrams.length);
  let at = 0;
  datagrams.forEach((d, i) => {
    buffer.set(d, at);
    offsets[i] = at;
    lengths[i] = d.length;
    at += d.length;
  });
  return {
    count: datagrams.length, buffer, offsets, lengths, shared: false,
    source: () => SOURCE, destination: () => undefined, datagram: (i) => buffer.subarray(offsets[i]!, offsets[i]! + lengths[i]!),
  };
}

function group(): string {
  return `239.255.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

function turn(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

function cpuNs(since: NodeJS.CpuUsage): number {
  const c = process.cpuUsage(since);
  return (c.user + c.system) * 1000;
}

/** Sender: ns/message of write() (256 per turn), or of writeMany() of 256, until every datagram reached the transport. Returns the datagrams too. */
async function sendOnce(size: number, count: number, api: 'write' | 'writeMany' = 'write'): Promise<{ nsPerMsg: number; datagrams: Uint8Array[] }> {
  const tap = new Tap();
  const tx = await open({ group: group(), interface: '127.0.0.1', ttl: 0, wrapTransport: tap.wrap, flowControl: 'none', windowBytes: 1 << 30 });
  const msg = Buffer.alloc(size, 0x61);
  const many = api === 'writeMany' ? Array.from({ length: 256 }, () => Buffer.alloc(size, 0x61)) : [];
  const cpu0 = process.cpuUsage();
  if (api === 'write') {
    for (let i = 0; i < count; i++) {
      msg.writeUInt32LE(i, 0);
      tx.write(msg);
      if (i % 256 === 255) await turn();
    }
  } else {
    for (let i = 0; i < count; i += 256) {
      for (let k = 0; k < 256; k++) many[k]!.writeUInt32LE(i + k, 0);
      tx.writeMany(many);
      await turn();
    }
  }
  await turn();
  const nsPerMsg = cpuNs(cpu0) / count;
  // A heartbeat (it tells an 'earliest' receiver where the stream starts) goes first.
  while (!tap.sent.some((d) => d[3] === 2)) await new Promise((r) => setTimeout(r, 20));
  const hb = tap.sent.find((d) => d[3] === 2)!;
  const datagrams = [hb, ...tap.sent.filter((d) => d[3] === 1)];
  tap.capture = false;
  await tx.close();
  return { nsPerMsg, datagrams };
}

/** Receiver: ns/message from injected batches to the application's handler. */
async function receiveOnce(datagrams: Uint8Array[], count: number, api: 'data' | 'messages'): Promise<number> {
  const tap = new Tap();
  const rx: Channel = await open({ group: group(), interface: '127.0.0.1', ttl: 0, wrapTransport: tap.wrap, lateJoin: 'earliest', maxReadBufferBytes: 1 << 30 });
  const batches: DatagramBatch[] = [];
  for (let i = 0; i < datagrams.length; i += BATCH) batches.push(batchOf(datagrams.slice(i, i + BATCH)));
  let seen = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  if (api === 'data') {
    rx.readable.on('data', (m: Message) => {
      seen += m.data[0]! >= 0 ? 1 : 0;
      if (seen === count) done();
    });
  } else {
    rx.on('messages', (batch) => {
      for (let i = 0; i < batch.count; i++) seen += batch.data(i)[0]! >= 0 ? 1 : 0;
      if (seen === count) done();
    });
  }
  const cpu0 = process.cpuUsage();
  for (const b of batches) {
    tap.handler!(b);
    await turn();
  }
  await finished;
  const ns = cpuNs(cpu0) / count;
  await rx.close();
  return ns;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { runs: { type: 'string' } } });
  const runs = Number(values.runs ?? 5);
  const rows: string[][] = [];
  for (const size of [64, 1024]) {
    const count = size === 64 ? 500_000 : 100_000;
    const send: number[] = [];
    let datagrams: Uint8Array[] = [];
    for (let i = 0; i <= runs; i++) {
      const r = await sendOnce(size, count);
      if (i > 0) send.push(r.nsPerMsg); // the first run warms the JIT up
      datagrams = r.datagrams;
    }
    rows.push([`${size} B`, 'write() → transport', median(send).toFixed(0), `${Math.min(...send).toFixed(0)}–${Math.max(...send).toFixed(0)}`, (1e3 / median(send)).toFixed(2)]);
    const many: number[] = [];
    for (let i = 0; i <= runs; i++) {
      const r = await sendOnce(size, count, 'writeMany');
      if (i > 0) many.push(r.nsPerMsg);
    }
    rows.push([`${size} B`, 'writeMany(256) → transport', median(many).toFixed(0), `${Math.min(...many).toFixed(0)}–${Math.max(...many).toFixed(0)}`, (1e3 / median(many)).toFixed(2)]);
    for (const api of ['data', 'messages'] as const) {
      const recv: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const ns = await receiveOnce(datagrams, count, api);
        if (i > 0) recv.push(ns);
      }
      const label = api === 'data' ? "batches → readable 'data' (per message)" : "batches → 'messages' (per batch)";
      rows.push([`${size} B`, label, median(recv).toFixed(0), `${Math.min(...recv).toFixed(0)}–${Math.max(...recv).toFixed(0)}`, (1e3 / median(recv)).toFixed(2)]);
    }
  }
  console.log(`channel hot paths without the kernel (transport wrapped), node ${process.version}, median of ${runs} runs, CPU time\n`);
  console.log(formatTable(['size', 'path', 'ns/msg', 'min–max', 'M msgs/s per core'], rows));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
