/**
 * Side-by-side benchmark: blipcast next to NRL NORM, OpenPGM (through ZeroMQ
 * epgm://) and JGroups, one sender and one receiver on two lab hosts (network
 * namespaces joined by veth and a bridge; root), in the same run.
 *
 *   npm run build && node dist/bench/compare/compare.js [--quick] [--runs N] [--only throughput|latency] [--systems a,b] [--no-install] [--verbose]
 *
 * 1. Installs what the references need from Debian when it is missing
 *    (libnorm-dev, libzmq3-dev, libpgm-dev, libjgroups-java; javac must be
 *    there), or skips a reference with one line saying why.
 * 2. Builds our harnesses for them (bench/compare/*.c, JGroupsHarness.java)
 *    into build/compare/.
 * 3. Throughput: rows = system × message size × receive loss (nftables on the
 *    receiving host); messages/s and MB/s delivered (median of the runs,
 *    min–max), whether everything arrived, CPU seconds per GB delivered of the
 *    sender and of the receiver.
 * 4. Latency (bench/compare/latency.ts), two tables for blipcast, NORM,
 *    OpenPGM and JGroups (stock bundling, and DONT_BUNDLE per message):
 *    64 B round trip p50/p99/p99.9/max at 1000 msgs/s without loss, through
 *    an echo process on the other host; and 64 B one-way latency at 2000
 *    msgs/s with 1 % receive loss (every message carries its CLOCK_MONOTONIC
 *    send time, which all lab namespaces share), with how many messages never
 *    arrived, plus blipcast's repaired-only row (messages whose original
 *    datagram was lost). `--only latency` runs just these (after the
 *    harnesses are built); `--systems` picks their rows too.
 *
 * How each reference is configured, and why: bench/compare/README.md.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Lab as LabType } from '../../test/lab/lab';
import type { DgramRecvResult, DgramSendResult, RecvResult, SendResult, WorkerConfig } from '../reliable-worker';
import { formatTable, median } from '../table';
import { parseRuns, requireRoot } from '../runner';
import { latency } from './latency';
import { type Built, type HarnessResult, ifaceArg, jvmCommand, pair, randomGroup, randomPort, setVerbose } from './procs';

const ROOT = resolve(__dirname, '..', '..', '..');
const SRC_DIR = join(ROOT, 'bench', 'compare');
const BUILD_DIR = join(ROOT, 'build', 'compare');
const RELIABLE_WORKER = join(__dirname, '..', 'reliable-worker.js');
const JGROUPS_JAR = '/usr/share/java/jgroups.jar';
/** Kernel socket buffers for the node workers (the C harnesses ask for the same 8 MiB). */
const SOCKET_BUFFER_BYTES = 8 << 20;
/** NORM rates (bit/s): the fixed rate, and the ceiling NORM-CC may climb to. */
const NORM_FIXED_BPS = 1e9;
const NORM_CC_MAX_BPS = 10e9;
/** OpenPGM rates (ZMQ_RATE, kbit/s). */
const PGM_LOW_KBPS = 500_000;
const PGM_HIGH_KBPS = 2_000_000;

// ---------------------------------------------------------------- setup

interface Tools {
  cc: string | undefined;
  cxx: string | undefined;
  javac: string | undefined;
  java: string | undefined;
}

function which(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/usr/local/bin', '/bin']) if (existsSync(join(dir, name))) return join(dir, name);
  return undefined;
}

/** Debian packages behind each reference, and a file that shows each is installed. */
const PACKAGES: { pkg: string; file: string }[] = [
  { pkg: 'libnorm-dev', file: '/usr/include/normApi.h' },
  { pkg: 'libzmq3-dev', file: '/usr/include/zmq.h' },
  { pkg: 'libpgm-dev', file: '/usr/include/pgm-5.3/pgm/pgm.h' },
  { pkg: 'libjgroups-java', file: JGROUPS_JAR },
];

