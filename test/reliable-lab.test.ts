/**
 * Reliable delivery end to end, the way a user runs it: `blipcast send` on one
 * lab host, `blipcast listen` on three others, 5% random receive loss on every
 * receiver host (nftables), 100,000 lines. Each receiver must print exactly
 * the lines that were sent, in order, with no loss report — also a receiver
 * that was frozen with SIGSTOP for two seconds in the middle of the stream,
 * and when 100,000 short lines (`seq`) are sent in one burst without loss.
 */

import type { ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { labTest } from './lab/availability';
import { type Lab, type LabHost, systemBinary, withLab } from './lab/lab';
import { randomGroup4, randomPort } from './lab/traffic';
import { createRandom } from '../src/util/random';

const BIN = join(__dirname, '..', '..', 'bin', 'blipcast.js');
const CAT = systemBinary('cat');

const LINE_COUNT = 100_000;
const RECEIVER_LOSS_RATE = 0.05;
/** Receivers give up after this long (the CLI's --timeout), so a stuck stream fails instead of hanging. */
const LISTEN_TIMEOUT_S = 120;
/** The sender repairs for at most this long after stdin ends; it exits earlier once every receiver has acknowledged. */
const SEND_LINGER_S = 60;
const STOP_MS = 2000;
const STOP_SETTLE_MS = 200;
const FEED_CHUNKS = 100;

/**
 * 100,000 distinct lines with varied content: a numbered prefix (so a
 * mismatch can be explained line by line), then 0–160 characters drawn from
 * ASCII, tabs, spaces and multi-byte UTF-8, and every 1000th line 4000 bytes
 * long (bigger than one datagram, so fragmentation is exercised too).
 */
function makeLines(count: number): Buffer {
  const alphabet = [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \t-_=+.,;:!?/\\"\'{}[]()<>', 'é', 'ü', 'ß', '✓', '日', '本', '語', '€', '🙂'];
  // Seeded, so every run sends the same bytes and a failure can be replayed.
  const rng = createRandom(0x9e3779b9);
  const next = (): number => rng.next();
  const parts: string[] = [];
  for (let i = 0; i < count; i++) {
    let body = '';
    if (i % 1000 === 999) body = `big:${'0123456789abcdef'.repeat(250)}`.slice(0, 4000);
    else {
      const length = Math.floor(next() * 161);
      for (let k = 0; k < length; k++) body += alphabet[Math.floor(next() * alphabet.length)];
    }
    parts.push(`line-${String(i).padStart(6, '0')} ${body}\n`);
  }
  return Buffer.from(parts.join(''), 'utf8');
}

const SENT = makeLines(LINE_COUNT);

/** The same count as `seq -f line-%06g 0 99999`: 12 bytes a line, about a hundred messages per datagram. */
function makeShortLines(count: number): Buffer {
  let text = '';
  for (let i = 0; i < count; i++) text += `line-${String(i).padStart(6, '0')}\n`;
  return Buffer.from(text, 'utf8');
}

/** A child process whose stdout is kept as bytes, with a running count of newlines. */
interface Captured {
  label: string;
  child: ChildProcess;
  chunks: Buffer[];
  lines: number;
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; atMs: number }>;
}

function capture(label: string, child: ChildProcess): Captured {
  const c: Captured = {
    label,
    child,
    chunks: [],
    lines: 0,
    stderr: '',
    exit: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal, atMs: performance.now() }))),
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    c.chunks.push(chunk);
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) c.lines++;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (c.stderr += text));
  return c;
}

/** `/proc/net/igmp` prints a group as its 32-bit value in host byte order; accept either order. */
function igmpHexForms(group: string): string[] {
  const octets = group.split('.').map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase());
  return [octets.join(''), [...octets].reverse().join('')];
}

/** Resolves once the kernel of `host` reports membership of `group` on the host's interface. */
async function waitForMembership(lab: Lab, host: LabHost, group: string, listener: Captured, timeoutMs = 10_000): Promise<void> {
  const forms = igmpHexForms(group);
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const igmp = (await lab.exec(host, CAT, ['/proc/net/igmp'])).stdout;
    if (forms.some((form) => igmp.includes(form))) return;
    if (listener.child.exitCode !== null) throw new Error(`${listener.label} exited (${listener.child.exitCode}) before joining: ${listener.stderr.trim()}`);
    await sleep(50);
  }
  throw new Error(`${listener.label} did not join ${group} within ${timeoutMs} ms; stderr: ${listener.stderr.trim()}`);
}

