/**
 * One process of `blipcast demo`: a sender or a receiver on loopback. Reports
 * progress to the parent as JSON lines on stdout. Not a public interface.
 *
 *   node demo-node.js sender GROUP COUNT SIZE RECEIVERS
 *   node demo-node.js receiver GROUP COUNT SIZE LOSS SEED
 */

import { withLoss } from '../index';
// The demo injects seeded loss under the protocol: a test hook, from the unstable subpath.
import { open } from '../internal';

const REPORT_MS = 200;

function report(obj: object): void {
  process.stdout.write(JSON.stringify(obj) + '\n');
}

/** Message i: its number in decimal, padded with a pattern to `size` bytes, so every byte can be checked. */
export function demoMessage(i: number, size: number): Buffer {
  const head = `${i}:`;
  const buf = Buffer.alloc(Math.max(size, head.length), 0x2e);
  buf.write(head, 0, 'latin1');
  for (let k = head.length; k < buf.length; k++) buf[k] = 0x61 + ((i + k) % 26);
  return buf;
}

async function sender(group: string, count: number, size: number, receivers: number): Promise<void> {
  const channel = await open({ group, interface: '127.0.0.1', ttl: 0, lingerMs: 15_000 });
  let known = 0;
  channel.on('receiver', () => known++);
  const dropped: string[] = [];
  channel.on('receiver-dropped', (r, reason) => dropped.push(`${r.id}:${reason}`));
  // Give the receivers a moment to be heard, so flow control paces to them from the start.
  const t0 = performance.now();
  while (known < receivers && performance.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 20));
  const timer = setInterval(() => report({ role: 'sender', written: written, ...pick(channel.stats().protocol) }), REPORT_MS);
  let written = 0;
  const start = performance.now();
  while (written < count) {
    const ok = channel.write(demoMessage(written, size));
    written++;
    if (!ok) await new Promise<void>((r) => channel.once('drain', r));
    else if (written % 256 === 0) await new Promise((r) => setImmediate(r));
  }
  const writeMs = performance.now() - start;
  await channel.close();
  clearInterval(timer);
  report({ role: 'sender', done: true, written, writeMs, closeMs: performance.now() - start, known, dropped, ...pick(channel.stats().protocol) });
  process.stderr.write(JSON.stringify({ knownReceivers: known, dropped }) + '\n');
}

async function receiver(group: string, count: number, size: number, lossRate: number, seed: number): Promise<void> {
  const channel = await open({
    group,
    interface: '127.0.0.1',
    ttl: 0,
    lateJoin: 'earliest',
    lingerMs: 500,
    wrapTransport: (t) => withLoss(t, { lossRate, seed }),
  });
  let delivered = 0;
  let lost = 0;
  let outOfOrder = 0;
  let corrupt = 0;
  let firstMs = 0;
  const lossReasons: Record<string, number> = {};
  channel.on('loss', (l) => {
    lost += l.toSeq - l.fromSeq + 1;
    lossReasons[l.reason] = (lossReasons[l.reason] ?? 0) + l.toSeq - l.fromSeq + 1;
    process.stderr.write(`loss ${l.fromSeq}..${l.toSeq} ${l.reason}\n`);
  });
  const progress = (): object => ({ role: 'receiver', delivered, lost, lossReasons, outOfOrder, corrupt, elapsedMs: firstMs ? performance.now() - firstMs : 0, ...pick(channel.stats().protocol) });
  const timer = setInterval(() => report(progress()), REPORT_MS);
  report({ role: 'receiver', ready: true });
  for await (const msg of channel) {
    if (firstMs === 0) firstMs = performance.now();
    if (msg.seq !== delivered + lost) outOfOrder++;
    if (!msg.data.equals(demoMessage(msg.seq, size))) corrupt++;
    delivered++;
    if (delivered + lost >= count) break;
  }
  clearInterval(timer);
  report({ ...progress(), done: true });
  await channel.close();
}

function pick(p: { naksSent: number; naksReceived: number; naksSuppressed: number; repairsSent: number; repairsReceived: number; lossesDeclared: number; datagramsSent: number }): object {
  return { naksSent: p.naksSent, naksReceived: p.naksReceived, naksSuppressed: p.naksSuppressed, repairsSent: p.repairsSent, repairsReceived: p.repairsReceived, lossesDeclared: p.lossesDeclared, datagramsSent: p.datagramsSent };
}

if (require.main === module) {
  const [role, group, count, size, a, b] = process.argv.slice(2);
  const run = role === 'sender'
    ? sender(group!, Number(count), Number(size), Number(a))
    : receiver(group!, Number(count), Number(size), Number(a), Number(b));
  run.then(() => process.exit(0), (err: Error) => {
    process.stderr.write(`demo ${role}: ${err.stack ?? err.message}\n`);
    process.exit(1);
  });
}