function installMissing(allowInstall: boolean): void {
  const missing = PACKAGES.filter((p) => !existsSync(p.file)).map((p) => p.pkg);
  if (missing.length === 0) return;
  const aptGet = which('apt-get');
  if (!allowInstall || aptGet === undefined || process.getuid?.() !== 0) {
    console.log(`missing Debian packages: ${missing.join(' ')} (not installing: ${!allowInstall ? '--no-install' : aptGet === undefined ? 'no apt-get' : 'not root'})`);
    return;
  }
  console.log(`installing from Debian: ${missing.join(' ')} …`);
  try {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    execFileSync(aptGet, ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 });
    execFileSync(aptGet, ['install', '-y', '-qq', '--no-install-recommends', ...missing], { stdio: 'ignore', env, timeout: 600_000 });
  } catch (err) {
    console.log(`apt-get install failed: ${(err as Error).message.split('\n')[0]}`);
  }
}

function build(tools: Tools): Built {
  mkdirSync(BUILD_DIR, { recursive: true });
  const skipped = new Map<string, string>();
  const out: Built = { skipped };
  const compile = (name: string, cmd: string | undefined, args: string[]): boolean => {
    if (cmd === undefined) {
      skipped.set(name, 'no compiler');
      return false;
    }
    try {
      execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 });
      return true;
    } catch (err) {
      skipped.set(name, `build failed: ${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim().split('\n').slice(0, 2).join(' ')}`);
      return false;
    }
  };
  if (!existsSync('/usr/include/normApi.h')) skipped.set('norm', 'libnorm-dev is not installed');
  // normApi.h uses C++ references and default arguments: the harness is C that also compiles as C++.
  else if (compile('norm', tools.cxx, ['-x', 'c++', '-O2', '-o', join(BUILD_DIR, 'norm-harness'), join(SRC_DIR, 'norm-harness.c'), '-lnorm'])) out.norm = join(BUILD_DIR, 'norm-harness');
  if (!existsSync('/usr/include/zmq.h')) skipped.set('pgm', 'libzmq3-dev is not installed');
  else if (compile('pgm', tools.cc, ['-O2', '-o', join(BUILD_DIR, 'pgm-harness'), join(SRC_DIR, 'pgm-harness.c'), '-lzmq'])) {
    out.pgm = join(BUILD_DIR, 'pgm-harness');
    // Debian's libzmq links libpgm for epgm://; a build without it would fail at connect time.
    try {
      const ldd = execFileSync(which('ldd') ?? 'ldd', [out.pgm], { encoding: 'utf8' });
      if (!/libzmq/.test(ldd)) skipped.set('pgm', 'libzmq not linked');
    } catch {
      /* ldd missing: find out at run time */
    }
  }
  if (!existsSync(JGROUPS_JAR)) skipped.set('jgroups', 'libjgroups-java is not installed');
  else if (tools.java === undefined) skipped.set('jgroups', 'no java');
  else if (compile('jgroups', tools.javac, ['-nowarn', '-cp', JGROUPS_JAR, '-d', BUILD_DIR, join(SRC_DIR, 'JGroupsHarness.java')])) {
    out.jgroups = [tools.java, '-cp', `${BUILD_DIR}:${JGROUPS_JAR}`, '-Xms256m', '-Xmx1g', '-Djava.net.preferIPv4Stack=true'];
  }
  return out;
}

// ---------------------------------------------------------------- systems

interface Cell {
  size: number;
  loss: number;
}

interface Settings {
  runs: number;
  countFor(size: number): number;
  maxSendMs: number;
  idleMs: number;
}

/** One run, normalised: what the receiver delivered over which span, and the CPU both sides used. */
interface Run {
  sent: number;
  delivered: number;
  bytes: number;
  spanMs: number;
  txCpuS: number;
  rxCpuS: number;
}

interface System {
  id: string;
  label: string;
  /** Why it cannot run, if it cannot. */
  skip?: string;
  /** Why a cell does not apply to it, if it does not. */
  notFor?(cell: Cell): string | undefined;
  run(lab: LabType, cell: Cell, s: Settings): Promise<Run>;
}

function fromHarness(t: HarnessResult, r: HarnessResult): Run {
  return {
    sent: t.sent ?? 0,
    delivered: r.delivered ?? 0,
    bytes: r.bytes ?? 0,
    spanMs: (r.lastMs ?? 0) - (r.firstMs ?? 0),
    txCpuS: ((t.cpuUserMs ?? 0) + (t.cpuSysMs ?? 0)) / 1000,
    rxCpuS: ((r.cpuUserMs ?? 0) + (r.cpuSysMs ?? 0)) / 1000,
  };
}

