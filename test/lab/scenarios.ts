/**
 * Delivery scenarios for issue 10 ("nothing lost for a live receiver"), run
 * with real processes on lab hosts: `blipcast send` / `blipcast listen` (or,
 * for the slow reader, two fixture programs on the public API) under the
 * faults users meet — a receiver paused across the end of the stream, several
 * senders at once, burst loss, CPU load, a rate-limited sender, a slow reader.
 *
 * Each scenario checks two things and reports both:
 * - every receiver printed exactly what each sender sent: every line, in order,
 *   once, per source, and no loss report;
 * - each sender's exit code matches the outcome: 0 when every receiver got all
 *   of its lines, 3 (with one JSON line per receiver it gave up on) otherwise.
 *
 * Shared by the AVA tests (test/delivery-lab.test.ts, one run each) and the
 * repeat runner (bench/lab-scenarios.ts, N runs in a row), so this module does
 * not import AVA. A run never throws for a delivery failure: it returns a
 * {@link ScenarioResult}; it throws only when the lab itself breaks.
 */

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastWriterResult } from '../fixtures/fast-writer';
import type { SlowReaderResult } from '../fixtures/slow-reader';
import { systemBinary } from './command';
import { CpuLoad, type CpuLoadOptions, type CpuLoadReport } from './cpu-load';
import { BIN, capture, type Captured, describeLines, formatLoss, parseStderr, splitLines, tail, waitForMembership } from './delivery';
import { type BurstLoss, fixturePath, type Lab, type LabHost, withLab } from './lab';
import { randomGroup4, randomPort } from './traffic';

const SH = systemBinary('sh');
const SEQ = systemBinary('seq');

/** Sender --linger used by the scenarios unless told otherwise: long enough that a give-up is a protocol verdict, not a short default. */
export const DEFAULT_LINGER_S = 20;
/** Once every sender has exited, a receiver that prints nothing for this long is stopped and counted as stalled (longer than the 5 s source timeout, so a 'source-gone' report still shows). */
const STALL_MS = 8000;
/** A sender still running this long after its receivers' --timeout is killed. */
const SENDER_GRACE_MS = 15_000;
/** Exit code of `blipcast send` when it gave up on a receiver. */
export const SEND_GAVE_UP = 3;

export interface ScenarioOptions {
  /** Put the machine under CPU load for the whole run (scenarios that have a load of their own keep theirs). */
  load?: boolean;
  /** Senders' --linger in seconds, or 'default' for the CLI's own default. Default {@link DEFAULT_LINGER_S}. */
  lingerS?: number | 'default';
  /** Receivers' --from (default: the CLI default, 'next'; every receiver is listening before the first line is sent). */
  from?: 'next' | 'earliest';
  /** Let UDP GSO runs cross the lab whole (LabOptions.gsoRuns): a loss-rule match at a receiver then drops a sender's whole run. */
  gsoRuns?: boolean;
  /** Progress lines as the run goes (t.log, console.error). */
  log?: (line: string) => void;
}

export interface ReceiverOutcome {
  label: string;
  exact: boolean;
  lines: number;
  expectedLines: number;
  /** How it ended: its own exit code or signal; 'stalled' when the scenario stopped it, see {@link STALL_MS}. */
  exit: string;
  seconds: number;
  /** Empty when exact. */
  mismatch: string;
  losses: string[];
  /** Datagrams the host's loss rules dropped (bursts, single) and its socket-buffer drops. */
  drops: { burst: number; random: number; rcvbuf: number };
  /** Per sender index: did this receiver get all of that sender's lines exactly? */
  completeFrom: boolean[];
  /** JSON lines other than loss reports it printed on stderr (--stats counters). */
  json: Record<string, unknown>[];
  stderr: string;
}

export interface SenderOutcome {
  label: string;
  exit: string;
  code: number | null;
  seconds: number;
  /** The code it should have exited with: 0 when every receiver got all its lines, else {@link SEND_GAVE_UP}. */
  expectedCode: number;
  /** JSON lines it printed on stderr (give-ups, stats). */
  json: Record<string, unknown>[];
  stderr: string;
}

export interface ScenarioResult {
  scenario: string;
  /** Every receiver exact and every sender's exit code as expected. */
  ok: boolean;
  /** Every receiver printed exactly what was sent. */
  exact: boolean;
  senders: SenderOutcome[];
  receivers: ReceiverOutcome[];
  /** One line per thing that went wrong, each naming the process. */
  failures: string[];
  /** The first loss report of the first receiver that printed one. */
  firstLoss: string | undefined;
  /** The failure in one line, for a table ('' when ok). */
  shape: string;
  /** What happened, for the log: per process, counts, timings, drops, load. */
  notes: string[];
  wallMs: number;
}

