/**
 * The replicated map's lab scenario (issue 14), with real `blipcast state`
 * processes on four lab hosts:
 *
 * - state-sync: host A (h0) loads 20,000 entries (`state --load`) and keeps
 *   serving. 3 s after its load, hosts B and C (h1, h2), each losing 10 % of
 *   the UDP datagrams that arrive (nftables), start `state --dump --timeout 60`
 *   while host D (h3) starts `state --load` of 1,000 updates to existing keys
 *   (different values), so the updates are written as the dumpers sync. Both
 *   dumps must be exactly the 20,000 entries with the 1,000 updated: counted
 *   as missing, extra and wrong values (the wrong ones split into still the
 *   old value of an updated key, and anything else). A dump is printed once
 *   its replica is settled (synced, and every replica heard synced with the
 *   same digest); when it printed at mere sync, the three became synced off
 *   the same snapshot cycle within milliseconds and 19 runs of 20 dumped
 *   without D's updates.
 *
 * - state-sync-after-update: the same, but B and C start the moment D has
 *   set its updates (they are on the wire, and A applies them while its
 *   snapshot cycles run), so the updates happen before the dumpers start and
 *   every dump must hold them.
 *
 * Every process runs with --stats; the notes say when each dumper was synced
 * and when D wrote, so a dump without the updates shows which came first.
 * Does not import AVA.
 */

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CpuLoad, type CpuLoadReport } from './cpu-load';
import { BIN, capture, type Captured, parseStderr, splitLines, tail, waitForMembership } from './delivery';
import { type Lab, type LabHost, withLab } from './lab';
import { exitText, formatLoad, runNotes, type ScenarioOptions, type ScenarioResult, type SenderOutcome } from './scenario-result';
import { randomGroup4, randomPort } from './traffic';

/** Entries host A loads. */
export const STATE_ENTRIES = 20_000;
/** Existing keys host D updates. */
export const STATE_UPDATES = 1_000;
/** Random single-datagram loss on the dumpers' hosts (B and C). */
const DUMPER_LOSS_RATE = 0.1;
/** After A's load, how long before the dumpers and the updater start. */
const DUMPERS_AFTER_MS = 3000;
/** The dumpers' --timeout, seconds. */
const DUMP_TIMEOUT_S = 60;
/** A's --serve: longer than anything else in the run; it is stopped (SIGTERM) once the others are done. */
const SERVE_S = 300;
/** How long A may take to be synced alone and set its entries. */
const LOAD_MAX_MS = 30_000;
/** A dumper or the updater still running this long after it started is killed. */
const CLIENT_MAX_MS = (DUMP_TIMEOUT_S + 20) * 1000;
/** A process told to stop (SIGTERM) that has not exited after this long is killed. */
const STOP_GRACE_MS = 15_000;
const POLL_MS = 20;
const MAP = 'inventory';

/** Key `i` of the map: `node-00042/slot`. */
export function stateKey(i: number): string {
  return `node-${String(i).padStart(5, '0')}/slot`;
}

/** A deterministic value of varied length (8–90 characters) for key `i`, generation `gen` (0: A's, 1: D's update); may hold '='. */
export function stateValue(i: number, gen: number): string {
  let x = (Math.imul(i + 1, 0x9e3779b1) ^ Math.imul(gen + 1, 0x85ebca6b)) >>> 0;
  const next = (): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % 36;
  };
  const length = 8 + (next() * 37 + next()) % 83;
  let text = `g${gen}:${i}=`;
  while (text.length < length) text += next().toString(36);
  return text;
}

/** The keys D updates: one in every 20, spread over the whole map (index 20·j + j mod 20). */
export function updatedIndex(j: number): number {
  return 20 * j + (j % 20);
}

/** The map as it must be in the end: A's entries with D's updates applied. */
export function expectedState(): Map<string, string> {
  const want = new Map<string, string>();
  for (let i = 0; i < STATE_ENTRIES; i++) want.set(stateKey(i), stateValue(i, 0));
  for (let j = 0; j < STATE_UPDATES; j++) want.set(stateKey(updatedIndex(j)), stateValue(updatedIndex(j), 1));
  return want;
}

