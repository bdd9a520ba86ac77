/**
 * Scenarios that run the real CLI on lab hosts: `blipcast send` on the first
 * hosts (fed from this process, a shell pipe or a file), `blipcast listen` on
 * the others, loss rules on the receivers, optionally a receiver paused with
 * SIGSTOP and a CPU load; then every receiver's output is checked line by line
 * against what each sender read, and each sender's exit code against that
 * outcome. Does not import AVA.
 */

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemBinary } from './command';
import { CpuLoad, type CpuLoadOptions, type CpuLoadReport } from './cpu-load';
import { BIN, capture, type Captured, describeLines, formatLoss, parseStderr, splitLines, tail, waitForMembership } from './delivery';
import { type BurstLoss, type Lab, type LabHost, withLab } from './lab';
import { DEFAULT_LINGER_S, exitText, formatLoad, runNotes, type ReceiverOutcome, SEND_GAVE_UP, SENDER_GRACE_MS, type ScenarioOptions, type ScenarioResult, type SenderOutcome, supervise } from './scenario-result';
import { randomGroup4, randomPort } from './traffic';
import { createRandom } from '../../src/util/random';

const SH = systemBinary('sh');
const SEQ = systemBinary('seq');

/** `line-000000\n` … : 12 bytes a line, about a hundred per datagram. */
export function shortLines(count: number, prefix = 'line'): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < count; i++) parts.push(`${prefix}-${String(i).padStart(6, '0')}\n`);
  return Buffer.from(parts.join(''), 'utf8');
}

/**
 * `prefix-000000 <body>\n` …: a numbered prefix (so a mismatch names the line),
 * then 0–`maxBody` characters of ASCII, tabs and multi-byte UTF-8 from the seeded
 * generator (same bytes every run), and with `bigEvery` every so many lines a
 * 4000-byte body (bigger than a datagram: fragmentation).
 */
export function variedLines(count: number, prefix: string, seed: number, maxBody = 160, bigEvery = 0): Buffer {
  const alphabet = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \t-_=+.,;:!?/\\"\'{}[]()<>', 'é', 'ü', 'ß', '✓', '日', '本', '€', '🙂'];
  const rng = createRandom(seed);
  const next = (): number => rng.next();
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

export interface SenderPlan {
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

export interface CliPlan {
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

/**
 * Runs one plan on a fresh lab: receivers first (joined before anything is sent), then every
 * sender in the same turn; waits for all to end (see `supervise`) and judges the outputs.
 */
export async function runCli(plan: CliPlan, options: ScenarioOptions): Promise<ScenarioResult> {
  const startedMs = performance.now();
  const stats = cliHasStats() ? ['--stats'] : [];
  const linger = options.lingerS ?? DEFAULT_LINGER_S;
  const lingerArgs = linger === 'default' ? [] : ['--linger', String(linger)];
  const totalLines = plan.senders.reduce((sum, s) => sum + splitLines(s.input.toString('utf8')).length, 0);
  const { notes, note } = runNotes(options);
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
export async function stopProcess(proc: Captured): Promise<void> {
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
