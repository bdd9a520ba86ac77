/**
 * Reliable-delivery benchmark: blipcast channels between real processes on lab
 * hosts (network namespaces joined by a bridge; root), or on loopback with
 * `--loopback` (any user; loss is then injected inside the receiving process).
 *
 *   npm run build && node dist/bench/reliable.js [--quick] [--runs N] [--loopback] [--profile] [--verbose] [--open JSON] [--only throughput|latency|profile]
 *
 * 1. Throughput: one sender → 1 and → 3 receivers, 64 B and 1 KiB messages,
 *    0 % and 1 % receive loss. Delivered rate at the slowest receiver, from its
 *    first timed message to its last; whether everything arrived in order and
 *    exactly once; CPU seconds of the sender and of each receiver. blipcast
 *    twice: receivers reading per message (readable 'data') and with the
 *    batch API (channel.on('messages')). Next to each
 *    case, in the same run, raw node:dgram (one datagram per message, no repair)
 *    as the ceiling, with what it lost.
 * 2. Latency: 64 B round trip through an echo process on a second host at a low
 *    rate; one-way latency at 1 % loss split into messages that arrived directly
 *    and messages that only arrived in a repair (exact: the receiver records
 *    which sequence numbers came in original datagrams).
 * 3. The milestone check.
 *
 * `--open '{"windowBytes":1073741824}'` passes extra open() options to every
 * throughput channel (experiments; the default measures the defaults).
 * `--verbose` copies every worker's result line to stderr.
 * `--profile` runs the 64 B and 1 KiB, 1-receiver, 0 % cases once more under
 * `node --cpu-prof` on the sender and the receiver and prints their top
 * self-time functions.
 *
 * Each run sends up to a fixed number of messages but stops writing after
 * `maxSendMs`, so a slow configuration cannot blow the time budget; the
 * receivers learn the number actually sent from an end marker.
 */

import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { LatencyConfig, OnewayResult, PingResult } from './latency-worker';
import { topFunctions } from './reliable-profile';
import {
  dgramOnce, fmtRate, labPlacement, loopbackPlacement, parseRuns, randomGroup, randomPort, reliableOnce, requireRoot, setVerbose, spread, watch, withLoss,
  type Case, type DgramRun, type Placement, type ReliableRun, type Settings,
} from './runner';
import { formatTable, median } from './table';

const LATENCY_WORKER = join(__dirname, 'latency-worker.js');

interface CaseSummary {
  c: Case;
  rate: number;
  mbps: number;
  allDelivered: boolean;
  missing: number;
}

