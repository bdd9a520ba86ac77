/**
 * Logging benchmark: pino records per second through blipcast/pino, against
 * pino writing a local file and against pino-socket over UDP, in the same run.
 *
 *   npm run bench:logging                         (= node dist/bench/logging.js)
 *   node dist/bench/logging.js [--reps 5] [--count 200000]
 *
 * Each measurement is two processes on loopback: an application
 * (bench/logging-worker.ts `app`) that logs COUNT records with pino as fast as
 * its thread can — the default pino record (level, time, pid, hostname) with
 * four fields and a message, ~150 bytes — and, for the network systems, a
 * receiving process counting lines:
 *
 * - blipcast/pino → a blipcast channel (a log collector member, multicast on
 *   127.0.0.1 with TTL 0), counting records and the `dropped` lines' counts;
 * - pino/file (the transport worker writes the file) and pino.destination
 *   (sonic-boom on the application's thread): no receiver, the file's lines;
 * - pino-socket (UDP to 127.0.0.1, `maxUdpPacketSize: 65507`: it sends each
 *   chunk the worker reads as one datagram, and larger ones fail the transport
 *   unless skipped) → a node:dgram socket counting lines.
 *
 * Reported: records delivered per second (delivered / from the first call to
 * the last record's arrival, or to the file's end), delivered of logged, and
 * the application thread's cost per `logger.info()` (the loop's time / COUNT:
 * pino's serialization plus the copy into the transport's ring). The systems
 * run interleaved, round by round, the order rotated each round; medians with
 * [min–max]. Loopback only: nothing leaves the host.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatTable, median } from './table';

const WORKER = join(__dirname, 'logging-worker.js');
/** The package root: the application resolves 'blipcast/pino' and 'pino-socket' from there. */
const ROOT = join(__dirname, '..', '..');

const SYSTEMS = ['blipcast', 'pino-file', 'pino-destination', 'pino-socket'] as const;
type System = (typeof SYSTEMS)[number];
const LABELS: Record<System, string> = {
  blipcast: 'blipcast/pino → collector (multicast, loopback)',
  'pino-file': 'pino/file transport → local file',
  'pino-destination': 'pino.destination (main thread) → local file',
  'pino-socket': 'pino-socket UDP → 127.0.0.1 receiver',
};

interface Run {
  perSec: number;
  deliveredShare: number;
  dropped: number;
  nsPerCall: number;
  endMs: number;
}

