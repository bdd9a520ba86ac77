/**
 * Group membership between real processes on five namespace hosts, the way a
 * user runs it: `blipcast members GROUP:PORT --watch --json` on each host,
 * default timers. `kill -9` one: every other one reports it dead within the
 * documented bound (timers().deadBoundMs for five members). `kill -STOP` one
 * for less than the suspicion timeout, then `kill -CONT`: nobody ever
 * declares it dead (a suspicion is allowed; it refutes).
 */

import type { ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { DEFAULT_MEMBERSHIP_TUNING, scaledTimers } from '../src/group/timers';
import { labTest } from './lab/availability';
import { type Lab, type LabHost, withLab } from './lab/lab';
import { randomGroup4, randomPort } from './lab/traffic';

const BIN = join(__dirname, '..', '..', 'bin', 'blipcast.js');
const MEMBERS = 5;
/** The timers every member runs with once the group is whole (default tuning, n = 5). */
const TIMERS = scaledTimers(DEFAULT_MEMBERSHIP_TUNING, MEMBERS);

interface Line {
  event: string;
  id: string;
  name: string;
  state: string;
  incarnation: number;
  /** When this test read the line (performance.now()). */
  atMs: number;
}

interface Watcher {
  host: LabHost;
  child: ChildProcess;
  lines: Line[];
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  id(): string | undefined;
}

function startWatcher(lab: Lab, host: LabHost, target: string): Watcher {
  const child = lab.spawnNode(host, BIN, ['members', target, '--interface', host.ipv4, '--ttl', '1', '--watch', '--json', '--name', host.name], { stdio: ['ignore', 'pipe', 'pipe'] });
  const w: Watcher = {
    host,
    child,
    lines: [],
    stderr: '',
    exit: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))),
    id: () => w.lines.find((l) => l.event === 'self')?.id,
  };
  let carry = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const atMs = performance.now();
    const parts = (carry + text).split('\n');
    carry = parts.pop()!;
    for (const p of parts) w.lines.push({ ...(JSON.parse(p) as Omit<Line, 'atMs'>), atMs });
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (w.stderr += text));
  return w;
}