/** Loss reports the CLI printed on stderr (JSON lines with event 'loss'). */
function lossReports(stderr: string): string[] {
  return stderr.split('\n').filter((line) => {
    try {
      return (JSON.parse(line) as { event?: unknown }).event === 'loss';
    } catch {
      return false;
    }
  });
}

/**
 * What went wrong with an output that is not the sent bytes, in terms a
 * protocol engineer can act on: lines received, first divergence, missing
 * line numbers (as ranges), duplicates and reorderings.
 */
function describeMismatch(output: Buffer, sent: Buffer): string {
  const got = output.toString('utf8').split('\n');
  if (got.at(-1) === '') got.pop();
  const want = sent.toString('utf8').split('\n');
  want.pop();
  let first = 0;
  while (first < got.length && first < want.length && got[first] === want[first]) first++;
  const seen = new Map<number, number>();
  let reordered = 0;
  let corrupted = 0;
  let last = -1;
  for (const line of got) {
    const m = /^line-(\d{6})(?: |$)/.exec(line);
    if (!m) {
      corrupted++;
      continue;
    }
    const n = Number(m[1]);
    if (want[n] !== line) corrupted++;
    if (n < last) reordered++;
    last = n;
    seen.set(n, (seen.get(n) ?? 0) + 1);
  }
  const missing: string[] = [];
  for (let n = 0; n < want.length; n++) {
    if (seen.has(n)) continue;
    let end = n;
    while (end + 1 < want.length && !seen.has(end + 1)) end++;
    missing.push(n === end ? `${n}` : `${n}-${end}`);
    n = end;
  }
  const duplicates = [...seen.values()].filter((times) => times > 1).length;
  return [
    `received ${got.length} of ${want.length} lines; first difference at line ${first}`,
    `missing ${missing.length} range(s): ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`,
    `duplicated lines ${duplicates}, out-of-order steps ${reordered}, lines not matching what was sent ${corrupted}`,
  ].join('\n');
}

/**
 * Writes `lines` to the child's stdin and closes it: at once, or in
 * {@link FEED_CHUNKS} pieces (cut at line ends) spread over `overMs`,
 * honouring back-pressure. `progress.lines` counts the lines handed over.
 */
async function feedLines(child: ChildProcess, lines: Buffer, overMs: number, progress: { lines: number }): Promise<void> {
  const stdin = child.stdin;
  if (!stdin) throw new Error('the sender has no stdin');
  const countLines = (buf: Buffer): number => {
    let n = 0;
    for (let at = buf.indexOf(10); at !== -1; at = buf.indexOf(10, at + 1)) n++;
    return n;
  };
  if (overMs <= 0) {
    stdin.end(lines);
    progress.lines = countLines(lines);
    return;
  }
  const startedMs = performance.now();
  let start = 0;
  for (let i = 1; i <= FEED_CHUNKS && start < lines.length; i++) {
    const target = Math.floor((lines.length * i) / FEED_CHUNKS);
    const nl = lines.indexOf(10, Math.max(target - 1, start));
    const end = nl === -1 ? lines.length : nl + 1;
    const chunk = lines.subarray(start, end);
    start = end;
    if (child.exitCode !== null || child.signalCode !== null) return;
    // A sender that dies never drains: its exit ends the wait too (the test then fails on its exit code).
    if (!stdin.write(chunk)) await new Promise((resolve) => (stdin.once('drain', resolve), stdin.once('close', resolve)));
    progress.lines += countLines(chunk);
    const dueMs = startedMs + (overMs * i) / FEED_CHUNKS;
    const waitMs = dueMs - performance.now();
    if (waitMs > 0) await sleep(waitMs);
  }
  stdin.end();
}

interface RunOptions {
  /** What the sender reads on stdin (newline-terminated lines). Default {@link SENT}. */
  lines?: Buffer;
  /** The receivers' --timeout. Default {@link LISTEN_TIMEOUT_S}. */
  listenTimeoutS?: number;
  /** Receive loss on each receiver host. Default {@link RECEIVER_LOSS_RATE}. */
  lossRate?: number;
  /** Feed the sender's stdin in {@link FEED_CHUNKS} pieces spread over this long, like a live producer (default: all at once). */
  feedOverMs?: number;
  /** Freeze this receiver (index into the receivers, 0–2) with SIGSTOP for {@link STOP_MS} once it has printed this many lines. */
  stop?: { receiver: number; afterLines: number };
}

