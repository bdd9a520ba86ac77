/**
 * The cost of encryption (issue 6): AES-256-GCM seal and open of whole batches
 * in the addon (one N-API call per batch, EVP contexts kept per key) against
 * node:crypto one cipher per datagram, then end-to-end channel throughput on
 * loopback with and without a key.
 *
 *   npm run build && node dist/bench/crypto.js [--runs N] [--quick] [--only micro|e2e]
 *
 * 1. Micro: batches of 64 datagrams (a typical recvmmsg batch) with 64 B and
 *    1 KiB payloads; datagrams/s and payload MB/s for seal and for open.
 * 2. End to end: one sender process → one receiver process on loopback
 *    (interface 127.0.0.1, TTL 0, a random 239.255/16 group), 64 B and 1 KiB
 *    messages, clear / keyed (addon) / keyed (node:crypto, BLIPCAST_AEAD=node);
 *    delivered messages/s and MB/s at the receiver, first to last message.
 * Every number is the median of the runs (default 5).
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { open, type Message } from '../src/api/channel';
import { createNativeAead, NodeAead, type AeadBackend } from '../src/crypto/aead';
import { DECODED_WORDS } from '../src/wire/decode';
import { DatagramType, encodeDatagram } from '../src/wire/header';
import { formatTable, median } from './table';

const BATCH = 64;

// ---------------------------------------------------------------- micro

function batchOf(payloadBytes: number): Buffer[] {
  return Array.from({ length: BATCH }, (_, i) =>
    encodeDatagram({ type: DatagramType.DATA, flags: 0, keyId: 0, streamId: 0, sessionHi: 1, sessionLo: 2, sequence: i }, randomBytes(payloadBytes)));
}

/** Datagrams per second of `fn` (which handles one batch), measured over ≈ `ms`. */
function rate(fn: () => void, ms: number): number {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  let batches = 0;
  const start = process.hrtime.bigint();
  const endNs = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < endNs) {
    for (let i = 0; i < 20; i++) fn();
    batches += 20;
    now = process.hrtime.bigint();
  }
  return (batches * BATCH) / (Number(now - start) / 1e9);
}

function micro(runs: number, ms: number): string {
  const rows: string[][] = [];
  const key = randomBytes(32);
  const makers: Array<[string, () => AeadBackend]> = [['node:crypto, per datagram', () => new NodeAead()]];
  if (createNativeAead() !== undefined) makers.unshift(['addon, per batch', () => createNativeAead()!]);
  else process.stderr.write('addon not loaded: only node:crypto is measured\n');
  for (const size of [64, 1024]) {
    for (const [label, make] of makers) {
      const b = make();
      b.setKey(1, key);
      const clear = batchOf(size);
      let counter = 0;
      const sealed = b.sealBatch(1, counter, clear);
      counter += BATCH;
      const buf = Buffer.concat(sealed);
      const pristine = Buffer.from(buf);
      const offsets = new Uint32Array(BATCH);
      const lengths = new Uint32Array(BATCH);
      for (let i = 0, at = 0; i < BATCH; i++) {
        offsets[i] = at;
        lengths[i] = sealed[i]!.length;
        at += sealed[i]!.length;
      }
      const words = new Uint32Array(BATCH * DECODED_WORDS);
      const seal: number[] = [];
      const openRates: number[] = [];
      for (let r = 0; r < runs; r++) {
        seal.push(rate(() => {
          b.sealBatch(1, counter, clear);
          counter += BATCH;
        }, ms));
        openRates.push(rate(() => {
          pristine.copy(buf); // opening is in place: start from the sealed bytes each time (a memcpy, in both columns)
          b.openBatch(buf, offsets, lengths, BATCH, words);
        }, ms));
      }
      if (words[0] !== 0) throw new Error(`open failed: code ${words[0]}`);
      const s = median(seal);
      const o = median(openRates);
      rows.push([`${size} B`, label, fmtRate(s), fmtMB(s * size), fmtRate(o), fmtMB(o * size)]);
    }
  }
  return formatTable(['payload', 'implementation', 'seal datagrams/s', 'seal MB/s', 'open datagrams/s', 'open MB/s'], rows);
}

function fmtRate(v: number): string {
  return v >= 1e6 ? `${(v / 1e6).toFixed(2)} M` : `${(v / 1e3).toFixed(0)} k`;
}

function fmtMB(bytesPerSec: number): string {
  return (bytesPerSec / 1e6).toFixed(1);
}

// ---------------------------------------------------------------- end to end

interface E2eConfig {
  role: 'send' | 'recv';
  group: string;
  size: number;
  count: number;
  keyHex: string | undefined;
}

interface RecvResult {
  delivered: number;
  spanMs: number;
  inOrder: boolean;
}

async function channelFor(cfg: E2eConfig, lingerMs: number) {
  return open({
    group: cfg.group, interface: '127.0.0.1', ttl: 0, lateJoin: 'earliest', lingerMs,
    ...(cfg.keyHex !== undefined ? { key: Buffer.from(cfg.keyHex, 'hex') } : {}),
  });
}

async function runSend(cfg: E2eConfig): Promise<void> {
  const ch = await channelFor(cfg, 30_000);
  const msg = Buffer.alloc(cfg.size, 0x61);
  // Wait for the receiver's status so that flow control knows it from the first timed message.
  while (ch.stats().protocol.receivers === 0) {
    ch.write(Buffer.from('warm'));
    await new Promise((r) => setTimeout(r, 20));
  }
  const perTurn = Math.max(16, Math.floor((256 * 1024) / cfg.size));
  for (let i = 0; i < cfg.count; i++) {
    msg.writeUInt32BE(i, 0);
    if (!ch.write(msg)) await once(ch, 'drain');
    if (i % perTurn === perTurn - 1) await new Promise((r) => setImmediate(r));
  }
  await ch.close();
}