async function until(what: string, check: () => boolean, timeoutMs: number, watchers: Watcher[]): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${watchers.map((w) => `${w.host.name}: ${w.stderr.trim()}`).join('; ')}`);
    await sleep(20);
  }
}

/** Whether `w` currently sees every other watcher (joined and not gone since). */
function seesAll(w: Watcher, all: Watcher[]): boolean {
  return all.every((o) => {
    if (o === w) return true;
    const about = w.lines.filter((l) => l.id === o.id());
    return about.length > 0 && ['join', 'alive', 'update', 'suspect'].includes(about.at(-1)!.event);
  });
}

/** Starts five watchers, one per host, and waits until every one sees all the others. Returns the watchers and the convergence time. */
async function startGroup(lab: Lab): Promise<{ watchers: Watcher[]; convergedMs: number }> {
  const target = `${randomGroup4()}:${randomPort()}`;
  const startedMs = performance.now();
  const watchers = lab.hosts.map((host) => startWatcher(lab, host, target));
  await until('every member to start', () => watchers.every((w) => w.id() !== undefined), 10_000, watchers);
  await until('the group to converge', () => watchers.every((w) => seesAll(w, watchers)), 10_000, watchers);
  return { watchers, convergedMs: performance.now() - startedMs };
}

function pidOf(t: ExecutionContext, w: Watcher): number {
  const pid = w.child.pid!;
  // `ip netns exec` execs the command: this pid is the members process itself, not a wrapper.
  t.true(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('blipcast.js'), `pid ${pid} is not the members process`);
  return pid;
}

/** Process state letter from /proc/PID/stat ('T' = stopped). */
function procState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0]!;
}

async function stopAll(watchers: Watcher[]): Promise<Array<{ code: number | null; signal: NodeJS.Signals | null }>> {
  for (const w of watchers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGINT');
  return Promise.all(watchers.map((w) => w.exit));
}

labTest.serial('a member killed with kill -9 is reported dead by every other member within the documented bound', async (t) => {
  t.timeout(60_000);
  await withLab({ hosts: MEMBERS, name: 'grpkill' }, async (lab) => {
    const { watchers, convergedMs } = await startGroup(lab);
    t.log(`${MEMBERS} members converged ${convergedMs.toFixed(0)} ms after start (documented ${TIMERS.convergeMs} ms)`);
    const victim = watchers[MEMBERS - 1]!;
    const victimId = victim.id()!;
    const others = watchers.filter((w) => w !== victim);
    const pid = pidOf(t, victim);
    const killedMs = performance.now();
    process.kill(pid, 'SIGKILL');
    const deadLine = (w: Watcher) => w.lines.find((l) => l.event === 'dead' && l.id === victimId);
    await until(`every member to report ${victim.host.name} dead`, () => others.every((w) => deadLine(w) !== undefined), TIMERS.deadBoundMs + 5000, watchers).catch((err: Error) => t.fail(err.message));
    const detection = others.map((w) => ({ host: w.host.name, ms: deadLine(w) === undefined ? Infinity : deadLine(w)!.atMs - killedMs }));
    t.log(`kill -9 of ${victim.host.name} reported dead after: ${detection.map((d) => `${d.host} ${d.ms.toFixed(0)} ms`).join(', ')} (bound ${TIMERS.deadBoundMs} ms: silence ${TIMERS.silenceMs} + 2.5 periods of ${TIMERS.periodMs} + probe ${TIMERS.probeMs} + suspicion ${TIMERS.suspicionTimeoutMs})`);
    for (const d of detection) t.true(d.ms <= TIMERS.deadBoundMs, `${d.host} reported the death after ${d.ms.toFixed(0)} ms, bound ${TIMERS.deadBoundMs} ms`);
    for (const w of others) {
      t.deepEqual(w.lines.filter((l) => l.event === 'dead' && l.id !== victimId).map((l) => l.name), [], `${w.host.name} declared a live member dead`);
      t.deepEqual(w.lines.filter((l) => l.event === 'leave').map((l) => l.name), [], `${w.host.name} saw a leave: kill -9 sends nothing`);
    }
    const exits = await stopAll(others);
    for (const [i, e] of exits.entries()) t.is(e.code, 0, `${others[i]!.host.name}: ${others[i]!.stderr.trim()}`);
  });
});

labTest.serial('a member stopped with kill -STOP long enough to be suspected, and continued within the suspicion timeout, refutes and is never declared dead', async (t) => {
  t.timeout(60_000);
  await withLab({ hosts: MEMBERS, name: 'grpstop' }, async (lab) => {
    const { watchers, convergedMs } = await startGroup(lab);
    t.log(`${MEMBERS} members converged ${convergedMs.toFixed(0)} ms after start`);
    const victim = watchers[2]!;
    const victimId = victim.id()!;
    const pid = pidOf(t, victim);
    // Silent past its watchers' threshold and a whole probe, so it is suspected; continued halfway through the suspicion.
    const stopMs = TIMERS.silenceMs + TIMERS.periodMs / 2 + TIMERS.probeMs + TIMERS.suspicionTimeoutMs / 2;
    process.kill(pid, 'SIGSTOP');
    await sleep(100);
    t.is(procState(pid), 'T', 'the member is stopped');
    await sleep(stopMs - 100);
    process.kill(pid, 'SIGCONT');
    // A suspicion raised while it was stopped would turn into death within the suspicion timeout; wait that long and more.
    const afterMs = TIMERS.suspicionTimeoutMs + 2 * TIMERS.periodMs;
    await sleep(afterMs);
    const suspected = watchers.flatMap((w) => w.lines.filter((l) => l.event === 'suspect' && l.id === victimId).map(() => w.host.name));
    const refuted = watchers.flatMap((w) => w.lines.filter((l) => (l.event === 'alive' || l.event === 'update') && l.id === victimId).map(() => w.host.name));
    t.log(`${victim.host.name} stopped for ${stopMs} ms (silence ${TIMERS.silenceMs} ms, probe ${TIMERS.probeMs} ms, suspicion timeout ${TIMERS.suspicionTimeoutMs} ms), watched ${afterMs} ms more; suspected by [${suspected.join(', ')}], refuted/updated at [${refuted.join(', ')}]`);
    t.true(suspected.length > 0, 'nobody suspected the stopped member: the test did not exercise a refutation');
    for (const w of watchers) {
      t.deepEqual(w.lines.filter((l) => l.event === 'dead' || l.event === 'leave').map((l) => `${l.event} ${l.name}`), [], `${w.host.name} lost a member`);
      t.true(seesAll(w, watchers), `${w.host.name} does not see every member as alive`);
    }
    const exits = await stopAll(watchers);
    for (const [i, e] of exits.entries()) t.is(e.code, 0, `${watchers[i]!.host.name}: ${watchers[i]!.stderr.trim()}`);
  });
});