async function throughput(p: Placement, s: Settings, maxReceivers: number): Promise<CaseSummary[]> {
  const rows: string[][] = [];
  const summaries: CaseSummary[] = [];
  const cases: Case[] = [];
  for (const receivers of [1, 3].filter((n) => n <= maxReceivers)) for (const size of [64, 1024]) for (const loss of [0, 0.01]) cases.push({ size, receivers, loss });
  for (const c of cases) {
    const rel: ReliableRun[] = [];
    const relBatch: ReliableRun[] = [];
    const raw: DgramRun[] = [];
    await withLoss(p, c, async () => {
      for (let i = 0; i < s.runs; i++) {
        try {
          rel.push(await reliableOnce(p, c, s));
        } catch (err) {
          process.stderr.write(`blipcast run failed (${c.size} B, ${c.receivers} rx, ${c.loss * 100}%): ${(err as Error).message}\n`);
        }
        try {
          relBatch.push(await reliableOnce(p, c, { ...s, api: 'batch' }));
        } catch (err) {
          process.stderr.write(`blipcast batch-API run failed (${c.size} B, ${c.receivers} rx, ${c.loss * 100}%): ${(err as Error).message}\n`);
        }
        try {
          raw.push(await dgramOnce(p, c, s));
        } catch (err) {
          process.stderr.write(`node:dgram run failed (${c.size} B, ${c.receivers} rx, ${c.loss * 100}%): ${(err as Error).message}\n`);
        }
      }
    });
    const label = [`${c.size} B`, String(c.receivers), `${c.loss * 100}%`];
    for (const [name, runs] of [['blipcast', rel], ['blipcast (batch API)', relBatch]] as const) {
      if (runs.length === 0) {
        rows.push([...label, name, 'failed', '', '', '', '', '', '', '']);
        continue;
      }
      const missing = Math.max(...runs.map((r) => r.missing));
      const anomalies = Math.max(...runs.map((r) => r.anomalies));
      const delivered = missing === 0 && anomalies === 0 ? 'all' : `missing ${missing}${anomalies ? `, ${anomalies} out of order/dup` : ''}`;
      rows.push([...label, name, spread(runs.map((r) => r.rate), fmtRate), spread(runs.map((r) => r.mbps), (n) => n.toFixed(1)), delivered,
        fmtRate(median(runs.map((r) => r.sent))), median(runs.map((r) => r.txCpu)).toFixed(2), median(runs.map((r) => r.rxCpu)).toFixed(2),
        `${Math.round(median(runs.map((r) => r.naks)))} / ${Math.round(median(runs.map((r) => r.repairs)))}`, String(Math.round(median(runs.map((r) => r.kernelDrops))))]);
      // The milestone is judged on the per-message API (the conservative one).
      if (runs === rel) summaries.push({ c, rate: median(runs.map((r) => r.rate)), mbps: median(runs.map((r) => r.mbps)), allDelivered: missing === 0 && anomalies === 0 && runs.length === s.runs, missing });
    }
    if (raw.length > 0) {
      const sent = median(raw.map((r) => r.sent));
      const lost = median(raw.map((r) => r.lost));
      rows.push([...label, 'node:dgram (raw)', spread(raw.map((r) => r.rate), fmtRate), spread(raw.map((r) => r.mbps), (n) => n.toFixed(1)),
        `lost ${Math.round(lost)} (${((lost / (sent * c.receivers)) * 100).toFixed(1)}%)`, fmtRate(sent),
        median(raw.map((r) => r.txCpu)).toFixed(2), median(raw.map((r) => r.rxCpu)).toFixed(2), '', '']);
    }
  }
  console.log(`\n1. Throughput — ${p.label}; median of ${s.runs} run(s) (min–max)`);
  console.log('   rate = messages/s delivered at the slowest receiver, its first to last message; MB/s = message bytes (no headers)\n');
  console.log(formatTable(['size', 'rx', 'loss', 'implementation', 'msgs/s', 'MB/s', 'delivered', 'sent', 'tx CPU s', 'rx CPU s (each)', 'NAKs / repairs', 'kernel drops'], rows));
  return summaries;
}

// ---------------------------------------------------------------- latency

function percentile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function latencyRow(name: string, values: number[], note: string): string[] {
  const s = [...values].sort((a, b) => a - b);
  const f = (n: number): string => (Number.isFinite(n) ? n.toFixed(0) : '—');
  return [name, String(s.length), f(percentile(s, 0.5)), f(percentile(s, 0.99)), f(percentile(s, 0.999)), f(s[s.length - 1] ?? NaN), note];
}