/**
 * One sender (h0) and three receivers (h1–h3) with receive loss on each
 * receiver host; sends the lines and checks every receiver's output.
 */
async function deliverThroughLab(t: ExecutionContext, name: string, options: RunOptions = {}): Promise<void> {
  const sent = options.lines ?? SENT;
  const lossRate = options.lossRate ?? RECEIVER_LOSS_RATE;
  const listenTimeoutS = options.listenTimeoutS ?? LISTEN_TIMEOUT_S;
  let lineCount = 0;
  for (let at = sent.indexOf(10); at !== -1; at = sent.indexOf(10, at + 1)) lineCount++;
  // Longer than the listeners' timeout, so that their own verdict (exit 1, "timed out after N") is what we see.
  t.timeout((listenTimeoutS + 40) * 1000);
  await withLab({ hosts: 4, name }, async (lab) => {
    const [senderHost, ...receiverHosts] = lab.hosts as [LabHost, ...LabHost[]];
    const group = randomGroup4();
    const target = `${group}:${randomPort()}`;
    if (lossRate > 0) for (const host of receiverHosts) await lab.setLoss(host, lossRate);

    // Receivers first; --from earliest would also cover a late start, but a joined socket before the first datagram is the plain case.
    const receivers = receiverHosts.map((host) =>
      capture(
        `listen@${host.name}`,
        lab.spawnNode(host, BIN, ['listen', target, '--interface', host.ipv4, '--from', 'earliest', '--count', String(lineCount), '--timeout', String(listenTimeoutS)], {
          stdio: ['ignore', 'pipe', 'pipe'],
        }),
      ),
    );
    for (const [i, host] of receiverHosts.entries()) await waitForMembership(lab, host, group, receivers[i]!);

    const startedMs = performance.now();
    const sender = capture('send@h0', lab.spawnNode(senderHost, BIN, ['send', target, '--interface', senderHost.ipv4, '--ttl', '1', '--linger', String(SEND_LINGER_S)]));
    const feed = { lines: 0 };
    const fed = feedLines(sender.child, sent, options.feedOverMs ?? 0, feed);

    let stopReport: string | undefined;
    let stopError: unknown;
    const stopped = options.stop === undefined ? Promise.resolve() : freezeMidStream(t, receivers, feed, lineCount, options.stop).then((report) => void (stopReport = report), (err: unknown) => void (stopError = err));

    const [senderExit, ...receiverExits] = await Promise.all([sender.exit, ...receivers.map((r) => r.exit)]);
    await fed;
    await stopped;
    if (stopError !== undefined) throw stopError;
    const lastMs = Math.max(...receiverExits.map((e) => e.atMs));

    t.log(`${lineCount} lines, ${(sent.length / 1e6).toFixed(2)} MB, loss ${lossRate * 100}% on each receiver host`);
    if (stopReport) t.log(stopReport);
    const senderUdp = await lab.udpCounters(senderHost);
    // The sender's own socket is a group member too: its socket-buffer drops can include receivers' NAKs and status.
    t.log(
      `sender exited ${senderExit.code ?? senderExit.signal} after ${((senderExit.atMs - startedMs) / 1000).toFixed(2)} s; ` +
        `its host received ${senderUdp.inDatagrams} UDP datagrams, socket-buffer drops ${senderUdp.rcvbufErrors}`,
    );
    for (const [i, r] of receivers.entries()) {
      const host = receiverHosts[i]!;
      const seconds = (receiverExits[i]!.atMs - startedMs) / 1000;
      const drops = await lab.lossDrops(host);
      const udp = await lab.udpCounters(host);
      const arrived = drops + udp.inDatagrams + udp.inErrors + udp.noPorts;
      t.log(
        `${r.label}: ${r.lines} lines in ${seconds.toFixed(2)} s = ${Math.round(r.lines / seconds)} lines/s, ${(sent.length / 1e6 / seconds).toFixed(2)} MB/s; ` +
          `UDP datagrams arriving ${arrived}, dropped by the loss rule ${drops} (${((100 * drops) / Math.max(arrived, 1)).toFixed(2)}%), socket-buffer drops ${udp.rcvbufErrors}`,
      );
      // Without real loss this test would prove nothing about repair.
      if (lossRate > 0) t.true(drops > 0, `${r.label}: the loss rule dropped nothing`);
    }
    t.log(`all receivers done after ${((lastMs - startedMs) / 1000).toFixed(2)} s`);

    t.is(senderExit.code, 0, `sender: ${sender.stderr.trim()}`);
    for (const [i, r] of receivers.entries()) {
      const output = Buffer.concat(r.chunks);
      const exact = output.equals(sent);
      t.true(exact, `${r.label} did not print exactly the sent lines:\n${exact ? '' : describeMismatch(output, sent)}\nstderr: ${r.stderr.trim() || '(empty)'}`);
      t.deepEqual(lossReports(r.stderr), [], `${r.label} reported loss`);
      t.is(receiverExits[i]!.code, 0, `${r.label} exit; stderr: ${r.stderr.trim()}`);
    }
  });
}