export interface Scenario {
  name: string;
  /** What it checks, as a test title. */
  title: string;
  /** Upper bound on one run's wall time (a failing run included), for test timeouts. */
  budgetMs: number;
  run(options?: ScenarioOptions): Promise<ScenarioResult>;
}

// ---------------------------------------------------------------------------------------------
// Inputs

/** `line-000000\n` … : 12 bytes a line, about a hundred per datagram. */
export function shortLines(count: number, prefix = 'line'): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`${prefix}-${String(i).padStart(6, '0')}\n`);
  return Buffer.from(parts.join(''), 'utf8');
}

/**
 * `prefix-000000 <body>\n` …: a numbered prefix (so a mismatch names the line),
 * then 0–`maxBody` characters of ASCII, tabs and multi-byte UTF-8 from a fixed
 * xorshift (same bytes every run), and with `bigEvery` every so many lines a
 * 4000-byte body (bigger than a datagram: fragmentation).
 */
export function variedLines(count: number, prefix: string, seed: number, maxBody = 160, bigEvery = 0): Buffer {
  const alphabet = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \t-_=+.,;:!?/\\"\'{}[]()<>', 'é', 'ü', 'ß', '✓', '日', '本', '€', '🙂'];
  let state = seed >>> 0 || 0x9e3779b9;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x1_0000_0000;
  };
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    let body = '';
    if (bigEvery > 0 && i % bigEvery === bigEvery - 1) body = `big:${'0123456789abcdef'.repeat(250)}`.slice(0, 4000);
    else {
      const length = Math.floor(next() * (maxBody + 1));
      for (let k = 0; k < length; k++) body += alphabet[Math.floor(next() * alphabet.length)];
    }
    parts.push(`${prefix}-${String(i).padStart(6, '0')} ${body}\n`);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

/** What `seq 1 N` prints. */
export function seqLines(count: number): Buffer {
  const parts: string[] = [];
  for (let i = 1; i <= count; i++) parts.push(`${i}\n`);
  return Buffer.from(parts.join(''), 'utf8');
}

// ---------------------------------------------------------------------------------------------
// `blipcast send` → `blipcast listen` on lab hosts

interface SenderPlan {
  /** Exactly what the sender reads, newline-terminated lines. */
  input: Buffer;
  /**
   * How it reaches the sender's stdin: written by this process at once ('stdin'),
   * `seq 1 N | blipcast send …` in a shell on the host ('seq-pipe', input must be
   * {@link seqLines}(N)), or redirected from a regular file ('file').
   */
  feed: 'stdin' | 'seq-pipe' | 'file';
  /** Extra `send` arguments, e.g. ['--rate', '500000']. */
  args?: string[];
}

interface CliPlan {
  name: string;
  /** Lab name tag (≤ 8 letters or digits). */
  labName: string;
  /** Senders run on hosts h0…, receivers on the hosts after them. */
  senders: SenderPlan[];
  receivers: number;
  /** Random single-datagram loss on every receiver host (0–1). */
  lossRate: number;
  /** Burst loss on every receiver host, on top of lossRate. */
  burst?: BurstLoss;
  listenTimeoutS: number;
  /** `listen --json`, needed to tell several senders apart. */
  json: boolean;
  /**
   * SIGSTOP this receiver (index into the receivers) once it has joined and before the
   * first line is sent; SIGCONT it a random delay in [minMs, maxMs] after this process
   * has handed the whole input to the sender's stdin (sender 0, feed 'stdin').
   */
  pause?: { receiver: number; minMs: number; maxMs: number };
  load?: CpuLoadOptions;
}

let statsSupport: boolean | undefined;

/** Whether this build's CLI takes `--stats` (it prints one JSON line of counters at exit): read from `blipcast --help`. */
export function cliHasStats(): boolean {
  if (statsSupport === undefined) {
    const r = spawnSync(process.execPath, [BIN, '--help'], { encoding: 'utf8', timeout: 10_000 });
    statsSupport = `${r.stdout}${r.stderr}`.includes('--stats');
  }
  return statsSupport;
}