async function latency(p: Placement, quick: boolean): Promise<void> {
  const base: LatencyConfig = {
    role: 'ping', groupA: randomGroup(), groupB: randomGroup(), port: randomPort(), portB: randomPort(), iface: '', ttl: p.ttl,
    rate: 1000, durationMs: quick ? 2000 : 5000, warmupMs: 500, size: 64, emulatedLoss: 0,
  };
  const rows: string[][] = [];
  const echo = watch(p.spawn(1, LATENCY_WORKER, JSON.stringify({ ...base, role: 'echo', iface: p.iface(1) })), 'echo h1');
  await echo.ready;
  const pinger = watch(p.spawn(0, LATENCY_WORKER, JSON.stringify({ ...base, role: 'ping', iface: p.iface(0) })), 'ping h0');
  try {
    const ping = (await pinger.result) as PingResult;
    await echo.result;
    rows.push(latencyRow(`round trip, ${base.rate} msg/s, 0% loss`, ping.rttUs, `${ping.sent - ping.received} of ${ping.sent} not echoed`));
  } catch (err) {
    process.stderr.write(`round-trip run failed: ${(err as Error).message}\n`);
  } finally {
    echo.kill();
    pinger.kill();
  }

  // One-way at 1 % loss. Higher rate than the round trip so that a few hundred datagrams are lost and repaired.
  const one: LatencyConfig = { ...base, port: randomPort(), groupA: randomGroup(), rate: 2000, durationMs: quick ? 3000 : 8000 };
  const loss = 0.01;
  if (p.labLoss) await p.setLoss(1, loss);
  try {
    const recv = watch(p.spawn(1, LATENCY_WORKER, JSON.stringify({ ...one, role: 'oneway-recv', iface: p.iface(1), emulatedLoss: p.labLoss ? 0 : loss })), 'oneway-recv h1');
    await recv.ready;
    const send = watch(p.spawn(0, LATENCY_WORKER, JSON.stringify({ ...one, role: 'oneway-send', iface: p.iface(0) })), 'oneway-send h0');
    try {
      await send.result;
      const r = (await recv.result) as OnewayResult;
      const directMedian = median(r.directUs);
      rows.push(latencyRow(`one-way, direct, ${one.rate} msg/s, 1% loss`, r.directUs, 'includes messages held behind a gap'));
      rows.push(latencyRow('one-way, repaired', r.repairedUs, `${r.protocol.naksSent} NAKs sent, ${r.reportedLost} reported lost`));
      rows.push(latencyRow('repair delay (repaired − median direct)', r.repairedUs.map((v) => v - directMedian), 'from when the lost datagram would have arrived'));
    } finally {
      send.kill();
      recv.kill();
    }
  } catch (err) {
    process.stderr.write(`one-way run failed: ${(err as Error).message}\n`);
  } finally {
    if (p.labLoss) await p.setLoss(1, 0);
  }
  console.log(`\n2. Latency — 64 B messages, µs (${p.label})`);
  console.log('   repaired = delivered although its original datagram never arrived (the receiver records the sequence numbers of original datagrams)\n');
  console.log(formatTable(['measurement', 'samples', 'p50', 'p99', 'p99.9', 'max', 'notes'], rows));
}

// ---------------------------------------------------------------- milestone

function milestone(summaries: CaseSummary[]): void {
  console.log('\n3. Milestone check (all delivered in every run, median rate)\n');
  const rows: string[][] = [];
  for (const receivers of [...new Set(summaries.map((s) => s.c.receivers))]) {
    const find = (size: number, loss: number): CaseSummary | undefined => summaries.find((s) => s.c.size === size && s.c.loss === loss && s.c.receivers === receivers);
    const check = (name: string, s: CaseSummary | undefined, value: (s: CaseSummary) => number, target: number, unit: string): void => {
      if (s === undefined) {
        rows.push([name, String(receivers), `${fmtTarget(target)} ${unit}`, 'no result', 'not met']);
        return;
      }
      const v = value(s);
      const met = v >= target && s.allDelivered;
      const got = `${unit === 'MB/s' ? v.toFixed(1) : Math.round(v).toLocaleString('en-US')} ${unit}, ${s.allDelivered ? 'all delivered' : `missing ${s.missing}`}`;
      rows.push([name, String(receivers), `≥ ${fmtTarget(target)} ${unit}`, got, met ? 'met' : 'NOT met']);
    };
    check('64 B, 0% loss', find(64, 0), (s) => s.rate, 1_000_000, 'msgs/s');
    check('64 B, 1% loss', find(64, 0.01), (s) => s.rate, 800_000, 'msgs/s');
    check('1 KiB, 0% loss', find(1024, 0), (s) => s.mbps, 200, 'MB/s');
    check('1 KiB, 1% loss', find(1024, 0.01), (s) => s.mbps, 150, 'MB/s');
  }
  console.log(formatTable(['target', 'rx', 'needs', 'measured', 'result'], rows));
}

