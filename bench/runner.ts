/**
 * Process plumbing shared by the lab benchmarks (bench/reliable.ts,
 * bench/scaling.ts): where workers run (lab hosts or loopback), how their
 * JSON result lines are collected, and one sender → N receivers run of the
 * throughput worker (bench/reliable-worker.ts).
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DgramRecvResult, DgramSendResult, RecvResult, SendResult, WorkerConfig } from './reliable-worker';
import { median } from './table';

export const THROUGHPUT_WORKER = join(__dirname, 'reliable-worker.js');
/** Kernel socket buffers requested by every worker (root in the lab may exceed rmem_max). */
const SOCKET_BUFFER_BYTES = 8 << 20;
/** A worker that has not exited this long after its run started is killed and the run counts as failed. */
const PROCESS_TIMEOUT_MS = 90_000;
/** --verbose: every worker's result line goes to stderr as well. */
let verbose = false;

/** The value of --runs (default: 1 with --quick, else 3). @throws RangeError unless a positive integer. */
export function parseRuns(text: string | undefined, quick: boolean): number {
  const runs = Number(text ?? (quick ? 1 : 3));
  if (!Number.isInteger(runs) || runs < 1) throw new RangeError(`--runs must be a positive integer, got ${text}`);
  return runs;
}

/** False (with the reason on stderr and exit code 2 set) unless this process is root, as the lab needs. */
export function requireRoot(what: string): boolean {
  if (process.getuid?.() === 0) return true;
  console.error(`${what} needs root (network namespaces, nftables); run as root`);
  process.exitCode = 2;
  return false;
}

/** --verbose: copy every worker's result line to stderr. */
export function setVerbose(on: boolean): void {
  verbose = on;
}

export interface Placement {
  label: string;
  /** Receive-side loss is applied by nftables (lab) or inside the receiving process (loopback). */
  labLoss: boolean;
  iface(host: number): string;
  ttl: number;
  spawn(host: number, script: string, arg: string, nodeFlags?: string[]): ChildProcess;
  setLoss(host: number, rate: number): Promise<void>;
  /** Datagrams the loss rule of `host` dropped since its loss was last set (0 on loopback: loss is then counted by the worker). */
  lossDrops(host: number): Promise<number>;
  close(): Promise<void>;
}

export function loopbackPlacement(): Placement {
  const children = new Set<ChildProcess>();
  return {
    label: 'loopback (127.0.0.1, TTL 0; loss injected in the receiving process)',
    labLoss: false,
    iface: () => '127.0.0.1',
    ttl: 0,
    spawn: (_host, script, arg, nodeFlags = []) => {
      const child = spawn(process.execPath, [...nodeFlags, script, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },
    setLoss: async () => undefined,
    lossDrops: async () => 0,
    close: async () => {
      for (const c of children) c.kill('SIGKILL');
    },
  };
}

export async function labPlacement(hosts: number): Promise<Placement> {
  const { Lab } = await import('../test/lab/lab.js');
  const lab = await Lab.create({ hosts, name: 'relbench' });
  const onSignal = (): void => {
    lab.destroySync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return {
    label: `${hosts} lab hosts (network namespaces, veth + bridge, TTL 1; loss by nftables on the receiving host)`,
    labLoss: true,
    iface: (host) => lab.hosts[host]!.ipv4,
    ttl: 1,
    spawn: (host, script, arg, nodeFlags = []) => lab.spawn(host, process.execPath, [...nodeFlags, script, arg], { stdio: ['ignore', 'pipe', 'pipe'] }),
    setLoss: (host, rate) => lab.setLoss(host, rate),
    lossDrops: (host) => lab.lossDrops(host),
    close: async () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      await lab.destroy();
    },
  };
}

/** A running worker: resolves when it said `{"ready":true}` and with its last JSON line at exit. */
export interface Worker {
  ready: Promise<void>;
  result: Promise<unknown>;
  kill(): void;
}

export function watch(child: ChildProcess, name: string): Worker {
  let out = '';
  let err = '';
  let onReady!: () => void;
  const ready = new Promise<void>((r) => (onReady = r));
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (out.includes('"ready":true')) onReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
  const result = new Promise<unknown>((resolve, reject) => {
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (err.trim()) process.stderr.write(`[${name}] ${err.trim().split('\n').join(`\n[${name}] `)}\n`);
      const lines = out.trim().split('\n').filter((l) => l.startsWith('{') && !l.includes('"ready":true'));
      if (code !== 0 || lines.length === 0) {
        reject(new Error(`${name} exited ${code ?? signal}`));
        return;
      }
      if (verbose) process.stderr.write(`[${name}] ${lines[lines.length - 1]!}\n`);
      resolve(JSON.parse(lines[lines.length - 1]!));
    });
  });
  // A worker that dies before 'ready' must not leave the orchestrator waiting for it.
  const readyOrDead = Promise.race([ready, result.then(() => undefined)]);
  return { ready: readyOrDead, result, kill: () => child.kill('SIGKILL') };
}

