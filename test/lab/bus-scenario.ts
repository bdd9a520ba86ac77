/**
 * The service bus's lab scenarios (issue 13), with real `blipcast serve`,
 * `request`, `work` and `submit` processes on lab hosts, every host losing
 * 5 % of what arrives (nftables), and the faults users meet: a worker or
 * server killed with SIGKILL, one stopped with SIGSTOP.
 *
 * - bus-tasks: `submit` of 1,000 tasks to three `work` processes; one worker
 *   is killed mid-run, another stopped for longer than the lease and then
 *   continued. Exactly one right result per task, and exit 0.
 * - bus-gather: five `serve` processes, one stopped while it handles the
 *   gather; `request --gather` prints the four replies, names the fifth as
 *   missing and exits 1. Continued, the fifth answers the next gather.
 * - bus-request: `request` to two servers; the one asked is killed while it
 *   handles the request; the other one answers it.
 *
 * The commands a server or worker runs (`--exec`) leave a marker line in a
 * shared directory when they start, so a fault lands while a request is
 * being handled, not before or after it. Does not import AVA.
 */

import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stopProcess } from './cli-scenario';
import { CpuLoad, type CpuLoadReport } from './cpu-load';
import { BIN, capture, type Captured, parseStderr, splitLines, tail, waitForMembership } from './delivery';
import { type Lab, type LabHost, withLab } from './lab';
import { exitText, formatLoad, runNotes, type ScenarioOptions, type ScenarioResult, type SenderOutcome } from './scenario-result';
import { randomGroup4, randomPort } from './traffic';

/** Random single-datagram loss on every host of every bus scenario. */
const LOSS_RATE = 0.05;
/** A process told to stop (SIGTERM) that has not exited after this long is killed. */
const STOP_GRACE_MS = 10_000;
/** How often the scenario looks at a process's output or a marker file. */
const POLL_MS = 10;

const TASKS = 1000;
const WORKERS = 3;
/** Tasks each worker runs at once. */
const CAPACITY = 4;
/** `submit --lease`: short, so a stopped worker loses its tasks quickly. */
const LEASE_S = 2;
/** How long a task's command sleeps before it answers: kills land mid-task. */
const TASK_SLEEP_S = 0.05;
/** The first worker is killed (SIGKILL) once this many results have been printed… */
const KILL_AT_RESULTS = 200;
/** …and the second stopped (SIGSTOP) at this many… */
const STOP_AT_RESULTS = 350;
/** …for this long: longer than the lease (plus a sweep), so its tasks go to the others. */
const WORKER_STOP_MS = LEASE_S * 1000 + 1500;
/** `submit` still running this long after it started is killed. */
const SUBMIT_MAX_MS = 50_000;

const SERVERS = 5;
/** The server stopped during the gather. */
const STOPPED_SERVER = 2;
/** `request --timeout` of the gathers, seconds. */
const GATHER_TIMEOUT_S = 5;
/** How long a request's command sleeps before it answers: the stop or kill lands while it runs. */
const HANDLER_SLEEP_S = 1;
/** `request --timeout` of bus-request: one attempt then has half of it (the bus's default attempt timeout). */
const REQUEST_TIMEOUT_S = 10;
/** A request process still running this long after it started is killed. */
const REQUEST_MAX_MS = 25_000;

/** The number on line `i` of the tasks' input; the task's result is its square (exact in sh's 64-bit arithmetic). */
export function taskValue(i: number): number {
  return 1_000_003 + i * 7919;
}

/** What `submit` should print for task `i`: its value squared. */
export function taskResult(i: number): string {
  const v = BigInt(taskValue(i));
  return String(v * v);
}

/**
 * `submit` output against tasks 0 … count−1: one `INDEX<TAB>RESULT` line per
 * task, each index once, each result right. Returns what is wrong, one item
 * per kind of problem (empty when nothing).
 */
