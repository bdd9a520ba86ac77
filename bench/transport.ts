/**
 * Transport benchmark: sender and receiver in separate processes, on loopback
 * (default) or on two lab hosts (`--lab`, root). For 64 B and 1400 B datagrams,
 * every combination of native (sendmmsg/recvmmsg) and node:dgram on each side:
 * datagrams/s and MB/s received, delivered share, kernel drops, and CPU time
 * per million datagrams on each side. Medians of --runs runs (default 3).
 *
 *   npm run bench:transport -- [--lab] [--runs N] [--count N]
 */

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { median, formatTable } from './table';

interface RecvResult { received: number; bytes: number; elapsedMs: number; cpuMs: number; kernelDrops: number; batches: number }
interface SendResult { sent: number; elapsedMs: number; cpuMs: number; stalls: number }

const WORKER = join(__dirname, 'transport-worker.js');

interface Placement {
  /** Wraps a worker command so it runs on the sending or receiving host. */
  wrap(side: 'send' | 'recv', args: string[]): string[];
  iface(side: 'send' | 'recv'): string;
  group: string;
  /** 0 on loopback, 1 between lab hosts (the lab bridge is one hop). */
  ttl: number;
  close(): Promise<void>;
  label: string;
}

function loopbackPlacement(): Placement {
  return { wrap: (_side, args) => [process.execPath, ...args], iface: () => '127.0.0.1', group: '239.255.77.1', ttl: 0, close: async () => {}, label: 'loopback (127.0.0.1, TTL 0)' };
}

async function labPlacement(): Promise<Placement> {
  const { Lab } = await import('../test/lab/lab.js');
  const lab = await Lab.create({ hosts: 2 });
  const [a, b] = lab.hosts as unknown as [{ netns: string; ipv4: string }, { netns: string; ipv4: string }];
  return {
    wrap: (side, args) => ['ip', 'netns', 'exec', side === 'send' ? a.netns : b.netns, process.execPath, ...args],
    iface: (side) => (side === 'send' ? a.ipv4 : b.ipv4),
    group: '239.255.77.1',
    ttl: 1,
    close: () => lab.destroy(),
    label: 'two lab hosts (network namespaces joined by veth and a bridge)',
  };
}

function runProcess(argv: string[], onReady?: () => void): { done: Promise<string> } {
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const done = new Promise<string>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (onReady && out.includes('"ready":true')) {
        const cb = onReady;
        onReady = undefined;
        cb();
      }
    });
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
  return { done };
}

function lastJson<T>(text: string): T {
  const lines = text.trim().split('\n').filter((l) => l.startsWith('{'));
  return JSON.parse(lines[lines.length - 1]!) as T;
}

async function once(p: Placement, sendKind: string, recvKind: string, size: number, count: number, port: number): Promise<{ recv: RecvResult; send: SendResult }> {
  let ready!: () => void;
  const readyP = new Promise<void>((r) => (ready = r));
  const receiver = runProcess(p.wrap('recv', [WORKER, 'recv', recvKind, p.group, String(port), p.iface('recv'), '400']), () => ready());
  await readyP;
  const sender = runProcess(p.wrap('send', [WORKER, 'send', sendKind, p.group, String(port), p.iface('send'), String(count), String(size), '64', String(p.ttl)]));
  const [r, s] = await Promise.all([receiver.done, sender.done]);
  return { recv: lastJson<RecvResult>(r), send: lastJson<SendResult>(s) };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { lab: { type: 'boolean' }, runs: { type: 'string' }, count: { type: 'string' } } });
  const runs = Number(values.runs ?? 3);
  const placement = values.lab ? await labPlacement() : loopbackPlacement();
  const rows: string[][] = [];
  const summary: Record<string, { rate: number; rxCpu: number }> = {};
  try {
    for (const size of [64, 1400]) {
      const count = Number(values.count ?? (size === 64 ? 300_000 : 150_000));
      for (const [sendKind, recvKind] of [['native', 'native'], ['dgram', 'dgram'], ['native', 'dgram'], ['dgram', 'native']] as const) {
        const rates: number[] = [];
        const mbs: number[] = [];
        const delivered: number[] = [];
        const drops: number[] = [];
        const rxCpu: number[] = [];
        const txCpu: number[] = [];
        const txRates: number[] = [];
        for (let i = 0; i < runs; i++) {
          const port = 20000 + Math.floor(Math.random() * 40000);
          const { recv, send } = await once(placement, sendKind, recvKind, size, count, port);
          const seconds = Math.max(recv.elapsedMs, 1) / 1000;
          rates.push(recv.received / seconds);
          mbs.push(recv.bytes / seconds / 1e6);
          delivered.push(recv.received / send.sent);
          drops.push(recv.kernelDrops);
          rxCpu.push((recv.cpuMs / Math.max(recv.received, 1)) * 1e6 / 1000);
          txCpu.push((send.cpuMs / send.sent) * 1e6 / 1000);
          txRates.push(send.sent / (send.elapsedMs / 1000));
        }
        const key = `${size}/${sendKind}/${recvKind}`;
        summary[key] = { rate: median(rates), rxCpu: median(rxCpu) };
        rows.push([
          `${size} B`, `${sendKind} → ${recvKind}`,
          `${fmtK(median(rates))} (${fmtK(Math.min(...rates))}–${fmtK(Math.max(...rates))})`,
          median(mbs).toFixed(1),
          `${(median(delivered) * 100).toFixed(1)}%`,
          recvKind === 'native' ? String(Math.round(median(drops))) : 'n/a',
          median(rxCpu).toFixed(2),
          median(txCpu).toFixed(2),
          fmtK(median(txRates)),
        ]);
      }
    }
  } finally {
    await placement.close();
  }
  console.log(`\nblipcast transport benchmark — ${placement.label}; median of ${runs} runs (min–max)\n`);
  console.log(formatTable(['size', 'send → recv', 'rx datagrams/s', 'rx MB/s', 'delivered', 'kernel drops', 'rx CPU s / M dgrams', 'tx CPU s / M dgrams', 'tx datagrams/s'], rows));
  console.log('\nratios (native ÷ node:dgram, same size):');
  for (const size of [64, 1400]) {
    const n = summary[`${size}/native/native`]!;
    const d = summary[`${size}/dgram/dgram`]!;
    console.log(`  ${size} B: rx rate ×${(n.rate / d.rate).toFixed(2)}, rx CPU per datagram ×${(n.rxCpu / d.rxCpu).toFixed(2)}`);
  }
}

function fmtK(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