function nodeWorkerSystem(id: string, label: string, roles: ['recv', 'send'] | ['dgram-recv', 'dgram-send'], extra?: Record<string, unknown>, api?: WorkerConfig['api']): System {
  return {
    id,
    label,
    notFor: roles[0] === 'dgram-recv' ? (c) => (c.size > 65507 ? 'one datagram per message: larger than a UDP datagram can be' : undefined) : undefined,
    async run(lab, cell, s) {
      const group = randomGroup();
      const port = randomPort();
      const cfg = (host: number, role: WorkerConfig['role']): string => {
        const c: WorkerConfig = {
          role, group, port, iface: lab.hosts[host]!.ipv4, ttl: 1, count: s.countFor(cell.size), size: cell.size, receivers: 1,
          maxSendMs: s.maxSendMs, idleMs: s.idleMs, emulatedLoss: 0, socketBufferBytes: SOCKET_BUFFER_BYTES, ...(extra ? { extra } : {}),
          ...(api ? { api } : {}),
        };
        return JSON.stringify(c);
      };
      const [t, r] = await pair(lab, id, [process.execPath, [RELIABLE_WORKER, cfg(1, roles[0])]], [process.execPath, [RELIABLE_WORKER, cfg(0, roles[1])]], true);
      const tx = t as unknown as SendResult | DgramSendResult;
      const rx = r as unknown as RecvResult | DgramRecvResult;
      return { sent: tx.sent, delivered: rx.delivered, bytes: rx.bytes, spanMs: rx.spanMs, txCpuS: tx.cpuSeconds, rxCpuS: rx.cpuSeconds };
    },
  };
}

function harnessArgs(lab: LabType, host: number, binary: string, role: string, group: string, port: number, cell: Cell, s: Settings, extra: string[]): string[] {
  return [`role=${role}`, `group=${group}`, `port=${port}`, ifaceArg(lab, host, binary), `count=${s.countFor(cell.size)}`, `size=${cell.size}`,
    `maxSendMs=${s.maxSendMs}`, `idleMs=${s.idleMs}`, 'lingerMs=30000', ...extra];
}

function cSystem(id: string, label: string, binary: string | undefined, skip: string | undefined, extra: string[]): System {
  return {
    id,
    label,
    ...(binary === undefined ? { skip: skip ?? 'not built' } : {}),
    async run(lab, cell, s) {
      const group = randomGroup();
      const port = randomPort();
      const [t, r] = await pair(lab, id, [binary!, harnessArgs(lab, 1, binary!, 'recv', group, port, cell, s, extra)], [binary!, harnessArgs(lab, 0, binary!, 'send', group, port, cell, s, extra)], false);
      return fromHarness(t, r);
    },
  };
}

function jgroupsSystem(built: Built): System {
  return {
    id: 'jgroups',
    label: 'JGroups 2.12 (stock udp.xml)',
    ...(built.jgroups === undefined ? { skip: built.skipped.get('jgroups') ?? 'not built' } : {}),
    async run(lab, cell, s) {
      const group = randomGroup();
      const port = randomPort();
      const cluster = `cmp-${process.pid}-${Math.floor(Math.random() * 1e9)}`;
      const jvm = (host: number, role: string): [string, string[]] => jvmCommand(built, lab, host, group, port,
        [`role=${role}`, `cluster=${cluster}`, 'members=2', `count=${s.countFor(cell.size)}`, `size=${cell.size}`, `maxSendMs=${s.maxSendMs}`, `idleMs=${s.idleMs}`, 'lingerMs=30000']);
      const [t, r] = await pair(lab, 'jgroups', jvm(1, 'recv'), jvm(0, 'send'), false);
      return fromHarness(t, r);
    },
  };
}