/** A --load file of `key=value` lines. */
function loadFile(entries: Iterable<[string, string]>): string {
  let text = '# blipcast lab: state-sync\n';
  for (const [k, v] of entries) text += `${k}=${v}\n`;
  return text;
}

/**
 * A dump (`key=value` lines) against the expected map: what is wrong, one item
 * per kind of problem (empty when exact). `stale` is the value an updated key
 * had before its update.
 */
export function checkDump(lines: readonly string[], want: ReadonlyMap<string, string>, stale: ReadonlyMap<string, string>): { problems: string[]; missing: number; extra: number; wrong: number; staleValues: number } {
  const got = new Map<string, string>();
  let malformed = 0;
  let repeated = 0;
  let unsorted = 0;
  let last = '';
  for (const line of lines) {
    const at = line.indexOf('=');
    if (at <= 0) {
      malformed++;
      continue;
    }
    const key = line.slice(0, at);
    if (got.has(key)) repeated++;
    if (key < last) unsorted++;
    last = key;
    got.set(key, line.slice(at + 1));
  }
  const missing: string[] = [];
  const wrong: string[] = [];
  let staleValues = 0;
  for (const [k, v] of want) {
    const g = got.get(k);
    if (g === undefined) missing.push(k);
    else if (g !== v) {
      wrong.push(k);
      if (stale.get(k) === g) staleValues++;
    }
  }
  const extra = [...got.keys()].filter((k) => !want.has(k));
  const problems: string[] = [];
  if (missing.length > 0) problems.push(`${missing.length} key(s) missing (first ${missing.slice(0, 4).join(', ')})`);
  if (extra.length > 0) problems.push(`${extra.length} key(s) never written (first ${extra.slice(0, 4).join(', ')})`);
  if (wrong.length > 0) problems.push(`${wrong.length} wrong value(s), ${staleValues} of them the value before D's update (first ${wrong.slice(0, 4).map((k) => `${k}=${JSON.stringify(got.get(k)!.slice(0, 30))}`).join(', ')})`);
  if (malformed > 0) problems.push(`${malformed} line(s) not key=value`);
  if (repeated > 0) problems.push(`${repeated} key(s) printed twice`);
  if (unsorted > 0) problems.push(`${unsorted} line(s) out of key order`);
  return { problems, missing: missing.length, extra: extra.length, wrong: wrong.length, staleValues };
}

// ---------------------------------------------------------------- plumbing