export function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

export function randomGroup(): string {
  return `239.255.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
}


export interface Case {
  size: number;
  receivers: number;
  loss: number;
}

export interface Settings {
  runs: number;
  countFor(size: number): number;
  maxSendMs: number;
  idleMs: number;
  /** --open: extra open() options for every blipcast channel of the throughput runs. */
  extra: Record<string, unknown> | undefined;
  /** How blipcast receivers read: per-message 'data' events (default) or the batch API. */
  api?: WorkerConfig['api'];
}

export interface ReliableRun {
  sent: number;
  /** Slowest receiver's delivered messages per second. */
  rate: number;
  mbps: number;
  missing: number;
  anomalies: number;
  txCpu: number;
  rxCpu: number;
  naks: number;
  repairs: number;
  kernelDrops: number;
  /** NAK datagrams sent by all receivers together. */
  naksSent: number;
  /** Datagrams the loss rules dropped at all receivers together (lab), or the receivers' emulated drops (loopback). */
  lossDrops: number;
  txRssBytes: number;
  /** Largest receiver peak RSS. */
  rxRssBytes: number;
}

export interface DgramRun {
  sent: number;
  rate: number;
  mbps: number;
  lost: number;
  txCpu: number;
  rxCpu: number;
}

export function baseConfig(p: Placement, host: number, c: Case, s: Settings, group: string, port: number, role: WorkerConfig['role']): WorkerConfig {
  return {
    role, group, port, iface: p.iface(host), ttl: p.ttl, count: s.countFor(c.size), size: c.size, receivers: c.receivers,
    maxSendMs: s.maxSendMs, idleMs: s.idleMs, emulatedLoss: p.labLoss || role.includes('send') ? 0 : c.loss, socketBufferBytes: SOCKET_BUFFER_BYTES,
    ...(s.extra ? { extra: s.extra } : {}),
    ...(s.api ? { api: s.api } : {}),
  };
}

export async function withLoss<T>(p: Placement, c: Case, body: () => Promise<T>): Promise<T> {
  if (p.labLoss && c.loss > 0) for (let h = 1; h <= c.receivers; h++) await p.setLoss(h, c.loss);
  try {
    return await body();
  } finally {
    if (p.labLoss && c.loss > 0) for (let h = 1; h <= c.receivers; h++) await p.setLoss(h, 0);
  }
}

export interface PairRun<S, R> {
  send: S;
  recvs: R[];
  /** Messages/s and MB/s at the slowest receiver, over its first to last message. */
  rate: number;
  mbps: number;
}

/**
 * Starts one receiver per receiving host, waits until each is ready, then the
 * sender on host 0; returns both sides' results and the slowest receiver's rate.
 */
export async function runPair<S, R extends { delivered: number; bytes: number; spanMs: number }>(
  p: Placement, c: Case, s: Settings, roles: { send: WorkerConfig['role']; recv: WorkerConfig['role'] }, nodeFlags: string[] = [],
): Promise<PairRun<S, R>> {
  const group = randomGroup();
  const port = randomPort();
  const receivers: Worker[] = [];
  for (let h = 1; h <= c.receivers; h++) {
    receivers.push(watch(p.spawn(h, THROUGHPUT_WORKER, JSON.stringify(baseConfig(p, h, c, s, group, port, roles.recv)), nodeFlags), `${roles.recv} h${h}`));
  }
  await Promise.all(receivers.map((r) => r.ready));
  const sender = watch(p.spawn(0, THROUGHPUT_WORKER, JSON.stringify(baseConfig(p, 0, c, s, group, port, roles.send)), nodeFlags), `${roles.send} h0`);
  try {
    const send = (await sender.result) as S;
    const recvs = (await Promise.all(receivers.map((r) => r.result))) as R[];
    const rates = recvs.map((r) => r.delivered / (Math.max(r.spanMs, 1) / 1000));
    const slowest = rates.indexOf(Math.min(...rates));
    return { send, recvs, rate: rates[slowest]!, mbps: recvs[slowest]!.bytes / (Math.max(recvs[slowest]!.spanMs, 1) / 1000) / 1e6 };
  } finally {
    sender.kill();
    for (const r of receivers) r.kill();
  }
}

export async function reliableOnce(p: Placement, c: Case, s: Settings, nodeFlags: string[] = []): Promise<ReliableRun> {
  const hosts = Array.from({ length: c.receivers }, (_, i) => i + 1);
  const dropsBefore = await Promise.all(hosts.map((h) => p.lossDrops(h)));
  const { send, recvs, rate, mbps } = await runPair<SendResult, RecvResult>(p, c, s, { send: 'send', recv: 'recv' }, nodeFlags);
  const dropsAfter = await Promise.all(hosts.map((h) => p.lossDrops(h)));
  const lossDrops = dropsAfter.reduce((sum, d, i) => sum + d - dropsBefore[i]!, 0);
  return {
    sent: send.sent,
    rate,
    mbps,
    missing: recvs.reduce((sum, r) => sum + (send.sent - r.delivered), 0),
    anomalies: recvs.reduce((sum, r) => sum + r.duplicates + r.outOfOrder + (r.senderCount !== send.sent ? 1 : 0), 0),
    txCpu: send.cpuSeconds,
    rxCpu: recvs.reduce((sum, r) => sum + r.cpuSeconds, 0) / recvs.length,
    naks: send.protocol.naksReceived ?? 0,
    repairs: send.protocol.repairsSent ?? 0,
    kernelDrops: recvs.reduce((sum, r) => sum + (r.transport.kernelDrops ?? 0), 0),
    naksSent: recvs.reduce((sum, r) => sum + (r.protocol.naksSent ?? 0), 0),
    lossDrops,
    txRssBytes: send.peakRssBytes,
    rxRssBytes: Math.max(...recvs.map((r) => r.peakRssBytes)),
  };
}

export async function dgramOnce(p: Placement, c: Case, s: Settings): Promise<DgramRun> {
  const { send, recvs, rate, mbps } = await runPair<DgramSendResult, DgramRecvResult>(p, c, s, { send: 'dgram-send', recv: 'dgram-recv' });
  return {
    sent: send.sent,
    rate,
    mbps,
    lost: recvs.reduce((sum, r) => sum + (send.sent - r.delivered), 0),
    txCpu: send.cpuSeconds,
    rxCpu: recvs.reduce((sum, r) => sum + r.cpuSeconds, 0) / recvs.length,
  };
}

export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`;
}

export function spread(values: number[], fmt: (n: number) => string): string {
  if (values.length === 1) return fmt(values[0]!);
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}