function fmtTarget(n: number): string {
  return n.toLocaleString('en-US');
}

// ---------------------------------------------------------------- profile

async function profile(p: Placement, s: Settings): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-prof-'));
  try {
    for (const size of [64, 1024]) {
      const c: Case = { size, receivers: 1, loss: 0 };
      for (const role of ['send', 'recv'] as const) {
        const roleDir = join(dir, `${size}-${role}`);
        // Profile one side per run: the profiler's own overhead then slows only the side being looked at.
        const flags = ['--cpu-prof', '--cpu-prof-dir', roleDir];
        const r = await reliableOnceProfiled(p, c, s, role, flags);
        const files = readdirSync(roleDir).filter((f) => f.endsWith('.cpuprofile'));
        console.log(`\nProfile of the ${role === 'send' ? 'sender' : 'receiver'} (${size} B, 1 receiver, 0% loss; this run: ${fmtRate(r.rate)} msgs/s, ${r.mbps.toFixed(1)} MB/s delivered) — top self time (idle excluded)\n`);
        if (files.length === 0) {
          console.log('(no profile written)');
          continue;
        }
        console.log(formatTable(['function', 'self ms', 'share'], topFunctions(join(roleDir, files[0]!), 15)));
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function reliableOnceProfiled(p: Placement, c: Case, s: Settings, role: 'send' | 'recv', flags: string[]): Promise<ReliableRun> {
  const wrapped: Placement = {
    ...p,
    spawn: (host, script, arg, nodeFlags = []) => p.spawn(host, script, arg, (host === 0) === (role === 'send') ? [...nodeFlags, ...flags] : nodeFlags),
  };
  return reliableOnce(wrapped, c, s);
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' }, runs: { type: 'string' }, loopback: { type: 'boolean' }, profile: { type: 'boolean' },
      only: { type: 'string' }, verbose: { type: 'boolean' }, open: { type: 'string' },
    },
  });
  setVerbose(values.verbose === true);
  const extra = values.open === undefined ? undefined : (JSON.parse(values.open) as Record<string, unknown>);
  const quick = values.quick === true;
  const runs = parseRuns(values.runs, quick);
  const only = values.only;
  if (only !== undefined && only !== 'throughput' && only !== 'latency' && only !== 'profile') throw new RangeError(`--only must be throughput, latency or profile, got ${only}`);
  if (!values.loopback && !requireRoot('blipcast bench (the lab; or pass --loopback)')) return;
  const settings: Settings = {
    runs,
    countFor: (size) => (quick ? (size <= 64 ? 500_000 : 100_000) : size <= 64 ? 2_000_000 : 300_000),
    maxSendMs: quick ? 1500 : 3000,
    idleMs: 3000,
    extra,
  };
  const started = performance.now();
  const placement = values.loopback ? loopbackPlacement() : await labPlacement(4);
  try {
    console.log(`blipcast reliable-delivery benchmark — ${placement.label}`);
    if (extra) console.log(`open() options added to every throughput channel: ${JSON.stringify(extra)}`);
    console.log(`node ${process.version}, ${runs} run(s) per case, up to ${fmtRate(settings.countFor(64))} × 64 B / ${fmtRate(settings.countFor(1024))} × 1 KiB per run, writing stops after ${settings.maxSendMs} ms`);
    let summaries: CaseSummary[] | undefined;
    if (only === undefined || only === 'throughput') summaries = await throughput(placement, settings, 3);
    if (only === undefined || only === 'latency') await latency(placement, quick);
    if (summaries) milestone(summaries);
    if (values.profile || only === 'profile') await profile(placement, settings);
  } finally {
    await placement.close();
  }
  console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