/**
 * Waits until the chosen receiver has printed `afterLines` lines, then stops
 * it with SIGSTOP for {@link STOP_MS} and continues it. Returns a line for the
 * log that shows the stream was really in progress while it was stopped.
 */
async function freezeMidStream(t: ExecutionContext, receivers: Captured[], feed: { lines: number }, lineCount: number, stop: { receiver: number; afterLines: number }): Promise<string> {
  const victim = receivers[stop.receiver]!;
  const pid = victim.child.pid;
  if (pid === undefined) throw new Error(`${victim.label} has no pid`);
  // `ip netns exec` execs the command, so this pid is the listen process itself, not a wrapper.
  t.true(readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('blipcast.js'), `pid ${pid} is not the listen process`);
  while (victim.lines < stop.afterLines) {
    if (victim.child.exitCode !== null || victim.child.signalCode !== null) throw new Error(`${victim.label} exited before ${stop.afterLines} lines`);
    await sleep(5);
  }
  const others = receivers.filter((r) => r !== victim);
  const atStop = others.map((r) => r.lines);
  const fedAtStop = feed.lines;
  process.kill(pid, 'SIGSTOP');
  // Output written just before the signal may still be in the pipe; let it arrive before counting.
  await sleep(STOP_SETTLE_MS);
  const stoppedAt = victim.lines;
  await sleep(STOP_MS - STOP_SETTLE_MS);
  const atCont = others.map((r) => r.lines);
  const fedAtCont = feed.lines;
  const frozenAt = victim.lines;
  process.kill(pid, 'SIGCONT');
  // A stopped process prints nothing: proof that the signal reached the listener itself.
  t.is(frozenAt, stoppedAt, `${victim.label} kept printing while stopped`);
  // Mid-stream: the sender was still being fed new lines when the receiver froze.
  t.true(fedAtStop < lineCount, `the stop came after the sender had read all its input (${fedAtStop} lines)`);
  return (
    `${victim.label} (pid ${pid}) stopped for ${STOP_MS} ms at ${stoppedAt} lines; meanwhile the sender was fed lines ${fedAtStop} → ${fedAtCont} ` +
    `and the others printed ${atStop.join(', ')} → ${atCont.join(', ')} lines`
  );
}

labTest.serial('three receivers on lossy hosts each print all 100,000 lines exactly, in order, without a loss report', async (t) => {
  await deliverThroughLab(t, 'rel');
});

labTest.serial('a receiver stopped for two seconds mid-stream still prints all 100,000 lines, as do the others', async (t) => {
  await deliverThroughLab(t, 'relstop', { feedOverMs: 4000, stop: { receiver: 1, afterLines: 30_000 } });
});

// `seq -f line-%06g 0 99999 | blipcast send …`: 1.2 MB that the sender reads in well under a second, about a
// hundred messages per datagram. No injected loss: the bursts overflow socket buffers on their own, and the
// stream may end before the sender has heard a status from any receiver.
labTest.serial('100,000 short lines sent in one burst reach every receiver exactly, in order, without a loss report', async (t) => {
  await deliverThroughLab(t, 'relshort', { lines: makeShortLines(LINE_COUNT), lossRate: 0, listenTimeoutS: 30 });
});
