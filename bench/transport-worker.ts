/**
 * One side of the transport benchmark, run as its own process (possibly inside
 * a lab namespace). Prints one JSON line with its measurements and exits.
 *
 *   node dist/bench/transport-worker.js recv KIND GROUP PORT IFACE IDLE_MS
 *   node dist/bench/transport-worker.js send KIND GROUP PORT IFACE COUNT SIZE BATCH TTL
 *
 * TTL is 0 on loopback (nothing leaves the host) and 1 between lab hosts.
 */

import { createTransport } from '../src/transport/index';
import type { TransportKind } from '../src/transport/transport';

async function recv(kind: TransportKind, group: string, port: number, iface: string, idleMs: number): Promise<void> {
  const t = await createTransport({ kind, group, port, interface: iface, ttl: 0, recvBufferBytes: 8 << 20 });
  let received = 0;
  let bytes = 0;
  let firstMs = 0;
  let lastMs = 0;
  let cpuAtFirst = process.cpuUsage();
  t.receive((batch) => {
    if (received === 0) {
      firstMs = performance.now();
      cpuAtFirst = process.cpuUsage();
    }
    received += batch.count;
    for (let i = 0; i < batch.count; i++) bytes += batch.lengths[i]!;
    lastMs = performance.now();
  });
  process.stdout.write(JSON.stringify({ ready: true }) + '\n');
  // Ends after idleMs without datagrams once traffic has started (or 20 s of nothing).
  const startMs = performance.now();
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      const now = performance.now();
      if ((received > 0 && now - lastMs > idleMs) || (received === 0 && now - startMs > 20_000)) {
        clearInterval(check);
        resolve();
      }
    }, 20);
  });
  const cpu = process.cpuUsage(cpuAtFirst);
  const stats = t.stats();
  await t.close();
  process.stdout.write(JSON.stringify({ role: 'recv', kind, received, bytes, elapsedMs: lastMs - firstMs, cpuMs: (cpu.user + cpu.system) / 1000, kernelDrops: stats.kernelDrops, batches: stats.batches, recvBufferBytes: t.info.recvBufferBytes }) + '\n');
}

async function send(kind: TransportKind, group: string, port: number, iface: string, count: number, size: number, batchSize: number, ttl: number): Promise<void> {
  const t = await createTransport({ kind, group, port, interface: iface, ttl, sendBufferBytes: 4 << 20 });
  const datagrams: Buffer[] = [];
  for (let i = 0; i < batchSize; i++) datagrams.push(Buffer.alloc(size, i));
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let sent = 0;
  let stalls = 0;
  while (sent < count) {
    const want = Math.min(batchSize, count - sent);
    const n = t.send(want === batchSize ? datagrams : datagrams.slice(0, want));
    sent += n;
    if (n < want) {
      stalls++;
      // Send buffer full: let the loop (and the kernel) breathe.
      await new Promise((r) => setImmediate(r));
    } else if ((sent / batchSize) % 16 === 0) {
      await new Promise((r) => setImmediate(r));
    }
  }
  const elapsedMs = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  await new Promise((r) => setTimeout(r, 50));
  const stats = t.stats();
  await t.close();
  process.stdout.write(JSON.stringify({ role: 'send', kind, sent, elapsedMs, cpuMs: (cpu.user + cpu.system) / 1000, stalls, sendErrors: stats.sendErrors }) + '\n');
}

const [role, kind, group, port, iface, ...rest] = process.argv.slice(2);
const run = role === 'recv'
  ? recv(kind as TransportKind, group!, Number(port), iface!, Number(rest[0] ?? 300))
  : send(kind as TransportKind, group!, Number(port), iface!, Number(rest[0]), Number(rest[1]), Number(rest[2] ?? 64), Number(rest[3] ?? 0));
run.catch((err) => {
  process.stderr.write(`${(err as Error).stack}\n`);
  process.exit(1);
});