/** One argument quoted for sh. */
function shQuote(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

function exitText(exit: { code: number | null; signal: NodeJS.Signals | null } | undefined): string {
  if (exit === undefined) return 'running';
  return exit.code !== null ? String(exit.code) : String(exit.signal);
}

async function runCli(plan: CliPlan, options: ScenarioOptions): Promise<ScenarioResult> {
  const log = options.log ?? ((): void => undefined);
  const startedMs = performance.now();
  const stats = cliHasStats() ? ['--stats'] : [];
  const linger = options.lingerS ?? DEFAULT_LINGER_S;
  const lingerArgs = linger === 'default' ? [] : ['--linger', String(linger)];
  const totalLines = plan.senders.reduce((sum, s) => sum + splitLines(s.input.toString('utf8')).length, 0);
  const notes: string[] = [];
  const note = (line: string): void => {
    notes.push(line);
    log(line);
  };
  const loadOptions = plan.load ?? (options.load === true ? {} : undefined);
  const load = loadOptions === undefined ? undefined : CpuLoad.start(loadOptions);
  const tmp = mkdtempSync(join(tmpdir(), 'blipcast-scenario-'));
  let loadReport: CpuLoadReport | undefined;
  try {
    return await withLab({ hosts: plan.senders.length + plan.receivers, name: plan.labName, gsoRuns: options.gsoRuns === true }, async (lab) => {
      const senderHosts = lab.hosts.slice(0, plan.senders.length);
      const receiverHosts = lab.hosts.slice(plan.senders.length);
      const group = randomGroup4();
      const target = `${group}:${randomPort()}`;
      for (const host of receiverHosts) {
        if (plan.lossRate > 0 || plan.burst !== undefined) await lab.setLoss(host, plan.lossRate, plan.burst === undefined ? {} : { burst: plan.burst });
      }

      const receivers = receiverHosts.map((host) => {
        const args = ['listen', target, '--interface', host.ipv4, '--count', String(totalLines), '--timeout', String(plan.listenTimeoutS), ...(plan.json ? ['--json'] : []), ...(options.from ? ['--from', options.from] : []), ...stats];
        return capture(`listen@${host.name}`, lab.spawnNode(host, BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
      });
      for (const [i, host] of receiverHosts.entries()) await waitForMembership(lab, host, group, receivers[i]!);

      const paused = plan.pause === undefined ? undefined : receivers[plan.pause.receiver]!;
      if (paused !== undefined) await stopProcess(paused);

      // All senders start in the same turn: "starting together".
      const senders = plan.senders.map((s, i) => startSender(lab, senderHosts[i]!, s, target, [...lingerArgs, ...stats], tmp));
      const sendStartMs = performance.now();

      let pauseNote: string | undefined;
      if (paused !== undefined && plan.pause !== undefined) pauseNote = await continueAfterInput(paused, senders[0]!, plan.pause, sendStartMs);

      const stalled = await supervise(senders.map((s) => s.proc), receivers, plan.listenTimeoutS * 1000 + SENDER_GRACE_MS);
      if (load !== undefined) loadReport = await load.stop();

      // Evaluate.
      const wants = plan.senders.map((s) => splitLines(s.input.toString('utf8')));
      const receiverOutcomes: ReceiverOutcome[] = [];
      for (const [i, r] of receivers.entries()) {
        const host = receiverHosts[i]!;
        const byRule = await lab.lossDropsByRule(host);
        const udp = await lab.udpCounters(host);
        receiverOutcomes.push(judgeReceiver(r, plan, wants, stalled.has(r), { ...byRule, rcvbuf: udp.rcvbufErrors }, sendStartMs));
      }
      const senderOutcomes = senders.map((s, k): SenderOutcome => {
        const err = parseStderr(s.proc.stderr);
        const complete = receiverOutcomes.every((r) => r.completeFrom[k]);
        return {
          label: s.proc.label,
          exit: exitText(s.proc.exited),
          code: s.proc.exited?.code ?? null,
          seconds: ((s.proc.exited?.atMs ?? performance.now()) - sendStartMs) / 1000,
          expectedCode: complete ? 0 : SEND_GAVE_UP,
          json: err.json,
          stderr: s.proc.stderr,
        };
      });

      const inputMb = plan.senders.reduce((sum, s) => sum + s.input.length, 0) / 1e6;
      note(
        `${plan.name}: ${plan.senders.length} sender(s) × ${wants[0]!.length} lines (${inputMb.toFixed(2)} MB in all), ${plan.receivers} receiver(s); ` +
          `loss on each receiver host: ${plan.lossRate * 100}% single${plan.burst ? ` + bursts of ${plan.burst.length} (${plan.burst.rate * 100}%)` : ''}; ` +
          `linger ${linger === 'default' ? 'CLI default' : `${linger} s`}, --from ${options.from ?? 'next (default)'}${stats.length ? ', --stats' : ''}${options.gsoRuns ? ', GSO runs cross whole' : ''}`,
      );
      if (pauseNote) note(pauseNote);
      for (const s of senderOutcomes) note(`${s.label}: exit ${s.exit} after ${s.seconds.toFixed(2)} s (expected ${s.expectedCode})${s.json.length ? `; JSON on stderr: ${tail(s.json.map((j) => JSON.stringify(j)).join(' '), 400)}` : ''}`);
      for (const r of receiverOutcomes) {
        note(
          `${r.label}: ${r.lines}/${r.expectedLines} lines, exit ${r.exit} after ${r.seconds.toFixed(2)} s; ` +
            `loss rule dropped ${r.drops.burst} in bursts + ${r.drops.random} single; socket-buffer drops ${r.drops.rcvbuf}${r.losses.length ? `; loss reports: ${r.losses.slice(0, 3).join(' | ')}${r.losses.length > 3 ? ` (+${r.losses.length - 3})` : ''}` : ''}` +
            `${r.json.length ? `; JSON on stderr: ${tail(r.json.map((j) => JSON.stringify(j)).join(' '), 400)}` : ''}`,
        );
      }
      if (loadReport) note(formatLoad(loadReport));
      return verdict(plan.name, senderOutcomes, receiverOutcomes, notes, startedMs);
    });
  } finally {
    if (load !== undefined) await load.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}

interface StartedSender {
  proc: Captured;
  /** Resolves once this process has handed the whole input to the sender (stdin feed: the pipe's write end is flushed and closed). */
  inputDone: Promise<number>;
}

function startSender(lab: Lab, host: LabHost, plan: SenderPlan, target: string, extra: string[], tmp: string): StartedSender {
  const args = ['send', target, '--interface', host.ipv4, '--ttl', '1', ...(plan.args ?? []), ...extra];
  const label = `send@${host.name}`;
  if (plan.feed === 'seq-pipe') {
    const count = splitLines(plan.input.toString('utf8')).length;
    const script = `${SEQ} 1 ${count} | exec ${[process.execPath, BIN, ...args].map(shQuote).join(' ')}`;
    const proc = capture(label, lab.spawn(host, SH, ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] }));
    return { proc, inputDone: Promise.resolve(performance.now()) };
  }
  if (plan.feed === 'file') {
    const file = join(tmp, `${host.name}.txt`);
    writeFileSync(file, plan.input);
    const fd = openSync(file, 'r');
    try {
      const proc = capture(label, lab.spawnNode(host, BIN, args, { stdio: [fd, 'pipe', 'pipe'] }));
      return { proc, inputDone: Promise.resolve(performance.now()) };
    } finally {
      closeSync(fd);
    }
  }
  const proc = capture(label, lab.spawnNode(host, BIN, args));
  const stdin = proc.child.stdin!;
  const inputDone = new Promise<number>((resolve) => {
    // 'finish': every byte handed to the pipe and its write end closed; 'close' also covers a sender that died first.
    stdin.once('finish', () => resolve(performance.now()));
    stdin.once('close', () => resolve(performance.now()));
  });
  stdin.end(plan.input);
  return { proc, inputDone };
}

/** SIGSTOPs a lab process (its pid is the command itself: `ip netns exec` execs) and waits until the kernel shows it stopped. */
async function stopProcess(proc: Captured): Promise<void> {
  const pid = proc.child.pid;
  if (pid === undefined) throw new Error(`${proc.label} has no pid`);
  if (!readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('blipcast.js')) throw new Error(`pid ${pid} is not ${proc.label}`);
  process.kill(pid, 'SIGSTOP');
  for (let i = 0; i < 100; i++) {
    // /proc/PID/stat: "pid (comm) STATE …"; T is stopped by a signal.
    if (/\) T /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return;
    await sleep(10);
  }
  throw new Error(`${proc.label} (pid ${pid}) did not stop`);
}

async function continueAfterInput(paused: Captured, sender: StartedSender, pause: NonNullable<CliPlan['pause']>, sendStartMs: number): Promise<string> {
  const inputMs = await sender.inputDone;
  const delayMs = pause.minMs + Math.floor(Math.random() * (pause.maxMs - pause.minMs + 1));
  await sleep(Math.max(0, inputMs + delayMs - performance.now()));
  const linesWhileStopped = paused.lines;
  const senderState = sender.proc.exited === undefined ? 'still running' : `already exited ${exitText(sender.proc.exited)} at ${((sender.proc.exited.atMs - sendStartMs) / 1000).toFixed(2)} s`;
  if (paused.child.pid !== undefined && paused.exited === undefined) process.kill(paused.child.pid, 'SIGCONT');
  return (
    `${paused.label} stopped (SIGSTOP) before the first line; the sender's input was all handed over at ${((inputMs - sendStartMs) / 1000).toFixed(2)} s; ` +
    `continued (SIGCONT) ${delayMs} ms later, having printed ${linesWhileStopped} lines while stopped; the sender was ${senderState}`
  );
}

/**
 * Waits until every process has exited. Once every sender has, a receiver that prints
 * nothing for {@link STALL_MS} is stopped (SIGTERM) and returned as stalled; a sender
 * still running after `senderMaxMs` is killed.
 */
async function supervise(senders: Captured[], receivers: Captured[], senderMaxMs: number): Promise<Set<Captured>> {
  const stalled = new Set<Captured>();
  const startMs = performance.now();
  for (;;) {
    const now = performance.now();
    for (const s of senders) if (s.exited === undefined && now - startMs > senderMaxMs) s.child.kill('SIGKILL');
    const sendersDone = senders.every((s) => s.exited !== undefined);
    const lastSenderMs = Math.max(...senders.map((s) => s.exited?.atMs ?? 0));
    for (const r of receivers) {
      if (r.exited !== undefined || stalled.has(r) || !sendersDone) continue;
      if (now - Math.max(r.lastOutputMs, lastSenderMs) > STALL_MS) {
        stalled.add(r);
        r.child.kill('SIGTERM');
      }
    }
    if ([...senders, ...receivers].every((p) => p.exited !== undefined)) return stalled;
    await sleep(200);
  }
}

function judgeReceiver(r: Captured, plan: CliPlan, wants: string[][], stalled: boolean, drops: ReceiverOutcome['drops'], sendStartMs: number): ReceiverOutcome {
  const err = parseStderr(r.stderr);
  const output = Buffer.concat(r.chunks);
  const expectedLines = wants.reduce((sum, w) => sum + w.length, 0);
  let mismatch = '';
  const completeFrom = wants.map(() => false);
  if (!plan.json) {
    const exact = output.equals(plan.senders[0]!.input);
    completeFrom[0] = exact;
    if (!exact) mismatch = describeLines(splitLines(output.toString('utf8')), wants[0]!);
  } else {
    mismatch = judgeJson(splitLines(output.toString('utf8')), wants, completeFrom);
  }
  const exit = stalled ? 'stalled' : exitText(r.exited);
  return {
    label: r.label,
    exact: mismatch === '',
    lines: r.lines,
    expectedLines,
    exit,
    seconds: ((r.exited?.atMs ?? performance.now()) - sendStartMs) / 1000,
    mismatch,
    losses: err.losses.map(formatLoss),
    drops,
    completeFrom,
    json: err.json,
    stderr: r.stderr,
  };
}

/**
 * `listen --json` output against several senders' lines: messages grouped by
 * source, each source matched to the sender whose lines it carries, each
 * sender's lines checked in order, once. Fills `completeFrom`; returns what
 * is wrong ('' when nothing).
 */
function judgeJson(lines: string[], wants: string[][], completeFrom: boolean[]): string {
  const owner = new Map<string, number>();
  wants.forEach((w, k) => w.forEach((line) => owner.set(line, k)));
  const bySource = new Map<string, string[]>();
  let unparsable = 0;
  for (const line of lines) {
    let m: { data?: unknown; source?: unknown };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      unparsable++;
      continue;
    }
    const source = String(m.source);
    let list = bySource.get(source);
    if (!list) bySource.set(source, (list = []));
    list.push(String(m.data));
  }
  const problems: string[] = [];
  if (unparsable > 0) problems.push(`${unparsable} line(s) that are not JSON`);
  const sourcesOf = wants.map((): string[] => []);
  for (const [source, data] of bySource) {
    const votes = wants.map(() => 0);
    for (const d of data) {
      const k = owner.get(d);
      if (k !== undefined) votes[k]!++;
    }
    const k = votes.indexOf(Math.max(...votes));
    if (votes[k] === 0) problems.push(`source ${source.slice(0, 8)}: ${data.length} message(s), none of them sent by any sender`);
    else sourcesOf[k]!.push(source);
  }
  for (const [k, want] of wants.entries()) {
    const sources = sourcesOf[k]!;
    if (sources.length === 0) {
      problems.push(`sender ${k}: nothing received (0 of ${want.length} lines)`);
      continue;
    }
    if (sources.length > 1) problems.push(`sender ${k} arrived as ${sources.length} sources (${sources.map((s) => s.slice(0, 8)).join(', ')})`);
    const got = sources.flatMap((s) => bySource.get(s)!);
    const wrong = describeLines(got, want);
    if (wrong === '' && sources.length === 1) completeFrom[k] = true;
    else if (wrong !== '') problems.push(`sender ${k} (source ${sources[0]!.slice(0, 8)}): ${wrong}`);
  }
  return problems.join('\n');
}

function verdict(name: string, senders: SenderOutcome[], receivers: ReceiverOutcome[], notes: string[], startedMs: number): ScenarioResult {
  const failures: string[] = [];
  for (const r of receivers) {
    if (!r.exact) {
      failures.push(
        `${r.label} did not print exactly what was sent (exit ${r.exit}): ${r.mismatch}\n` +
          `  loss reports (${r.losses.length}): ${r.losses.slice(0, 5).join(' | ') || 'none'}${r.losses.length > 5 ? ' | …' : ''}\n` +
          `  stderr besides loss reports: ${tail(withoutLossLines(r.stderr))}`,
      );
    } else if (r.losses.length > 0) failures.push(`${r.label} printed everything but also reported loss: ${r.losses.slice(0, 5).join(' | ')}`);
    else if (r.exit !== '0') failures.push(`${r.label} printed everything but exited ${r.exit}; stderr: ${tail(r.stderr)}`);
  }
  for (const s of senders) {
    if (s.code === s.expectedCode) continue;
    const why =
      s.expectedCode === 0
        ? 'although every receiver got all its lines'
        : s.code === 0
          ? `although ${receivers.filter((r) => !r.completeFrom[senders.indexOf(s)]).map((r) => r.label).join(', ')} did not get all its lines (silent loss)`
          : 'where it should have exited 3 (a receiver did not get everything)';
    failures.push(`${s.label} exited ${s.exit} ${why}; stderr: ${tail(s.stderr)}`);
  }
  const exact = receivers.every((r) => r.exact);
  const ok = failures.length === 0;
  const firstLossAt = receivers.find((r) => r.losses.length > 0);
  const firstLoss = firstLossAt ? `${firstLossAt.label}: ${firstLossAt.losses[0]}` : undefined;
  let shape = '';
  if (!ok) {
    const bad = receivers.filter((r) => !r.exact);
    const parts = bad.map((r) => `${r.label.replace('listen@', '')} ${r.lines}/${r.expectedLines} ${r.exit === '0' ? '' : `exit ${r.exit} `}${r.losses[0] ?? 'no loss report'}`);
    shape = `${parts.join('; ') || 'all exact'}; send exit ${senders.map((s) => s.exit).join(',')}`;
  }
  return {
    scenario: name,
    ok,
    exact,
    senders,
    receivers,
    failures,
    firstLoss,
    shape,
    notes,
    wallMs: performance.now() - startedMs,
  };
}

/** stderr without the loss-report lines (they are listed apart). */
function withoutLossLines(stderr: string): string {
  return stderr.split('\n').filter((line) => !line.startsWith('{"event":"loss"')).join('\n');
}

function formatLoad(load: CpuLoadReport): string {
  return `CPU load: ${load.busy} busy loop(s) + ${load.churn} churn loop(s) (${load.churnProcesses} short-lived node processes) for ${(load.durationMs / 1000).toFixed(1)} s; machine busy ${(load.machineBusy * 100).toFixed(0)}%`;
}

// ---------------------------------------------------------------------------------------------
// The slow reader: two fixture programs on the public API

const SLOW_READER_COUNT = 1_000_000;
const SLOW_READER_SIZE = 200;
const SLOW_READER_TIMEOUT_MS = 90_000;

async function runSlowReader(options: ScenarioOptions): Promise<ScenarioResult> {
  const log = options.log ?? ((): void => undefined);
  const startedMs = performance.now();
  const notes: string[] = [];
  const note = (line: string): void => {
    notes.push(line);
    log(line);
  };
  const load = options.load === true ? CpuLoad.start({}) : undefined;
  try {
    return await withLab({ hosts: 2, name: 'slowrd', gsoRuns: options.gsoRuns === true }, async (lab) => {
      const [writerHost, readerHost] = lab.hosts as [LabHost, LabHost];
      const target = `${randomGroup4()}:${randomPort()}`;
      const reader = capture(
        `slow-reader@${readerHost.name}`,
        lab.spawnNode(readerHost, fixturePath('slow-reader'), ['--group', target, '--iface', readerHost.ipv4, '--count', String(SLOW_READER_COUNT), '--timeout-ms', String(SLOW_READER_TIMEOUT_MS)], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      await waitForMembership(lab, readerHost, target.split(':')[0]!, reader);
      const writer = capture(
        `fast-writer@${writerHost.name}`,
        lab.spawnNode(writerHost, fixturePath('fast-writer'), ['--group', target, '--iface', writerHost.ipv4, '--count', String(SLOW_READER_COUNT), '--size', String(SLOW_READER_SIZE)], { stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      const writeStartMs = performance.now();
      await supervise([writer], [reader], SLOW_READER_TIMEOUT_MS + SENDER_GRACE_MS);
      const loadReport = load ? await load.stop() : undefined;
      const lastJson = <T>(c: Captured): T | undefined => {
        const lines = splitLines(Buffer.concat(c.chunks).toString('utf8')).filter((l) => l.startsWith('{'));
        return lines.length ? (JSON.parse(lines.at(-1)!) as T) : undefined;
      };
      const r = lastJson<SlowReaderResult>(reader);
      const w = lastJson<FastWriterResult>(writer);
      const failures: string[] = [];
      if (r === undefined) failures.push(`${reader.label} printed no result (exit ${exitText(reader.exited)}): ${tail(reader.stderr)}`);
      else {
        if (r.received !== SLOW_READER_COUNT || r.outOfOrder > 0 || r.corrupt > 0) {
          failures.push(
            `${reader.label} got ${r.received} of ${SLOW_READER_COUNT} messages${r.timedOut ? ' (timed out)' : ''}${r.terminated ? ` (stopped: no progress for ${STALL_MS / 1000} s after the writer exited)` : ''}, out of order ${r.outOfOrder}` +
              `${r.firstOutOfOrder.length ? ` (first: message #${r.firstOutOfOrder[0]!.at} was index ${r.firstOutOfOrder[0]!.got})` : ''}, corrupt ${r.corrupt}`,
          );
        }
        if (r.losses.length > 0) failures.push(`${reader.label} had ${r.losses.length} 'loss' event(s): ${r.losses.slice(0, 5).map((l) => `seq ${l.fromSeq}-${l.toSeq} (${l.toSeq - l.fromSeq + 1}) ${l.reason}`).join(' | ')}`);
      }
      if (w === undefined || writer.exited?.code !== 0) failures.push(`${writer.label} exited ${exitText(writer.exited)}${w ? '' : ' without a result'}: ${tail(writer.stderr)}`);
      const dropped = w?.receivers.filter((e) => e.event === 'receiver-dropped') ?? [];
      if (dropped.length > 0) failures.push(`${writer.label} dropped its reader: ${dropped.map((d) => `${d.reason} at ${d.atMs} ms`).join(', ')}`);

      note(`slow-reader: ${SLOW_READER_COUNT} × ${SLOW_READER_SIZE}-byte messages, no injected loss; the reader awaits 1 ms every 500 messages (for await, default flow control)`);
      if (w) {
        note(
          `${writer.label}: exit ${exitText(writer.exited)}; wrote for ${(w.writeMs / 1000).toFixed(2)} s (${w.drains} waits for 'drain'), close() took ${(w.closeMs / 1000).toFixed(2)} s: ` +
            `elapsed ${(w.elapsedMs / 1000).toFixed(2)} s = ${Math.round(SLOW_READER_COUNT / (w.elapsedMs / 1000))} msgs/s; receiver events: ${w.receivers.map((e) => `${e.event}${e.reason ? ` (${e.reason})` : ''} at ${e.atMs} ms`).join(', ') || 'none'}`,
        );
      }
      if (r) {
        note(
          `${reader.label}: ${r.received} messages over ${(r.spanMs / 1000).toFixed(2)} s (${Math.round(r.received / Math.max(r.spanMs / 1000, 0.001))} msgs/s), ` +
            `loss events ${r.losses.length}, out of order ${r.outOfOrder}, sources ${r.sources}; exit ${exitText(reader.exited)} at ${(((reader.exited?.atMs ?? 0) - writeStartMs) / 1000).toFixed(2)} s`,
        );
      }
      if (loadReport) note(formatLoad(loadReport));
      const ok = failures.length === 0;
      const exact = r !== undefined && r.received === SLOW_READER_COUNT && r.outOfOrder === 0 && r.corrupt === 0 && r.losses.length === 0;
      const firstLoss = r?.losses[0] ? `${reader.label}: seq ${r.losses[0].fromSeq}-${r.losses[0].toSeq} (${r.losses[0].toSeq - r.losses[0].fromSeq + 1}) ${r.losses[0].reason}` : undefined;
      return {
        scenario: 'slow-reader',
        ok,
        exact,
        senders: [{ label: writer.label, exit: exitText(writer.exited), code: writer.exited?.code ?? null, seconds: (w?.elapsedMs ?? 0) / 1000, expectedCode: 0, json: w ? [w as unknown as Record<string, unknown>] : [], stderr: writer.stderr }],
        receivers: [],
        failures,
        firstLoss,
        shape: ok ? '' : `reader ${r?.received ?? '?'}/${SLOW_READER_COUNT}, ${r?.losses.length ?? '?'} loss event(s)${firstLoss ? ` first ${firstLoss.replace(/^[^:]*: /, '')}` : ''}; writer exit ${exitText(writer.exited)}`,
        notes,
        wallMs: performance.now() - startedMs,
      };
    });
  } finally {
    if (load) await load.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// The scenarios

const PAUSED_LINES = 50_000;
const MULTI_LINES = 30_000;
const SIX_LINES = 50_000;
const RATE_LINES = 1_000_000;
/** `--rate` of the rate-limited sender, bytes/s: `seq 1 1000000` (6.9 MB) takes about 14 s. */
const RATE_BYTES_PER_S = 500_000;
/** Multi-sender burst loss: 5 % in runs of 16 consecutive datagrams (one in every 320). */
const BURST: BurstLoss = { length: 16, rate: 0.05 };

/** Lines of three senders, told apart by their prefix: s0-…, s1-…, s2-… (varied lengths, up to 120 characters). */
function threeSenders(feed: SenderPlan['feed']): SenderPlan[] {
  return [0, 1, 2].map((k) => ({ input: variedLines(MULTI_LINES, `s${k}`, 0x51ed + k, 120), feed }));
}

/** Inputs are built on first use and kept: the same bytes every run. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
const pausedInput = lazy(() => shortLines(PAUSED_LINES));
const multiInput = lazy(() => threeSenders('stdin'));
const sixInput = lazy(() => variedLines(SIX_LINES, 'line', 0x9e3779b9, 160, 1000));
const rateInput = lazy(() => seqLines(RATE_LINES));

export const SCENARIOS: readonly Scenario[] = [
  {
    name: 'paused-receiver',
    title: 'a receiver stopped before the first line and continued after the input ended still prints all 50,000 lines, and the sender waits for it',
    budgetMs: 75_000,
    run: (options = {}) =>
      runCli(
        { name: 'paused-receiver', labName: 'pause', senders: [{ input: pausedInput(), feed: 'stdin' }], receivers: 3, lossRate: 0.2, listenTimeoutS: 45, json: false, pause: { receiver: 0, minMs: 300, maxMs: 1500 } },
        options,
      ),
  },
  {
    name: 'three-senders',
    title: 'three senders starting together reach two receivers at 5 % loss with every line of each, in order, once',
    budgetMs: 75_000,
    run: (options = {}) => runCli({ name: 'three-senders', labName: 'multi', senders: multiInput(), receivers: 2, lossRate: 0.05, listenTimeoutS: 45, json: true }, options),
  },
  {
    name: 'three-senders-burst',
    title: 'three senders starting together reach two receivers that lose 5 % in bursts of 16 datagrams, every line of each, in order, once',
    budgetMs: 75_000,
    run: (options = {}) => runCli({ name: 'three-senders-burst', labName: 'multib', senders: multiInput(), receivers: 2, lossRate: 0, burst: BURST, listenTimeoutS: 45, json: true }, options),
  },
  {
    name: 'six-receivers-load',
    title: 'six receivers at 5 % loss on a machine under CPU load each print all 50,000 lines exactly',
    budgetMs: 100_000,
    run: (options = {}) =>
      runCli({ name: 'six-receivers-load', labName: 'six', senders: [{ input: sixInput(), feed: 'stdin' }], receivers: 6, lossRate: 0.05, listenTimeoutS: 70, json: false, load: { churn: 2 } }, options),
  },
  {
    name: 'rate-limited-pipe',
    title: '`seq 1 1000000 | blipcast send --rate 500000` reaches three receivers at 5 % loss exactly',
    budgetMs: 90_000,
    run: (options = {}) =>
      runCli({ name: 'rate-limited-pipe', labName: 'ratep', senders: [{ input: rateInput(), feed: 'seq-pipe', args: ['--rate', String(RATE_BYTES_PER_S)] }], receivers: 3, lossRate: 0.05, listenTimeoutS: 60, json: false }, options),
  },
  {
    name: 'rate-limited-file',
    title: '`blipcast send --rate 500000 < file` (seq 1 1000000) reaches three receivers at 5 % loss exactly',
    budgetMs: 90_000,
    run: (options = {}) =>
      runCli({ name: 'rate-limited-file', labName: 'ratef', senders: [{ input: rateInput(), feed: 'file', args: ['--rate', String(RATE_BYTES_PER_S)] }], receivers: 3, lossRate: 0.05, listenTimeoutS: 60, json: false }, options),
  },
  {
    name: 'slow-reader',
    title: 'a reader that awaits 1 ms every 500 messages gets all 1,000,000 messages in order with no loss: the writer is paced to it',
    budgetMs: 120_000,
    run: (options = {}) => runSlowReader(options),
  },
];

/** The scenario called `name`. @throws RangeError naming the known ones. */
export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new RangeError(`no scenario '${name}'; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}

/** Everything about a result that a failing test should print: the failures, then the notes. */
export function explain(result: ScenarioResult): string {
  return [...result.failures, '', ...result.notes].join('\n');
}
