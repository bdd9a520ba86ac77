/**
 * Side-by-side benchmark: blipcast next to NRL NORM, OpenPGM (through ZeroMQ
 * epgm://) and JGroups, one sender and one receiver on two lab hosts (network
 * namespaces joined by veth and a bridge; root), in the same run.
 *
 *   npm run build && node dist/bench/compare/compare.js [--quick] [--runs N] [--seconds S] [--only throughput|latency] [--systems a,b] [--no-install] [--verbose]
 *
 * 1. Installs what the references need from Debian when it is missing
 *    (libnorm-dev, libzmq3-dev, libpgm-dev, libjgroups-java; javac must be
 *    there), or skips a reference with one line saying why.
 * 2. Builds our harnesses for them (bench/compare/*.c, JGroupsHarness.java)
 *    into build/compare/.
 * 3. Throughput (bench/compare/throughput.ts): rows = system × message size ×
 *    receive loss (nftables on the receiving host); every sender writes for
 *    `--seconds`; messages/s and MB/s delivered (median of the runs,
 *    min–max), whether everything arrived, CPU seconds per GB delivered of the
 *    sender and of the receiver; runs interleaved across systems; then
 *    blipcast ÷ the best reference that delivered everything, per cell, over
 *    paired runs.
 * 4. Latency (bench/compare/latency.ts), two tables for blipcast, NORM,
 *    OpenPGM and JGroups (stock bundling, and DONT_BUNDLE per message):
 *    64 B round trip p50/p99/p99.9/max at 1000 msgs/s without loss, through
 *    an echo process on the other host (raw node:dgram too, as the floor);
 *    and 64 B one-way latency at 2000 msgs/s with 1 % receive loss (every
 *    message carries its CLOCK_MONOTONIC send time, which all lab namespaces
 *    share), with how many messages never arrived, plus blipcast's
 *    repaired-only row (messages whose original datagram was lost).
 *    `--only latency` runs just these (after the harnesses are built);
 *    `--systems` picks their rows too.
 *
 * Progress goes to stderr (what runs, run k of N, elapsed, an estimate of
 * what is left), the tables to stdout. How each reference is configured, and
 * why: bench/compare/README.md.
 */

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseRuns, requireRoot } from '../runner';
import { estimateLatencyMs, latency } from './latency';
import { type Built, setVerbose } from './procs';
import { clock, Progress } from './progress';
import { estimateThroughputMs, type Settings, systems, throughput } from './throughput';

const USAGE = `usage: node dist/bench/compare/compare.js [--quick] [--runs N] [--seconds S] [--only throughput|latency] [--systems a,b] [--no-install] [--verbose]
  (root: it builds a two-host lab; systems: blipcast, blipcast-dgram, dgram, norm, norm-cc, pgm-low, pgm-high, jgroups; bench/compare/README.md)`;

const ROOT = resolve(__dirname, '..', '..', '..');
const SRC_DIR = join(ROOT, 'bench', 'compare');
const BUILD_DIR = join(ROOT, 'build', 'compare');
const JGROUPS_JAR = '/usr/share/java/jgroups.jar';
/** Runs per throughput cell: enough for a median and a range that mean something on a shared two-core machine. */
const FULL_RUNS = 5;
const QUICK_RUNS = 2;
/** How long every throughput sender writes, s: a rate over less than 2 s is mostly start-up. */
const FULL_SECONDS = 3;
const QUICK_SECONDS = 2;

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

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' }, runs: { type: 'string' }, seconds: { type: 'string' }, only: { type: 'string' }, systems: { type: 'string' },
      'no-install': { type: 'boolean' }, verbose: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help === true) {
    console.log(USAGE);
    return;
  }
  setVerbose(values.verbose === true);
  const quick = values.quick === true;
  const runs = parseRuns(values.runs ?? String(quick ? QUICK_RUNS : FULL_RUNS), quick);
  const seconds = Number(values.seconds ?? (quick ? QUICK_SECONDS : FULL_SECONDS));
  if (!(seconds > 0)) throw new RangeError(`--seconds must be a positive number, got ${values.seconds}`);
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
    sendMs: seconds * 1000,
    // JGroups finds a lost last message only through its periodic retransmission tasks: 1.5 s cut some of its runs short.
    idleMs: 3000,
  };
  const sizes = quick ? [64, 1024] : [64, 1024, 65536];
  const losses = quick ? [0, 0.01] : [0, 0.01, 0.05];
  // --systems picks latency rows too: blipcast, dgram, norm (or norm-cc), pgm-low / pgm-high, jgroups.
  const ids = new Set(all.map((s) => s.id));
  const includeLatency = (id: string): boolean => ids.has(id) || [...ids].some((s) => s.startsWith(`${id}-`) && id !== 'blipcast');
  const throughputMs = only === 'latency' ? 0 : estimateThroughputMs(all, sizes, losses, settings);
  const latencyMs = only === 'throughput' ? 0 : estimateLatencyMs(built, quick, includeLatency);
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
    if (only !== 'latency') console.log(`per run: every sender writes for ${seconds} s (its library paces it), then says how many it wrote; its receiver stops once it has them all, or after ${settings.idleMs} ms without a message`);
    process.stderr.write(`estimated duration: ${clock(throughputMs + latencyMs)} (throughput ${clock(throughputMs)}, latency ${clock(latencyMs)})\n`);
    const progress = new Progress(throughputMs + latencyMs);
    if (only === undefined || only === 'throughput') await throughput(lab, all, sizes, losses, settings, progress);
    if (only === undefined || only === 'latency') await latency(lab, built, quick, includeLatency, progress);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await lab.destroy();
  }
  console.log(`\n(total ${clock(performance.now() - started)})`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
