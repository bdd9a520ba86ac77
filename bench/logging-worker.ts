/**
 * One process of the logging benchmark (bench/logging.ts). Prints JSON lines.
 *
 *   node dist/bench/logging-worker.js app SYSTEM COUNT TARGET PER_TURN   SYSTEM: blipcast | pino-file | pino-destination | pino-socket
 *   node dist/bench/logging-worker.js blipcast-recv GROUP
 *   node dist/bench/logging-worker.js udp-recv PORT
 *
 * TARGET is the group (blipcast, loopback only), the file (pino-file,
 * pino-destination) or the UDP port on 127.0.0.1 (pino-socket).
 *
 * `app` logs COUNT records with pino as fast as its thread can (PER_TURN 0:
 * one loop) or PER_TURN records per event-loop turn, prints
 * `{ t0, t1, doneAt }` (ms, on the shared wall clock: performance.timeOrigin +
 * performance.now()) — t1 - t0 is the time spent in logger.info(), doneAt when
 * the destination finished (the transport's worker ended) — and exits.
 * A receiver prints `{ ready: true }`, counts lines, and on a line on stdin
 * prints `{ lines, dropped, firstAt, lastAt }` once 300 ms passed without
 * traffic, and exits.
 */

import { createSocket } from 'node:dgram';
import { open } from '../src/index';
import { LOG_COLLECTOR_ROLE } from '../src/logs/format';

const now = (): number => performance.timeOrigin + performance.now();
const IDLE_MS = 300;

async function app(system: string, count: number, target: string, perTurn: number): Promise<void> {
  // Loaded here: pino is a dev dependency and only this role needs it.
  const pino = (await import('pino')).default;
  let destination: { end?: () => void; flushSync?: () => void; once(event: string, fn: () => void): unknown };
  if (system === 'blipcast') {
    destination = pino.transport({ target: 'blipcast/pino', options: { group: target, interface: '127.0.0.1', ttl: 0 } });
  } else if (system === 'pino-file') {
    destination = pino.transport({ target: 'pino/file', options: { destination: target } });
  } else if (system === 'pino-socket') {
    destination = pino.transport({ target: 'pino-socket', options: { address: '127.0.0.1', port: Number(target), mode: 'udp', maxUdpPacketSize: 65507 } });
  } else if (system === 'pino-destination') {
    destination = pino.destination({ dest: target, sync: false, minLength: 4096 });
  } else {
    throw new Error(`unknown system ${system}`);
  }
  // Every transport starts its worker first: the measure starts when the destination is ready.
  await new Promise<void>((resolve) => destination.once('ready', resolve));
  const logger = pino(destination as never);
  const log = (i: number): void => logger.info({ i, user: `u${i % 1000}`, path: `/api/items/${i % 97}`, ms: i % 250 }, 'request handled');
  const t0 = now();
  let busyMs: number;
  if (perTurn === 0) {
    for (let i = 0; i < count; i++) log(i);
    busyMs = now() - t0;
  } else {
    // A server's pace: perTurn records per event-loop turn, the loop free in between (the transport's flush runs there).
    busyMs = 0;
    for (let i = 0; i < count; ) {
      const start = now();
      for (const end = Math.min(count, i + perTurn); i < end; i++) log(i);
      busyMs += now() - start;
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  const t1 = t0 + busyMs;
  await new Promise<void>((resolve) => {
    if (system === 'pino-destination') {
      destination.flushSync!();
      resolve();
      return;
    }
    destination.once('finish', resolve);
    destination.end!();
  });
  const doneAt = now();
  process.stdout.write(`${JSON.stringify({ t0, t1, doneAt })}\n`, () => process.exit(0));
}

function report(counts: () => { lines: number; dropped: number; firstAt: number; lastAt: number }, stop: () => void): void {
  process.stdin.once('data', () => {
    const check = setInterval(() => {
      const c = counts();
      if (now() - c.lastAt < IDLE_MS) return;
      clearInterval(check);
      stop();
      process.stdout.write(`${JSON.stringify(c)}\n`, () => process.exit(0));
    }, 50);
  });
}

async function blipcastRecv(group: string): Promise<void> {
  const channel = await open({
    group, interface: '127.0.0.1', ttl: 0, lateJoin: 'earliest', streams: ['logs'],
    member: { name: 'bench-collector', metadata: { role: LOG_COLLECTOR_ROLE } },
  });
  channel.subscribe('logs');
  let lines = 0;
  let dropped = 0;
  let firstAt = 0;
  let lastAt = 0;
  channel.on('messages', (batch) => {
    for (let i = 0; i < batch.count; i++) {
      // Records start with {"level"; a sender's dropped line with {"blipcast":"dropped".
      if (batch.buffer[batch.offset(i) + 2] === 0x62 /* b */) dropped += (JSON.parse(batch.data(i).toString()) as { dropped: number }).dropped;
      else lines++;
    }
    lastAt = now();
    if (firstAt === 0) firstAt = lastAt;
  });
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  report(() => ({ lines, dropped, firstAt, lastAt }), () => void channel.close());
}

async function udpRecv(port: number): Promise<void> {
  const socket = createSocket('udp4');
  let lines = 0;
  let firstAt = 0;
  let lastAt = 0;
  socket.on('message', (msg: Buffer) => {
    let n = 0;
    for (let at = msg.indexOf(10); at !== -1; at = msg.indexOf(10, at + 1)) n++;
    lines += n;
    lastAt = now();
    if (firstAt === 0) firstAt = lastAt;
  });
  await new Promise<void>((resolve) => socket.bind(port, '127.0.0.1', resolve));
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  report(() => ({ lines, dropped: 0, firstAt, lastAt }), () => socket.close());
}

const [role, a, b, c, d] = process.argv.slice(2);
if (role === 'app') void app(a!, Number(b), c!, Number(d ?? 0));
else if (role === 'blipcast-recv') void blipcastRecv(a!);
else if (role === 'udp-recv') void udpRecv(Number(a));
else throw new Error(`unknown role ${role}`);