function systems(built: Built): System[] {
  const norm = (cc: boolean): string[] => (cc ? ['cc=1', `rate=${NORM_CC_MAX_BPS}`] : ['cc=0', `rate=${NORM_FIXED_BPS}`]);
  return [
    nodeWorkerSystem('blipcast', 'blipcast (native transport, batch read API)', ['recv', 'send'], undefined, 'batch'),
    nodeWorkerSystem('blipcast-dgram', 'blipcast (node:dgram fallback)', ['recv', 'send'], { transport: 'dgram' }),
    nodeWorkerSystem('dgram', 'raw node:dgram (unreliable)', ['dgram-recv', 'dgram-send']),
    cSystem('norm', `NORM, fixed ${NORM_FIXED_BPS / 1e9} Gbit/s`, built.norm, built.skipped.get('norm'), norm(false)),
    cSystem('norm-cc', `NORM-CC (≤ ${NORM_CC_MAX_BPS / 1e9} Gbit/s)`, built.norm, built.skipped.get('norm'), norm(true)),
    cSystem('pgm-low', `OpenPGM/ZeroMQ, ${PGM_LOW_KBPS / 1e3} Mbit/s`, built.pgm, built.skipped.get('pgm'), [`rate=${PGM_LOW_KBPS}`]),
    cSystem('pgm-high', `OpenPGM/ZeroMQ, ${PGM_HIGH_KBPS / 1e6} Gbit/s`, built.pgm, built.skipped.get('pgm'), [`rate=${PGM_HIGH_KBPS}`]),
    jgroupsSystem(built),
  ];
}

// ---------------------------------------------------------------- throughput