async function until(ready: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

/** performance.now() at which `c` first wrote a stderr line matching `pattern`, filled in as it runs. */
function stderrTime(c: Captured, pattern: RegExp): { atMs: number | undefined } {
  const seen: { atMs: number | undefined } = { atMs: undefined };
  c.child.stderr?.on('data', () => {
    if (seen.atMs === undefined && pattern.test(c.stderr)) seen.atMs = performance.now();
  });
  return seen;
}

/** The map's `--stats` line a `state` process printed on stderr, if any. */
function statsOf(c: Captured): Record<string, unknown> | undefined {
  return parseStderr(c.stderr).json.filter((j) => j['event'] === 'stats').at(-1);
}

function formatStats(stats: Record<string, unknown> | undefined, keys: readonly string[]): string {
  if (stats === undefined) return 'no --stats line';
  return keys.map((k) => `${k} ${String(stats[k] ?? '?')}`).join(', ');
}

const STAT_KEYS = ['entries', 'replicas', 'writes', 'deltasSent', 'changesApplied', 'changesStale', 'snapshotsSent', 'snapshotBytesSent', 'snapshotChunksReceived', 'snapshotsCompleted', 'syncRequestsSent', 'resyncs', 'invalidMessages', 'sendErrors', 'backPressured'] as const;

/** What a `state` process wrote on stderr besides JSON, for the notes. */
function textStderr(c: Captured): string {
  return tail(parseStderr(c.stderr).text.join(' | '), 500);
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

function stateProcess(lab: Lab, host: LabHost, label: string, target: string, args: string[]): Captured {
  return capture(label, lab.spawnNode(host, BIN, ['state', target, '--map', MAP, '--interface', host.ipv4, '--stats', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }));
}

async function stopAll(procs: readonly Captured[]): Promise<void> {
  for (const p of procs) if (p.exited === undefined) p.child.kill('SIGTERM');
  const deadline = performance.now() + STOP_GRACE_MS;
  for (const p of procs) {
    while (p.exited === undefined && performance.now() < deadline) await sleep(50);
    if (p.exited === undefined) p.child.kill('SIGKILL');
  }
  await Promise.all(procs.map((p) => p.exit));
}

/** The exit code of a process that has exited (a function: a check of `exited` before it was awaited must not narrow it for good). */
function exitCode(c: Captured): number | null | undefined {
  return c.exited?.code;
}

function outcome(c: Captured, startMs: number): SenderOutcome {
  return { label: c.label, exit: exitText(c.exited), code: c.exited?.code ?? null, seconds: ((c.exited?.atMs ?? performance.now()) - startMs) / 1000, expectedCode: 0, json: parseStderr(c.stderr).json, stderr: c.stderr };
}

// ---------------------------------------------------------------- state-sync

/**
 * `dumpers`: 'with-updater' starts B, C and D together (state-sync); 'after-updates' starts B and C once D
 * has set its updates (state-sync-after-update).
 */
export async function runStateSync(options: ScenarioOptions & { dumpers: 'with-updater' | 'after-updates' }): Promise<ScenarioResult> {
  const after = options.dumpers === 'after-updates';
  const name = after ? 'state-sync-after-update' : 'state-sync';
  const startedMs = performance.now();
  const { notes, note } = runNotes(options);
  const load = options.load === true ? CpuLoad.start({}) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-lab-state-'));
  let loadReport: CpuLoadReport | undefined;
  try {
    const want = expectedState();
    const stale = new Map<string, string>();
    const updates: [string, string][] = [];
    for (let j = 0; j < STATE_UPDATES; j++) {
      const i = updatedIndex(j);
      stale.set(stateKey(i), stateValue(i, 0));
      updates.push([stateKey(i), stateValue(i, 1)]);
    }
    const baseFile = join(dir, 'base.txt');
    const updateFile = join(dir, 'updates.txt');
    writeFileSync(baseFile, loadFile(Array.from({ length: STATE_ENTRIES }, (_, i): [string, string] => [stateKey(i), stateValue(i, 0)])));
    writeFileSync(updateFile, loadFile(updates));

    return await withLab({ hosts: 4, name: after ? 'statea' : 'state', gsoRuns: options.gsoRuns === true }, async (lab) => {
      const [hostA, hostB, hostC, hostD] = lab.hosts as [LabHost, LabHost, LabHost, LabHost];
      for (const host of [hostB, hostC]) await lab.setLoss(host, DUMPER_LOSS_RATE);
      const group = randomGroup4();
      const target = `${group}:${randomPort()}`;
      const failures: string[] = [];
      const all: Captured[] = [];
      try {
        const a = stateProcess(lab, hostA, `A(load ${STATE_ENTRIES})@${hostA.name}`, target, ['--load', baseFile, '--serve', String(SERVE_S)]);
        all.push(a);
        const aStartMs = performance.now();
        await waitForMembership(lab, hostA, group, a);
        if (!(await until(() => /set \d+ entries/.test(a.stderr) || a.exited !== undefined, LOAD_MAX_MS)) || a.exited !== undefined) {
          throw new Error(`${a.label} did not load (exit ${exitText(a.exited)}): ${tail(a.stderr)}`);
        }
        const loadedMs = performance.now();
        note(`${a.label}: set its entries ${seconds(loadedMs - aStartMs)} s after it started (${textStderr(a)})`);
        await sleep(DUMPERS_AFTER_MS);

        const clientsStartMs = performance.now();
        const d = stateProcess(lab, hostD, `D(load ${STATE_UPDATES} updates)@${hostD.name}`, target, ['--load', updateFile]);
        all.push(d);
        const dSynced = stderrTime(d, /synced: /);
        const dSet = stderrTime(d, /set \d+ entries/);
        let dumpersStartMs = clientsStartMs;
        if (after) {
          if (!(await until(() => dSet.atMs !== undefined || d.exited !== undefined, CLIENT_MAX_MS)) || dSet.atMs === undefined) {
            failures.push(`${d.label} did not set its updates (exit ${exitText(d.exited)}): ${tail(d.stderr)}`);
          }
          dumpersStartMs = performance.now();
        }
        const dumpers = [hostB, hostC].map((host, k) => stateProcess(lab, host, `${'BC'[k]}(dump)@${host.name}`, target, ['--dump', '--timeout', String(DUMP_TIMEOUT_S)]));
        all.push(...dumpers);
        const synced = dumpers.map((p) => stderrTime(p, /synced: /));
        const settled = dumpers.map((p) => stderrTime(p, /settled: /));
        for (const p of [...dumpers, d]) {
          if (!(await until(() => p.exited !== undefined, Math.max(0, CLIENT_MAX_MS - (performance.now() - clientsStartMs))))) p.child.kill('SIGKILL');
          await p.exit;
        }
        const at = (ms: number | undefined): string => (ms === undefined ? 'never' : `${seconds(ms - clientsStartMs)} s`);
        note(
          `${name}: ${STATE_ENTRIES} entries loaded by A; ${seconds(DUMPERS_AFTER_MS)} s later D starts --load of ${STATE_UPDATES} updates and ` +
            `${after ? `once it has set them (${seconds(dumpersStartMs - clientsStartMs)} s later) ` : ''}B and C (${DUMPER_LOSS_RATE * 100} % receive loss) start --dump --timeout ${DUMP_TIMEOUT_S}; times below from D's start`,
        );
        note(`${d.label}: synced at ${at(dSynced.atMs)}, set its updates at ${at(dSet.atMs)}, exit ${exitText(d.exited)} at ${at(d.exited?.atMs)}; ${formatStats(statsOf(d), STAT_KEYS)}`);
        if (d.exited?.code !== 0) failures.push(`${d.label} exited ${exitText(d.exited)}, not 0: ${tail(d.stderr)}`);

        for (const [k, p] of dumpers.entries()) {
          const lines = splitLines(Buffer.concat(p.chunks).toString('utf8'));
          const check = checkDump(lines, want, stale);
          if (p.exited?.code !== 0) failures.push(`${p.label} exited ${exitText(p.exited)}, not 0: ${tail(p.stderr)}`);
          if (check.problems.length > 0) {
            const dumpedMs = settled[k]!.atMs;
            const order = dSet.atMs !== undefined && dumpedMs !== undefined ? (dumpedMs < dSet.atMs ? ` (it was settled ${seconds(dSet.atMs - dumpedMs)} s BEFORE D set its updates)` : ` (settled ${seconds(dumpedMs - dSet.atMs)} s after D set its updates)`) : '';
            failures.push(`${p.label}: ${lines.length} lines for ${want.size} entries: ${check.problems.join('; ')}${order}`);
          }
          const drops = await lab.lossDrops(k === 0 ? hostB : hostC);
          note(
            `${p.label}: synced at ${at(synced[k]!.atMs)}, settled (dumped) at ${at(settled[k]!.atMs)}, exit ${exitText(p.exited)} at ${at(p.exited?.atMs)}; ${lines.length} lines: missing ${check.missing}, extra ${check.extra}, wrong ${check.wrong} (${check.staleValues} still the old value); ` +
              `${drops} datagrams dropped by its loss rule; ${formatStats(statsOf(p), STAT_KEYS)}`,
          );
        }
        await stopAll([a]);
        if (exitCode(a) !== 0) failures.push(`${a.label} exited ${exitText(a.exited)} when told to stop (SIGTERM), not 0: ${tail(a.stderr)}`);
        note(`${a.label}: exit ${exitText(a.exited)} after SIGTERM; ${formatStats(statsOf(a), STAT_KEYS)}`);
        if (load !== undefined) {
          loadReport = await load.stop();
          note(formatLoad(loadReport));
        }
        const ok = failures.length === 0;
        return {
          scenario: name,
          ok,
          exact: ok,
          senders: [outcome(d, clientsStartMs), ...dumpers.map((p) => outcome(p, clientsStartMs))],
          receivers: [],
          failures,
          firstLoss: undefined,
          shape: ok ? '' : failures[0]!.split('\n')[0]!.slice(0, 200),
          notes,
          wallMs: performance.now() - startedMs,
        };
      } finally {
        await stopAll(all);
      }
    });
  } finally {
    if (load !== undefined) await load.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