export function checkResults(lines: readonly string[], count: number, result: (i: number) => string): string[] {
  const seen = new Uint32Array(count);
  let malformed = 0;
  let wrong = 0;
  let firstWrong = '';
  let outOfRange = 0;
  for (const line of lines) {
    const m = /^(\d+)\t(.*)$/.exec(line);
    if (!m) {
      malformed++;
      continue;
    }
    const i = Number(m[1]);
    if (i >= count) {
      outOfRange++;
      continue;
    }
    seen[i]!++;
    if (m[2] !== result(i)) {
      wrong++;
      firstWrong ||= `task ${i}: got ${JSON.stringify(m[2]!.slice(0, 40))}, want ${result(i)}`;
    }
  }
  const problems: string[] = [];
  const missing = [...seen.keys()].filter((i) => seen[i] === 0);
  const twice = [...seen.keys()].filter((i) => seen[i]! > 1);
  if (lines.length !== count) problems.push(`${lines.length} result lines for ${count} tasks`);
  if (missing.length > 0) problems.push(`${missing.length} task(s) without a result (first ${missing.slice(0, 8).join(', ')})`);
  if (twice.length > 0) problems.push(`${twice.length} task(s) with more than one result (first ${twice.slice(0, 8).join(', ')})`);
  if (wrong > 0) problems.push(`${wrong} wrong result(s), first ${firstWrong}`);
  if (malformed > 0) problems.push(`${malformed} line(s) not INDEX<TAB>RESULT`);
  if (outOfRange > 0) problems.push(`${outOfRange} line(s) with an index ≥ ${count}`);
  return problems;
}

// ---------------------------------------------------------------- plumbing

/** Resolves true once `ready()` holds, false when `ms` ran out first. */
async function until(ready: () => boolean, ms: number): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!ready()) {
    if (performance.now() > deadline) return false;
    await sleep(POLL_MS);
  }
  return true;
}

/** Times (performance.now()) at which each stdout line of `c` arrived, filled as it runs. */
function lineTimes(c: Captured): number[] {
  const times: number[] = [];
  c.child.stdout?.on('data', (chunk: Buffer) => {
    const now = performance.now();
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) times.push(now);
  });
  return times;
}

/** The stdout of a finished process as lines. */
function stdoutLines(c: Captured): string[] {
  return splitLines(Buffer.concat(c.chunks).toString('utf8'));
}

/** The `--stats` line a bus command printed on stderr, if any. */
function statsOf(c: Captured): Record<string, number> | undefined {
  return parseStderr(c.stderr).json.filter((j) => j['event'] === 'stats').at(-1) as Record<string, number> | undefined;
}

function formatStats(stats: Record<string, number> | undefined, keys: readonly string[]): string {
  if (stats === undefined) return 'no --stats line';
  return keys.map((k) => `${k} ${stats[k] ?? '?'}`).join(', ');
}

/** Lines a server's or worker's command appended to its marker file (0 when there is none yet). */
function markerCount(file: string): number {
  try {
    return splitLines(readFileSync(file, 'utf8')).length;
  } catch {
    return 0;
  }
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(2);
}

interface BusHosts {
  lab: Lab;
  target: string;
  group: string;
}

/**
 * Starts a long-running bus member (`serve` or `work`) on `host` and waits
 * until it has said what it serves or works and its host has joined the group.
 * Returns the process and its member id (from that line).
 */
async function startMember(bus: BusHosts, host: LabHost, label: string, command: 'serve' | 'work', args: string[]): Promise<{ proc: Captured; id: string }> {
  const proc = capture(label, bus.lab.spawnNode(host, BIN, [command, bus.target, ...args, '--interface', host.ipv4, '--stats'], { stdio: ['ignore', 'pipe', 'pipe'] }));
  const said = await until(() => /\(([0-9a-f]{16})\)\n/.test(proc.stderr) || proc.exited !== undefined, 15_000);
  const id = /as \S+ \(([0-9a-f]{16})\)\n/.exec(proc.stderr)?.[1];
  if (!said || id === undefined) throw new Error(`${label} did not start (exit ${exitText(proc.exited)}): ${tail(proc.stderr)}`);
  await waitForMembership(bus.lab, host, bus.group, proc);
  return { proc, id };
}