function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return '—';
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)} M` : `${(n / 1e3).toFixed(0)} k`;
}

function spread(values: number[], fmt: (n: number) => string): string {
  if (values.length === 1) return fmt(values[0]!);
  return `${fmt(median(values))} (${fmt(Math.min(...values))}–${fmt(Math.max(...values))})`;
}

function sizeLabel(size: number): string {
  return size >= 1024 ? `${size / 1024} KiB` : `${size} B`;
}

async function throughput(lab: LabType, all: System[], sizes: number[], losses: number[], s: Settings): Promise<void> {
  const results = new Map<string, Run[]>();
  const failures = new Map<string, string>();
  const key = (sys: System, c: Cell): string => `${sys.id}|${c.size}|${c.loss}`;
  const runnable = all.filter((sys) => sys.skip === undefined);
  // Loss is a property of the receiving host: set it once per loss level, then every system and size in turn.
  for (const loss of losses) {
    await lab.setLoss(1, loss);
    try {
      for (const size of sizes) {
        const cell = { size, loss };
        for (const sys of runnable) {
          if (sys.notFor?.(cell) !== undefined) continue;
          const runs: Run[] = [];
          for (let i = 0; i < s.runs; i++) {
            try {
              runs.push(await sys.run(lab, cell, s));
            } catch (err) {
              failures.set(key(sys, cell), (err as Error).message);
              process.stderr.write(`${sys.label}, ${sizeLabel(size)}, ${loss * 100}% loss: run failed: ${(err as Error).message}\n`);
            }
          }
          results.set(key(sys, cell), runs);
          const m = runs.length ? median(runs.map((r) => r.delivered / (Math.max(r.spanMs, 1) / 1000))) : NaN;
          process.stderr.write(`  done: ${sys.label}, ${sizeLabel(size)}, ${loss * 100}% loss: ${fmtRate(m)} msgs/s\n`);
        }
      }
    } finally {
      await lab.setLoss(1, 0);
    }
  }
  const rows: string[][] = [];
  for (const sys of all) {
    if (sys.skip !== undefined) {
      rows.push([sys.label, '', '', `skipped: ${sys.skip}`, '', '', '', '']);
      continue;
    }
    for (const size of sizes) {
      for (const loss of losses) {
        const cell = { size, loss };
        const label = [sys.label, sizeLabel(size), `${loss * 100}%`];
        const na = sys.notFor?.(cell);
        if (na !== undefined) {
          rows.push([...label, `n/a: ${na}`, '', '', '', '']);
          continue;
        }
        const runs = results.get(key(sys, cell)) ?? [];
        if (runs.length === 0) {
          rows.push([...label, 'failed', '', (failures.get(key(sys, cell)) ?? '').slice(0, 60), '', '']);
          continue;
        }
        const rate = runs.map((r) => r.delivered / (Math.max(r.spanMs, 1) / 1000));
        const mbps = runs.map((r) => r.bytes / (Math.max(r.spanMs, 1) / 1000) / 1e6);
        const missing = runs.map((r) => r.sent - r.delivered);
        const worst = Math.max(...missing);
        const delivered = worst <= 0 && runs.length === s.runs ? 'all' : `missing ${worst} of ${Math.round(median(runs.map((r) => r.sent)))}${runs.length < s.runs ? `; ${s.runs - runs.length} run(s) failed` : ''}`;
        const perGb = (cpu: (r: Run) => number): string => {
          const v = median(runs.map((r) => (r.bytes > 0 ? cpu(r) / (r.bytes / 1e9) : NaN)));
          return Number.isFinite(v) ? v.toFixed(1) : '—';
        };
        rows.push([...label, spread(rate, fmtRate), spread(mbps, (n) => n.toFixed(1)), delivered, perGb((r) => r.txCpuS), perGb((r) => r.rxCpuS)]);
      }
    }
  }
  console.log(`\n1. Throughput — one sender (h0) → one receiver (h1); median of ${s.runs} run(s) (min–max)`);
  console.log('   msgs/s and MB/s = delivered message bytes over the receiver\'s first-to-last message; loss = random drop of UDP datagrams arriving at the receiver (nftables)');
  console.log('   CPU s/GB = process CPU seconds (user + system, all threads) per GB of messages delivered; the sender\'s includes serving repairs');
  console.log('   where messages are missing, the rate is over the span of what did arrive (it can exceed the link when little did)\n');
  console.log(formatTable(['system', 'size', 'loss', 'msgs/s', 'MB/s', 'delivered', 'tx CPU s/GB', 'rx CPU s/GB'], rows));
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' }, runs: { type: 'string' }, only: { type: 'string' }, systems: { type: 'string' },
      'no-install': { type: 'boolean' }, verbose: { type: 'boolean' },
    },
  });
  setVerbose(values.verbose === true);
  const quick = values.quick === true;
  const runs = parseRuns(values.runs, quick);
  const only = values.only;
  if (only !== undefined && only !== 'throughput' && only !== 'latency') throw new RangeError(`--only must be throughput or latency, got ${only}`);
  if (!requireRoot('bench:compare (the lab)')) return;
  const started = performance.now();
  const tools: Tools = { cc: which('cc') ?? which('gcc') ?? which('clang'), cxx: which('c++') ?? which('g++') ?? which('clang++'), javac: which('javac'), java: which('java') };
  installMissing(values['no-install'] !== true);
  const built = build(tools);
  let all = systems(built);
  if (values.systems) {
    const wanted = new Set(values.systems.split(','));
    all = all.filter((s) => wanted.has(s.id));
  }
  for (const s of all) if (s.skip) console.log(`skipping ${s.label}: ${s.skip}`);
  const settings: Settings = {
    runs,
    // Sized so that the full suite (8 systems × 9 cells × 3 runs) stays within 15 minutes on two cores.
    countFor: (size) => (quick ? (size <= 64 ? 300_000 : size <= 1024 ? 60_000 : 1_500) : size <= 64 ? 600_000 : size <= 1024 ? 150_000 : 3_000),
    maxSendMs: quick ? 1000 : 1500,
    // JGroups finds a lost last message only through its periodic retransmission tasks: 1.5 s cut some of its runs short.
    idleMs: 3000,
  };
  const sizes = quick ? [64, 1024] : [64, 1024, 65536];
  const losses = quick ? [0, 0.01] : [0, 0.01, 0.05];
  const { Lab } = await import('../../test/lab/lab.js');
  const lab = await Lab.create({ hosts: 2, name: 'compare' });
  const onSignal = (): void => {
    lab.destroySync();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    console.log(`bench:compare — 2 lab hosts (network namespaces, veth + bridge, MTU 1500, TTL 1), node ${process.version}${only === 'latency' ? '' : `, ${runs} throughput run(s) per cell`}`);
    if (only !== 'latency') console.log(`per run: up to ${settings.countFor(64).toLocaleString('en-US')} × 64 B / ${settings.countFor(1024).toLocaleString('en-US')} × 1 KiB${sizes.includes(65536) ? ` / ${settings.countFor(65536).toLocaleString('en-US')} × 64 KiB` : ''}, writing stops after ${settings.maxSendMs} ms; receiver gives up after ${settings.idleMs} ms without a message`);
    if (only === undefined || only === 'throughput') await throughput(lab, all, sizes, losses, settings);
    if (only === undefined || only === 'latency') {
      // --systems picks latency rows too: blipcast, norm (or norm-cc), pgm-low / pgm-high, jgroups.
      const ids = new Set(all.map((s) => s.id));
      await latency(lab, built, quick, (id) => ids.has(id) || [...ids].some((s) => s.startsWith(`${id}-`) && id !== 'blipcast'));
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lab.destroy();
  }
  console.log(`\n(total ${((performance.now() - started) / 1000).toFixed(0)} s)`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
