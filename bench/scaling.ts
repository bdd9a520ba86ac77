/**
 * Scaling benchmark (issue 4, item 4): how blipcast behaves as receivers are
 * added and as the send window grows, on lab hosts (network namespaces joined
 * by a bridge; root).
 *
 *   npm run build && node dist/bench/scaling.js [--quick] [--runs N] [--verbose]
 *
 * 1. Receivers: one sender → 1, 3 and 6 receivers (each on its own host),
 *    64 B and 1 KiB messages, 0 % and 1 % receive loss (independent per
 *    receiver, nftables). Rate at the slowest receiver; NAK datagrams sent by
 *    all receivers per datagram the loss rules dropped (suppression keeps this
 *    near 1 even when losses are independent); repairs sent; peak RSS of the
 *    sender and of the largest receiver.
 * 2. Window: 1 KiB messages, 1 receiver, 1 % loss, the send window (and with
 *    it the receivers' reorder cap, 2 × window) from 4 MiB to 256 MiB: peak
 *    RSS of both sides against the configured bound.
 *
 * The machine has 2 cores: with 6 receivers, 7 processes share them, so the
 * rate there measures CPU sharing as much as the protocol; NAKs per loss and
 * RSS do not depend on it.
 */

import { parseArgs } from 'node:util';
import { fmtRate, labPlacement, parseRuns, reliableOnce, requireRoot, setVerbose, spread, withLoss, type Case, type Placement, type ReliableRun, type Settings } from './runner';
import { formatTable, median } from './table';

const MIB = 1 << 20;
const RECEIVER_COUNTS = [1, 3, 6];

function fmtMiB(bytes: number): string {
  return (bytes / MIB).toFixed(0);
}

async function runCase(p: Placement, c: Case, s: Settings): Promise<ReliableRun[]> {
  const runs: ReliableRun[] = [];
  await withLoss(p, c, async () => {
    for (let i = 0; i < s.runs; i++) {
      try {
        runs.push(await reliableOnce(p, c, s));
      } catch (err) {
        process.stderr.write(`run failed (${c.size} B, ${c.receivers} rx, ${c.loss * 100}%): ${(err as Error).message}\n`);
      }
    }
  });
  return runs;
}

function delivered(runs: ReliableRun[], expected: number): string {
  if (runs.length === 0) return 'failed';
  const missing = Math.max(...runs.map((r) => r.missing));
  const anomalies = Math.max(...runs.map((r) => r.anomalies));
  const failed = expected - runs.length;
  if (missing === 0 && anomalies === 0) return failed === 0 ? 'all' : `all (${failed} run(s) failed)`;
  return `missing ${missing}${anomalies ? `, ${anomalies} out of order/dup` : ''}`;
}

async function receiversTable(p: Placement, s: Settings): Promise<void> {
  const rows: string[][] = [];
  for (const receivers of RECEIVER_COUNTS) {
    for (const size of [64, 1024]) {
      for (const loss of [0, 0.01]) {
        const c: Case = { size, receivers, loss };
        const runs = await runCase(p, c, s);
        if (runs.length === 0) {
          rows.push([`${size} B`, String(receivers), `${loss * 100}%`, 'failed', '', '', '', '', '', '', '']);
          continue;
        }
        const nakPerLoss = loss === 0 ? '—' : median(runs.map((r) => (r.lossDrops > 0 ? r.naksSent / r.lossDrops : NaN))).toFixed(2);
        rows.push([
          `${size} B`, String(receivers), `${loss * 100}%`,
          spread(runs.map((r) => r.rate), fmtRate), median(runs.map((r) => r.mbps)).toFixed(1), delivered(runs, s.runs),
          loss === 0 ? '—' : `${Math.round(median(runs.map((r) => r.lossDrops)))}`,
          loss === 0 ? '—' : `${Math.round(median(runs.map((r) => r.naksSent)))} / ${Math.round(median(runs.map((r) => r.repairs)))}`,
          nakPerLoss,
          fmtMiB(median(runs.map((r) => r.txRssBytes))), fmtMiB(median(runs.map((r) => r.rxRssBytes))),
        ]);
      }
    }
  }
  console.log(`\n1. Receivers — ${p.label}; median of ${s.runs} run(s) (min–max)`);
  console.log('   rate at the slowest receiver; dropped = datagrams the loss rules dropped at all receivers (data and control);');
  console.log('   NAKs = NAK datagrams sent by all receivers; RSS = peak resident set over the timed part, MiB\n');
  console.log(formatTable(['size', 'rx', 'loss', 'msgs/s', 'MB/s', 'delivered', 'dropped', 'NAKs / repairs', 'NAKs per drop', 'tx RSS', 'rx RSS (max)'], rows));
}

async function windowTable(p: Placement, s: Settings, windowsMiB: number[]): Promise<void> {
  const rows: string[][] = [];
  for (const windowMiB of windowsMiB) {
    const c: Case = { size: 1024, receivers: 1, loss: 0.01 };
    const settings: Settings = { ...s, extra: { ...s.extra, windowBytes: windowMiB * MIB } };
    const runs = await runCase(p, c, settings);
    if (runs.length === 0) {
      rows.push([`${windowMiB}`, 'failed', '', '', '', '']);
      continue;
    }
    rows.push([
      `${windowMiB}`, spread(runs.map((r) => r.rate), fmtRate), median(runs.map((r) => r.mbps)).toFixed(1), delivered(runs, s.runs),
      fmtMiB(median(runs.map((r) => r.txRssBytes))), fmtMiB(median(runs.map((r) => r.rxRssBytes))),
    ]);
  }
  console.log(`\n2. Window — 1 KiB messages, 1 receiver, 1% loss; median of ${s.runs} run(s)`);
  console.log('   windowBytes bounds the sender\'s retained messages; the receivers\' reorder cap follows at 2 × window\n');
  console.log(formatTable(['window MiB', 'msgs/s', 'MB/s', 'delivered', 'tx RSS MiB', 'rx RSS MiB'], rows));
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean' }, runs: { type: 'string' }, verbose: { type: 'boolean' } } });
  setVerbose(values.verbose === true);
  const quick = values.quick === true;
  const runs = parseRuns(values.runs, quick);
  if (!requireRoot('blipcast bench:scaling')) return;
  const settings: Settings = {
    runs,
    countFor: (size) => (quick ? (size <= 64 ? 300_000 : 60_000) : size <= 64 ? 1_000_000 : 200_000),
    maxSendMs: quick ? 1500 : 3000,
    idleMs: 3000,
    extra: undefined,
  };
  const started = performance.now();
  const placement = await labPlacement(1 + Math.max(...RECEIVER_COUNTS));
  try {
    console.log(`blipcast scaling benchmark — node ${process.version}, ${runs} run(s) per case`);
    await receiversTable(placement, settings);
    await windowTable(placement, settings, quick ? [4, 64] : [4, 16, 64, 256]);
  } finally {
    await placement.close();
  }
  console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