function lineReader(child: ChildProcess): () => Promise<Record<string, number | boolean>> {
  let buffered = '';
  const waiting: Array<(v: Record<string, number | boolean>) => void> = [];
  const ready: Array<Record<string, number | boolean>> = [];
  child.stdout!.on('data', (d: Buffer) => {
    buffered += d.toString();
    let nl: number;
    while ((nl = buffered.indexOf('\n')) !== -1) {
      const value = JSON.parse(buffered.slice(0, nl)) as Record<string, number | boolean>;
      buffered = buffered.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(value);
      else ready.push(value);
    }
  });
  return () => new Promise((resolve, reject) => {
    const v = ready.shift();
    if (v) {
      resolve(v);
      return;
    }
    waiting.push(resolve);
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited with ${code} before printing`)));
  });
}

function start(args: string[]): { child: ChildProcess; next: () => Promise<Record<string, number | boolean>> } {
  const child = spawn(process.execPath, [WORKER, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  return { child, next: lineReader(child) };
}

function countLines(file: string): number {
  const data = readFileSync(file);
  let n = 0;
  for (let at = data.indexOf(10); at !== -1; at = data.indexOf(10, at + 1)) n++;
  return n;
}

async function measure(system: System, count: number, perTurn: number, dir: string, round: number): Promise<Run> {
  const port = 20000 + Math.floor(Math.random() * 40000);
  const group = `239.255.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}:${port}`;
  const file = join(dir, `${system}-${round}.log`);
  let receiver: ReturnType<typeof start> | undefined;
  if (system === 'blipcast') receiver = start(['blipcast-recv', group]);
  if (system === 'pino-socket') receiver = start(['udp-recv', String(port)]);
  if (receiver) await receiver.next();
  const target = system === 'blipcast' ? group : system === 'pino-socket' ? String(port) : file;
  const app = start(['app', system, String(count), target, String(perTurn)]);
  const timing = (await app.next()) as { t0: number; t1: number; doneAt: number };
  await new Promise((resolve) => app.child.once('exit', resolve));
  const nsPerCall = ((timing.t1 - timing.t0) * 1e6) / count;
  if (receiver === undefined) {
    const lines = countLines(file);
    rmSync(file, { force: true });
    return { perSec: lines / ((timing.doneAt - timing.t0) / 1000), deliveredShare: lines / count, dropped: count - lines, nsPerCall, endMs: timing.doneAt - timing.t0 };
  }
  receiver.child.stdin!.write('report\n');
  const got = (await receiver.next()) as { lines: number; dropped: number; lastAt: number };
  await new Promise((resolve) => receiver!.child.once('exit', resolve));
  const endMs = got.lines === 0 ? NaN : got.lastAt - timing.t0;
  // blipcast reports its drops exactly (dropped lines); UDP loses silently: what did not arrive.
  const dropped = system === 'blipcast' ? got.dropped : count - got.lines;
  return { perSec: got.lines === 0 ? 0 : got.lines / (endMs / 1000), deliveredShare: got.lines / count, dropped, nsPerCall, endMs };
}

function cell(all: number[], digits = 0, scale = 1): string {
  const values = all.filter((v) => !Number.isNaN(v));
  if (values.length === 0) return '–';
  const f = (v: number): string => (v * scale).toFixed(digits);
  return `${f(median(values))} [${f(Math.min(...values))}–${f(Math.max(...values))}]`;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { reps: { type: 'string', default: '5' }, count: { type: 'string', default: '200000' }, 'per-turn': { type: 'string', default: '100' } } });
  const reps = Number(values.reps);
  const count = Number(values.count);
  const modes = [0, Number(values['per-turn'])];
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-bench-logging-'));
  const runs = new Map<string, Run[]>();
  try {
    for (let round = 0; round < reps; round++) {
      for (const perTurn of modes) {
        for (let k = 0; k < SYSTEMS.length; k++) {
          const system = SYSTEMS[(k + round) % SYSTEMS.length]!;
          const run = await measure(system, count, perTurn, dir, round);
          const key = `${perTurn}:${system}`;
          if (!runs.has(key)) runs.set(key, []);
          runs.get(key)!.push(run);
          process.stderr.write(`round ${round + 1}/${reps} ${modeName(perTurn)} ${system}: ${Math.round(run.perSec)} records/s, ${(run.deliveredShare * 100).toFixed(1)}% delivered, ${Math.round(run.nsPerCall)} ns/call\n`);
        }
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`logging: ${count} pino records per run, ${reps} interleaved rounds; median [min–max]\n`);
  for (const perTurn of modes) {
    const rows = SYSTEMS.map((s) => {
      const r = runs.get(`${perTurn}:${s}`)!;
      return [
        LABELS[s],
        cell(r.map((x) => x.perSec), 0, 1e-3),
        cell(r.map((x) => x.deliveredShare), 1, 100),
        cell(r.map((x) => x.dropped)),
        cell(r.map((x) => x.nsPerCall)),
        cell(r.map((x) => x.endMs)),
      ];
    });
    process.stdout.write(`\n${modeName(perTurn)}:\n\n`);
    process.stdout.write(`${formatTable(['system', 'k records/s delivered', 'delivered %', 'lost (blipcast: reported dropped)', 'app thread ns/call', 'first call → last record, ms'], rows)}\n`);
  }
}

function modeName(perTurn: number): string {
  return perTurn === 0 ? 'burst (all records in one loop)' : `paced (${perTurn} records per event-loop turn)`;
}

void main();