/** SIGTERMs every process still running (SIGCONT first, in case it is stopped) and waits for them; SIGKILL after {@link STOP_GRACE_MS}. */
async function stopAll(procs: readonly Captured[]): Promise<void> {
  for (const p of procs) {
    if (p.exited !== undefined) continue;
    p.child.kill('SIGCONT');
    p.child.kill('SIGTERM');
  }
  const deadline = performance.now() + STOP_GRACE_MS;
  for (const p of procs) {
    while (p.exited === undefined && performance.now() < deadline) await sleep(50);
    if (p.exited === undefined) p.child.kill('SIGKILL');
  }
  await Promise.all(procs.map((p) => p.exit));
}

/** A process that should have exited 0 after SIGTERM, or a failure line. */
function cleanExit(p: Captured): string[] {
  return p.exited?.code === 0 ? [] : [`${p.label} exited ${exitText(p.exited)} when told to stop (SIGTERM), not 0: ${tail(p.stderr)}`];
}

function clientOutcome(c: Captured, startMs: number, expectedCode: number): SenderOutcome {
  const err = parseStderr(c.stderr);
  return { label: c.label, exit: exitText(c.exited), code: c.exited?.code ?? null, seconds: ((c.exited?.atMs ?? performance.now()) - startMs) / 1000, expectedCode, json: err.json, stderr: c.stderr };
}

/**
 * A fresh lab of `hosts` hosts, each losing {@link LOSS_RATE}, a random group,
 * a directory for the markers, and the CPU load when asked; `body` returns
 * the failures and the client processes, and this makes the result.
 */