async function runRecv(cfg: E2eConfig): Promise<void> {
  const ch = await channelFor(cfg, 0);
  process.stdout.write('ready\n');
  let delivered = 0;
  let next = 0;
  let inOrder = true;
  let firstNs = 0n;
  let lastNs = 0n;
  // 'data' events rather than for-await: the async iterator costs more per message than the whole protocol.
  await new Promise<void>((resolve) => {
    ch.readable.on('data', (m: Message) => {
      if (m.data.length !== cfg.size || delivered === cfg.count) return; // warm-up, or after the end
      const i = m.data.readUInt32BE(0);
      if (delivered === 0) firstNs = process.hrtime.bigint();
      if (i !== next) inOrder = false;
      next = i + 1;
      delivered++;
      if (delivered === cfg.count) {
        lastNs = process.hrtime.bigint();
        resolve();
      }
    });
  });
  const result: RecvResult = { delivered, spanMs: Number(lastNs - firstNs) / 1e6, inOrder };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  await ch.close();
}

function child(cfg: E2eConfig, env: NodeJS.ProcessEnv) {
  return spawn(process.execPath, [__filename, '--worker', JSON.stringify(cfg)], { env, stdio: ['ignore', 'pipe', 'inherit'] });
}

async function e2eRun(size: number, count: number, keyHex: string | undefined, aead: 'native' | 'node'): Promise<RecvResult> {
  const port = 20000 + Math.floor(Math.random() * 40000);
  const group = `239.255.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}:${port}`;
  const env = { ...process.env, ...(aead === 'node' ? { BLIPCAST_AEAD: 'node' } : {}) };
  const recv = child({ role: 'recv', group, size, count, keyHex }, env);
  let out = '';
  recv.stdout.setEncoding('utf8');
  const ready = new Promise<void>((resolve) => recv.stdout.on('data', (d: string) => {
    out += d;
    if (out.includes('ready')) resolve();
  }));
  await ready;
  const send = child({ role: 'send', group, size, count, keyHex }, env);
  const timeout = setTimeout(() => {
    recv.kill();
    send.kill();
  }, 120_000);
  await Promise.all([once(recv, 'exit'), once(send, 'exit')]);
  clearTimeout(timeout);
  const line = out.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error('receiver printed no result');
  return JSON.parse(line) as RecvResult;
}

async function e2e(runs: number, quick: boolean): Promise<string> {
  const rows: string[][] = [];
  const keyHex = randomBytes(32).toString('hex');
  const modes: Array<[string, string | undefined, 'native' | 'node']> = [
    ['clear', undefined, 'native'], ['key, addon AES-GCM', keyHex, 'native'], ['key, node:crypto AES-GCM', keyHex, 'node'],
  ];
  for (const size of [64, 1024]) {
    const count = (size === 64 ? 1_000_000 : 200_000) / (quick ? 5 : 1);
    // Modes interleaved run by run, so that a busy machine slows all of them alike.
    const rates = modes.map(() => [] as number[]);
    const ok = modes.map(() => true);
    for (let r = 0; r < runs; r++) {
      for (let m = 0; m < modes.length; m++) {
        const [, key, aead] = modes[m]!;
        const res = await e2eRun(size, count, key, aead);
        if (res.delivered !== count || !res.inOrder) ok[m] = false;
        rates[m]!.push(res.delivered / (res.spanMs / 1000));
      }
    }
    const clearRate = median(rates[0]!);
    modes.forEach(([label, key], m) => {
      const v = median(rates[m]!);
      rows.push([`${size} B`, label, fmtRate(v), fmtMB(v * size), key === undefined ? '—' : `${((v / clearRate) * 100).toFixed(0)} %`, ok[m] ? 'all, in order' : 'MISSING or out of order']);
    });
  }
  return formatTable(['size', 'channel', 'msgs/s', 'MB/s', 'vs clear', 'delivered'], rows);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  if (process.argv[2] === '--worker') {
    const cfg = JSON.parse(process.argv[3]!) as E2eConfig;
    await (cfg.role === 'send' ? runSend(cfg) : runRecv(cfg));
    process.exit(0);
  }
  const { values } = parseArgs({ options: { runs: { type: 'string' }, quick: { type: 'boolean' }, only: { type: 'string' } } });
  const runs = Number(values.runs ?? (values.quick ? 3 : 5));
  const quick = values.quick === true;
  console.log(`node ${process.version}, OpenSSL ${process.versions.openssl}, ${cpus()[0]?.model ?? '?'} × ${cpus().length}, load average ${loadavg()[0]!.toFixed(1)} at start; median of ${runs} runs`);
  if (values.only === undefined || values.only === 'micro') {
    console.log(`\nAES-256-GCM seal/open, batches of ${BATCH} datagrams (payload MB/s; header 32 B + tag 16 B not counted)\n`);
    console.log(micro(runs, quick ? 150 : 400));
  }
  if (values.only === undefined || values.only === 'e2e') {
    console.log('\nEnd to end, one sender process → one receiver process, loopback, 0 % loss (rate at the receiver, first to last message)\n');
    console.log(await e2e(runs, quick));
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