async function runBus(
  name: string,
  labName: string,
  hosts: number,
  options: ScenarioOptions,
  body: (bus: BusHosts, dir: string, note: (line: string) => void) => Promise<{ failures: string[]; clients: SenderOutcome[] }>,
): Promise<ScenarioResult> {
  const startedMs = performance.now();
  const { notes, note } = runNotes(options);
  const load = options.load === true ? CpuLoad.start({}) : undefined;
  const dir = mkdtempSync(join(tmpdir(), `blipcast-lab-${name}-`));
  let loadReport: CpuLoadReport | undefined;
  try {
    return await withLab({ hosts, name: labName, gsoRuns: options.gsoRuns === true }, async (lab) => {
      for (const host of lab.hosts) await lab.setLoss(host, LOSS_RATE);
      const group = randomGroup4();
      const bus: BusHosts = { lab, group, target: `${group}:${randomPort()}` };
      const { failures, clients } = await body(bus, dir, note);
      const drops = await Promise.all(lab.hosts.map((h) => lab.lossDrops(h)));
      note(`loss rules (${LOSS_RATE * 100} % on every host) dropped ${drops.reduce((a, b) => a + b, 0)} datagrams (${lab.hosts.map((h, k) => `${h.name} ${drops[k]}`).join(', ')})`);
      if (load !== undefined) {
        loadReport = await load.stop();
        note(formatLoad(loadReport));
      }
      const ok = failures.length === 0;
      return {
        scenario: name,
        ok,
        exact: ok,
        senders: clients,
        receivers: [],
        failures,
        firstLoss: undefined,
        shape: ok ? '' : failures[0]!.split('\n')[0]!.slice(0, 160),
        notes,
        wallMs: performance.now() - startedMs,
      };
    });
  } finally {
    if (load !== undefined) await load.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------- bus-tasks

/** Worker k on host k; the submitter on the host after them. `workerStopMs`: how long the second worker stays stopped (default {@link WORKER_STOP_MS}). */
export function runBusTasks(options: ScenarioOptions & { workerStopMs?: number }): Promise<ScenarioResult> {
  const stopMs = options.workerStopMs ?? WORKER_STOP_MS;
  return runBus('bus-tasks', 'bustask', WORKERS + 1, options, async (bus, dir, note) => {
    const { lab } = bus;
    const workers: Captured[] = [];
    const ids: string[] = [];
    try {
      for (let k = 0; k < WORKERS; k++) {
        const host = lab.hosts[k]!;
        const command = `read x; echo . >> ${join(dir, `w${k}`)}; sleep ${TASK_SLEEP_S}; echo $((x*x))`;
        const w = await startMember(bus, host, `w${k}@${host.name}`, 'work', ['--queue', 'squares', '--name', `w${k}`, '--capacity', String(CAPACITY), '--exec', command]);
        workers.push(w.proc);
        ids.push(w.id);
      }
      const host = lab.hosts[WORKERS]!;
      const input = Array.from({ length: TASKS }, (_, i) => `${taskValue(i)}\n`).join('');
      const submit = capture(
        `submit@${host.name}`,
        lab.spawnNode(host, BIN, ['submit', bus.target, '--queue', 'squares', '--lease', String(LEASE_S), '--interface', host.ipv4, '--name', 'submitter', '--stats']),
      );
      const times = lineTimes(submit);
      const startMs = performance.now();
      submit.child.stdin!.end(input);
      const at = (): string => `${seconds(performance.now() - startMs)} s (${submit.lines} results)`;
      const running = (): boolean => submit.exited === undefined && performance.now() - startMs < SUBMIT_MAX_MS;

      const failures: string[] = [];
      const killed = workers[0]!;
      const stopped = workers[1]!;
      const stoppedMarker = join(dir, 'w1');
      let faults = '';
      let commandsBeforeStop = 0;
      let commandsAtCont = 0;
      let contMidRun = false;
      if ((await until(() => submit.lines >= KILL_AT_RESULTS || !running(), SUBMIT_MAX_MS)) && running()) {
        killed.child.kill('SIGKILL');
        faults += `kill -9 ${killed.label} at ${at()}`;
        if (await until(() => submit.lines >= STOP_AT_RESULTS || !running(), SUBMIT_MAX_MS)) {
          if (running()) {
            await stopProcess(stopped);
            commandsBeforeStop = markerCount(stoppedMarker);
            faults += `; kill -STOP ${stopped.label} at ${at()}`;
            await sleep(stopMs);
            commandsAtCont = markerCount(stoppedMarker);
            stopped.child.kill('SIGCONT');
            faults += `, kill -CONT ${stopMs} ms later at ${at()}`;
            if (running()) contMidRun = true;
          }
        }
      }
      if (!contMidRun) failures.push(`the faults did not all land while submit ran (${faults || 'none'}; submit exit ${exitText(submit.exited)} with ${submit.lines} results): the scenario tested less than it says`);
      await until(() => submit.exited !== undefined, Math.max(0, SUBMIT_MAX_MS - (performance.now() - startMs)));
      if (submit.exited === undefined) submit.child.kill('SIGKILL');
      await submit.exit;
      await stopAll(workers);

      const lines = stdoutLines(submit);
      const problems = checkResults(lines, TASKS, taskResult);
      const taskFailures = submit.stderr.split('\n').filter((l) => /^task \d+ failed/.test(l));
      if (problems.length > 0) failures.push(`submit@${host.name}: ${problems.join('; ')}`);
      if (taskFailures.length > 0) failures.push(`submit@${host.name}: ${taskFailures.length} failed task(s): ${taskFailures.slice(0, 3).join(' | ')}`);
      if (submit.exited?.code !== 0) failures.push(`${submit.label} exited ${exitText(submit.exited)}, not 0: ${tail(submit.stderr)}`);
      for (const w of workers) if (w !== killed) failures.push(...cleanExit(w));

      const stats = statsOf(submit);
      note(`bus-tasks: ${TASKS} tasks (x → x², each command sleeps ${TASK_SLEEP_S * 1000} ms) to ${WORKERS} workers × capacity ${CAPACITY}, --lease ${LEASE_S}; ${faults}`);
      note(
        `${submit.label}: exit ${exitText(submit.exited)} after ${seconds(submit.exited!.atMs - startMs)} s, ${lines.length} result lines; ` +
          formatStats(stats, ['tasksCompleted', 'tasksReoffered', 'leasesExpired', 'resultsLate', 'awardsSent', 'awardsRefused', 'tasksFailed']) +
          otherStderr(submit, /^task \d+ failed/),
      );
      note(resultPace(times, startMs));
      note(`${stopped.label} had started ${commandsBeforeStop} commands when stopped, ${commandsAtCont} when continued, ${markerCount(stoppedMarker)} in all`);
      for (const [k, w] of workers.entries()) note(`${w.label} (${ids[k]}): exit ${exitText(w.exited)}; ${w === killed ? 'killed, no stats' : formatStats(statsOf(w), ['tasksRun'])}${otherStderr(w, /^blipcast: working /)}`);
      return { failures, clients: [clientOutcome(submit, startMs, 0)] };
    } finally {
      await stopAll(workers);
    }
  });
}

/** When the first stdout line came, and the longest time between two consecutive ones (and when it ended). */
function resultPace(times: readonly number[], startMs: number): string {
  if (times.length === 0) return 'no results';
  let best = 0;
  let endAt = times[0]!;
  let count = 0;
  for (let i = 1; i < times.length; i++) {
    if (times[i]! - times[i - 1]! > best) {
      best = times[i]! - times[i - 1]!;
      endAt = times[i]!;
      count = i;
    }
  }
  return `first result ${seconds(times[0]! - startMs)} s after the start; longest wait between two results ${seconds(best)} s, ended at ${seconds(endAt - startMs)} s after ${count} results`;
}

/** What a process wrote on stderr that is neither JSON nor one of the `expected` lines, for the notes. */
function otherStderr(c: Captured, expected: RegExp): string {
  const text = parseStderr(c.stderr).text.filter((l) => !expected.test(l));
  return text.length === 0 ? '' : `; also on stderr: ${tail(text.join(' | '), 300)}`;
}

// ---------------------------------------------------------------- bus-gather

/** Server k on host k, the requester on the host after them. */
export function runBusGather(options: ScenarioOptions): Promise<ScenarioResult> {
  return runBus('bus-gather', 'busgath', SERVERS + 1, options, async (bus, dir, note) => {
    const { lab } = bus;
    const servers: Captured[] = [];
    const ids: string[] = [];
    try {
      for (let k = 0; k < SERVERS; k++) {
        const host = lab.hosts[k]!;
        const command = `read x; echo . >> ${join(dir, `s${k}`)}; sleep ${HANDLER_SLEEP_S}; echo "$x s${k}"`;
        const s = await startMember(bus, host, `s${k}@${host.name}`, 'serve', ['--subject', 'who', '--name', `s${k}`, '--exec', command]);
        servers.push(s.proc);
        ids.push(s.id);
      }
      const host = lab.hosts[SERVERS]!;
      const stopped = servers[STOPPED_SERVER]!;
      const marker = join(dir, `s${STOPPED_SERVER}`);
      const failures: string[] = [];
      const clients: SenderOutcome[] = [];
      const gather = async (payload: string): Promise<{ proc: Captured; startMs: number }> => {
        const proc = capture(
          `gather(${payload})@${host.name}`,
          lab.spawnNode(host, BIN, ['request', bus.target, '--subject', 'who', '--gather', '--timeout', String(GATHER_TIMEOUT_S), '--interface', host.ipv4, '--name', 'asker', '--stats', payload], { stdio: ['ignore', 'pipe', 'pipe'] }),
        );
        return { proc, startMs: performance.now() };
      };
      const finished = async (proc: Captured, startMs: number): Promise<void> => {
        if (!(await until(() => proc.exited !== undefined, REQUEST_MAX_MS - (performance.now() - startMs)))) proc.child.kill('SIGKILL');
        await proc.exit;
      };
      const replyLines = (payload: string, except: number | undefined): string[] =>
        Array.from({ length: SERVERS }, (_, k) => k).filter((k) => k !== except).map((k) => `s${k}\t${payload} s${k}`).sort();

      // 1. s2 stopped while its command runs: the gather knows it serves, it does not answer.
      const first = await gather('ping-1');
      let stopNote = `${stopped.label} never started the gather's command`;
      if (await until(() => markerCount(marker) >= 1 || first.proc.exited !== undefined, REQUEST_MAX_MS)) {
        if (first.proc.exited === undefined) {
          await stopProcess(stopped);
          stopNote = `${stopped.label} stopped (SIGSTOP) ${seconds(performance.now() - first.startMs)} s after the request started, while its command ran`;
        }
      }
      await finished(first.proc, first.startMs);
      stopped.child.kill('SIGCONT');
      const contMs = performance.now();
      clients.push(clientOutcome(first.proc, first.startMs, 1));
      const missing = first.proc.stderr.split('\n').filter((l) => l.startsWith('missing '));
      const wantMissing = [`missing s${STOPPED_SERVER} (${ids[STOPPED_SERVER]}): timeout`];
      const got1 = [...stdoutLines(first.proc)].sort();
      const want1 = replyLines('ping-1', STOPPED_SERVER);
      if (first.proc.exited?.code !== 1) failures.push(`${first.proc.label} exited ${exitText(first.proc.exited)}, not 1 (one server missing): ${tail(first.proc.stderr)}`);
      if (got1.join('\n') !== want1.join('\n')) failures.push(`${first.proc.label} printed ${JSON.stringify(got1)}, want the four others' replies ${JSON.stringify(want1)}`);
      if (missing.join('\n') !== wantMissing.join('\n')) failures.push(`${first.proc.label} said ${JSON.stringify(missing)} on stderr, want ${JSON.stringify(wantMissing)}`);
      note(`bus-gather: ${SERVERS} servers (each command sleeps ${HANDLER_SLEEP_S} s), request --gather --timeout ${GATHER_TIMEOUT_S}; ${stopNote}; continued (SIGCONT) when the request had exited`);
      note(`${first.proc.label}: exit ${exitText(first.proc.exited)} after ${seconds(first.proc.exited!.atMs - first.startMs)} s; ${got1.length} replies; ${missing.join(' | ') || 'nobody missing'}; ${formatStats(statsOf(first.proc), ['repliesReceived', 'repliesLate'])}${otherStderr(first.proc, /^missing /)}`);

      // 2. Continued, it answers the next gather like the others.
      const second = await gather('ping-2');
      await finished(second.proc, second.startMs);
      clients.push(clientOutcome(second.proc, second.startMs, 0));
      const got2 = [...stdoutLines(second.proc)].sort();
      const want2 = replyLines('ping-2', undefined);
      if (second.proc.exited?.code !== 0) failures.push(`${second.proc.label} (${seconds(second.startMs - contMs)} s after SIGCONT) exited ${exitText(second.proc.exited)}, not 0: ${tail(second.proc.stderr)}`);
      if (got2.join('\n') !== want2.join('\n')) failures.push(`${second.proc.label} printed ${JSON.stringify(got2)}, want all five replies`);
      note(`${second.proc.label}: started ${seconds(second.startMs - contMs)} s after SIGCONT; exit ${exitText(second.proc.exited)} after ${seconds(second.proc.exited!.atMs - second.startMs)} s; ${got2.length} replies; ${second.proc.stderr.split('\n').filter((l) => l.startsWith('missing ')).join(' | ') || 'nobody missing'}${otherStderr(second.proc, /^missing /)}`);

      await stopAll(servers);
      for (const s of servers) failures.push(...cleanExit(s));
      for (const [k, s] of servers.entries()) note(`${s.label} (${ids[k]}): exit ${exitText(s.exited)}; ${markerCount(join(dir, `s${k}`))} command run(s); ${formatStats(statsOf(s), ['requestsServed'])}${otherStderr(s, /^blipcast: serving /)}`);
      return { failures, clients };
    } finally {
      await stopAll(servers);
    }
  });
}

// ---------------------------------------------------------------- bus-request

/** Servers on h0 and h1, the requester on h2; the server asked is killed while its command runs. */
export function runBusRequest(options: ScenarioOptions): Promise<ScenarioResult> {
  return runBus('bus-request', 'busreq', 3, options, async (bus, dir, note) => {
    const { lab } = bus;
    const servers: Captured[] = [];
    const ids: string[] = [];
    try {
      for (let k = 0; k < 2; k++) {
        const host = lab.hosts[k]!;
        const command = `read x; echo . >> ${join(dir, `s${k}`)}; sleep ${HANDLER_SLEEP_S}; echo "$((x*x)) from s${k}"`;
        const s = await startMember(bus, host, `s${k}@${host.name}`, 'serve', ['--subject', 'square', '--name', `s${k}`, '--exec', command]);
        servers.push(s.proc);
        ids.push(s.id);
      }
      const host = lab.hosts[2]!;
      const payload = 12_345;
      const req = capture(
        `request@${host.name}`,
        lab.spawnNode(host, BIN, ['request', bus.target, '--subject', 'square', '--timeout', String(REQUEST_TIMEOUT_S), '--interface', host.ipv4, '--name', 'asker', '--stats', String(payload)], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      const replyTimes = lineTimes(req);
      const startMs = performance.now();
      const failures: string[] = [];
      let victim = -1;
      let killMs = 0;
      if (await until(() => (victim = [0, 1].find((k) => markerCount(join(dir, `s${k}`)) > 0) ?? -1) >= 0 || req.exited !== undefined, REQUEST_MAX_MS)) {
        if (victim >= 0 && req.exited === undefined) {
          servers[victim]!.child.kill('SIGKILL');
          killMs = performance.now();
        }
      }
      if (!(await until(() => req.exited !== undefined, REQUEST_MAX_MS - (performance.now() - startMs)))) req.child.kill('SIGKILL');
      await req.exit;
      const other = 1 - victim;
      const want = `${payload * payload} from s${other}\n`;
      const got = Buffer.concat(req.chunks).toString('utf8');
      const stats = statsOf(req);
      if (killMs === 0) failures.push(`no server's command started while ${req.label} ran (exit ${exitText(req.exited)}): nothing was killed`);
      else {
        if (req.exited?.code !== 0) failures.push(`${req.label} exited ${exitText(req.exited)}, not 0, after the server it asked was killed: ${tail(req.stderr)}`);
        if (got !== want) failures.push(`${req.label} printed ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
      note(
        `bus-request: 2 servers (each command sleeps ${HANDLER_SLEEP_S} s), request --timeout ${REQUEST_TIMEOUT_S}; ` +
          (killMs === 0 ? 'nothing killed' : `s${victim} (asked first) killed (SIGKILL) ${seconds(killMs - startMs)} s after the request started, while its command ran`),
      );
      note(
        `${req.label}: exit ${exitText(req.exited)} after ${seconds(req.exited!.atMs - startMs)} s` +
          `${killMs ? ` (${seconds(req.exited!.atMs - killMs)} s after the kill${replyTimes.length ? `, the reply ${seconds(replyTimes[0]! - killMs)} s after it` : ''})` : ''}; printed ${JSON.stringify(got)}; ${formatStats(stats, ['requestsSent', 'requestsFailedOver', 'repliesReceived', 'repliesLate'])}${otherStderr(req, /^$/)}`,
      );
      await stopAll(servers);
      if (other >= 0 && other <= 1) failures.push(...cleanExit(servers[other]!));
      for (const [k, s] of servers.entries()) note(`${s.label} (${ids[k]}): exit ${exitText(s.exited)}; ${markerCount(join(dir, `s${k}`))} command run(s)${otherStderr(s, /^blipcast: serving /)}`);
      return { failures, clients: [clientOutcome(req, startMs, 0)] };
    } finally {
      await stopAll(servers);
    }
  });
}

