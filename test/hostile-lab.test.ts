/**
 * Hostile input on a real network (issue 6, item 5): a sender
 * (test/fixtures/hostile-sender.ts, `blipcast send` with counters) streams
 * 100,000 lines from h0 to three receivers (h1–h3) with 1 % receive loss on
 * each receiver host, while the attacker program (test/fixtures/attacker.ts)
 * on h4 sends 1,000,000 random datagrams, 100,000 valid-looking or
 * deliberately broken headers, one DATA datagram from each of 100,000 fake
 * sessions, and NAKs asking the real sender for everything. Every receiver
 * prints exactly the sent lines, in order, with no loss report and no other
 * source, and its counters show the rejections by reason.
 *
 * Twice: on a clear group, and on a group opened with a key (`--key-file`),
 * where the attacker also forges DATA in the real session (clear, and made to
 * look sealed), forges NAKs the same two ways, and replays captured real
 * datagrams. On the keyed group nothing unauthenticated reaches the protocol:
 * the sender counts no NAK beyond the receivers' own (on the clear group the
 * attacker's NAKs do count — the contrast shows the check can fail).
 *
 * The attacker is relied on only once it says it has heard the sender (its
 * 'heard' event): the sender is started, fed its first lines, and the rest
 * waits for that.
 */

import type { ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { labTest } from './lab/availability';
import { fixturePath, type Lab, type LabHost, systemBinary, withLab } from './lab/lab';
import { randomGroup4, randomPort } from './lab/traffic';
import type { AttackReport } from './fixtures/attacker';

const CAT = systemBinary('cat');
const LINE_COUNT = 100_000;
const LOSS_RATE = 0.01;
const LISTEN_TIMEOUT_S = 150;
const SEND_LINGER_S = 60;
/** The sender is fed over this long, inside the attack, so the flood meets a live stream (and its repairs). */
const FEED_MS = 15_000;
/** The attack lasts this long from the attacker's start: its lead, the feed, and the repairs after it. */
const ATTACK_S = 28;
/** Lines fed before waiting for the attacker to have heard the sender (it learns the session from DATA). */
const FIRST_LINES = 500;
/** How long the attacker may take to join, and to hear the sender's first DATA: a failure after this says which. */
const ATTACKER_READY_MS = 20_000;

function makeLines(count: number): Buffer {
  let text = '';
  for (let i = 0; i < count; i++) text += `line-${String(i).padStart(6, '0')} ${'abcdefghijklmnopqrstuvwxyz'.slice(0, i % 27)}\n`;
  return Buffer.from(text, 'utf8');
}
const SENT = makeLines(LINE_COUNT);
const FIRST_CHUNK_END = SENT.indexOf(10, SENT.indexOf(`line-${String(FIRST_LINES - 1).padStart(6, '0')}`)) + 1;

interface Captured {
  label: string;
  child: ChildProcess;
  chunks: Buffer[];
  stderr: string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function capture(label: string, child: ChildProcess): Captured {
  const c: Captured = { label, child, chunks: [], stderr: '', exit: new Promise((resolve) => child.once('close', (code, signal) => resolve({ code, signal }))) };
  child.stdout?.on('data', (chunk: Buffer) => c.chunks.push(chunk));
  child.stderr?.setEncoding('utf8').on('data', (text: string) => (c.stderr += text));
  return c;
}

/** The JSON lines `{"event": …}` a fixture printed on stderr so far. */
function events(who: Captured): ({ event: string } & Record<string, unknown>)[] {
  const out: ({ event: string } & Record<string, unknown>)[] = [];
  for (const line of who.stderr.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const v = JSON.parse(line) as { event?: unknown };
      if (typeof v.event === 'string') out.push(v as { event: string });
    } catch {
      // a partial line
    }
  }
  return out;
}

/** Waits until `who` printed event `name`; throws (with its stderr) when it exits first or after `timeoutMs`. */
async function waitForEvent(who: Captured, name: string, timeoutMs: number): Promise<Record<string, unknown>> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const e = events(who).find((x) => x.event === name);
    if (e) return e;
    if (who.child.exitCode !== null) throw new Error(`${who.label} exited (${who.child.exitCode}) before '${name}': ${who.stderr.trim()}`);
    if (performance.now() > deadline) throw new Error(`${who.label} printed no '${name}' within ${timeoutMs} ms: ${who.stderr.trim()}`);
    await sleep(20);
  }
}

async function waitForMembership(lab: Lab, host: LabHost, group: string, who: Captured, timeoutMs = 10_000): Promise<void> {
  const octets = group.split('.').map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase());
  const forms = [octets.join(''), [...octets].reverse().join('')];
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const igmp = (await lab.exec(host, CAT, ['/proc/net/igmp'])).stdout;
    if (forms.some((form) => igmp.includes(form))) return;
    if (who.child.exitCode !== null) throw new Error(`${who.label} exited (${who.child.exitCode}) before joining: ${who.stderr.trim()}`);
    await sleep(50);
  }
  throw new Error(`${who.label} did not join ${group} within ${timeoutMs} ms; stderr: ${who.stderr.trim()}`);
}

async function feed(child: ChildProcess, lines: Buffer, overMs: number): Promise<void> {
  const stdin = child.stdin!;
  const CHUNKS = 100;
  const startMs = performance.now();
  let start = 0;
  for (let i = 1; i <= CHUNKS && start < lines.length; i++) {
    const nl = lines.indexOf(10, Math.max(Math.floor((lines.length * i) / CHUNKS) - 1, start));
    const end = nl === -1 ? lines.length : nl + 1;
    if (child.exitCode !== null) return;
    if (!stdin.write(lines.subarray(start, end))) await new Promise((resolve) => (stdin.once('drain', resolve), stdin.once('close', resolve)));
    start = end;
    const waitMs = startMs + (overMs * i) / CHUNKS - performance.now();
    if (waitMs > 0) await sleep(waitMs);
  }
  stdin.end();
}

interface ProtocolCounters {
  invalid: number;
  invalidByReason: Record<string, number>;
  limited: Record<string, number>;
  sources: number;
  naksSent: number;
  naksReceived: number;
  repairsSent: number;
  repairsReceived: number;
}

interface SenderStats {
  receivers: string[];
  rejects: Record<string, number>;
  protocol: ProtocolCounters;
}

interface ReceiverStats {
  received: number;
  sources: string[];
  losses: unknown[];
  warnings: { reason: string; count: number; suppressed: number }[];
  rejects: Record<string, number>;
  protocol: ProtocolCounters;
}

function statsOf<T>(who: Captured): T | undefined {
  return events(who).find((e) => e.event === 'stats') as T | undefined;
}

const nonZero = (o: Record<string, number>): string => JSON.stringify(Object.fromEntries(Object.entries(o).filter(([, n]) => n > 0)));

async function attackedStream(t: ExecutionContext, modes: string, keyed: boolean): Promise<void> {
  t.timeout((LISTEN_TIMEOUT_S + 60) * 1000);
  const keyDir = mkdtempSync(join(tmpdir(), 'blipcast-hostile-'));
  const testStartMs = performance.now();
  try {
    await withLab({ hosts: 5, name: keyed ? 'hostilek' : 'hostile' }, async (lab) => {
      const [senderHost, r1, r2, r3, attackerHost] = lab.hosts as [LabHost, LabHost, LabHost, LabHost, LabHost];
      const receiverHosts = [r1, r2, r3];
      const group = randomGroup4();
      const target = `${group}:${randomPort()}`;
      const keyArgs: string[] = [];
      if (keyed) {
        const keyFile = join(keyDir, 'group.key');
        writeFileSync(keyFile, `${randomBytes(32).toString('hex')}\n`, { mode: 0o600 });
        keyArgs.push('--key-file', keyFile);
      }
      for (const host of receiverHosts) await lab.setLoss(host, LOSS_RATE);

      const receivers = receiverHosts.map((host) =>
        capture(`receiver@${host.name}`, lab.spawnNode(host, fixturePath('hostile-receiver'), ['--group', target, '--iface', host.ipv4, '--count', String(LINE_COUNT), '--timeout-s', String(LISTEN_TIMEOUT_S), ...keyArgs], {
          stdio: ['ignore', 'pipe', 'pipe'],
        })),
      );
      for (const [i, host] of receiverHosts.entries()) await waitForMembership(lab, host, group, receivers[i]!);

      // The attacker sees key ids in the clear headers; it is told the one the fake sources should carry. It never has the key.
      const attacker = capture('attacker@h4', lab.spawnNode(attackerHost, fixturePath('attacker'), [
        '--group', target, '--iface', attackerHost.ipv4, '--duration-s', String(ATTACK_S), '--modes', modes, ...(keyed ? ['--key-id', '1'] : []),
      ], { stdio: ['ignore', 'pipe', 'pipe'] }));
      await waitForEvent(attacker, 'listening', ATTACKER_READY_MS);
      const startedMs = performance.now();
      const sender = capture('sender@h0', lab.spawnNode(senderHost, fixturePath('hostile-sender'), ['--group', target, '--iface', senderHost.ipv4, '--linger-s', String(SEND_LINGER_S), ...keyArgs]));
      // A few lines first: the attacker learns the real session from its DATA, and the modes that need it (NAKs, forgeries, replays) start then.
      sender.child.stdin!.write(SENT.subarray(0, FIRST_CHUNK_END));
      const heard = await waitForEvent(attacker, 'heard', ATTACKER_READY_MS);
      t.log(`attacker heard the sender ${((performance.now() - startedMs) / 1000).toFixed(1)} s after it started: ${JSON.stringify(heard)}`);
      const fed = feed(sender.child, SENT.subarray(FIRST_CHUNK_END), FEED_MS);
      const [senderExit, attackerExit, ...receiverExits] = await Promise.all([sender.exit, attacker.exit, ...receivers.map((r) => r.exit)]);
      await fed;
      const seconds = (performance.now() - startedMs) / 1000;

      t.is(attackerExit.code, 0, `attacker: ${attacker.stderr.trim()}`);
      const report = JSON.parse(Buffer.concat(attacker.chunks).toString('utf8')) as AttackReport;
      t.log(`attacker: ${JSON.stringify(report)}`);
      t.log(`sender exited ${senderExit.code ?? senderExit.signal}; all done ${seconds.toFixed(1)} s after the sender started`);
      t.is(senderExit.code, 0, `sender: ${sender.stderr.trim()}`);
      if (modes.includes('random')) t.is(report.sent.random, 1_000_000);
      if (modes.includes('sources')) t.is(report.sent.sources, 100_000);
      if (modes.includes('nak')) t.true(report.sent.nak >= 1000, `the attacker sent only ${report.sent.nak} NAKs`);
      if (modes.includes('forge')) t.true(report.sent.forge > 0);
      if (modes.includes('replay')) t.true(report.sent.replay > 0 && report.captured > 0);
      if (keyed) t.true(report.sealedLooking.nak > 0 && report.sealedLooking.forge > 0 && report.sealedLooking.sources === report.sent.sources);

      let naksSentByReceivers = 0;
      for (const [i, r] of receivers.entries()) {
        const stats = statsOf<ReceiverStats>(r);
        t.truthy(stats, `${r.label} printed no stats: ${r.stderr.trim()}`);
        if (!stats) continue;
        naksSentByReceivers += stats.protocol.naksSent;
        t.log(`${r.label}: ${stats.received} lines; rejects ${nonZero(stats.rejects)}; invalid ${nonZero(stats.protocol.invalidByReason)}; limits ${nonZero(stats.protocol.limited)}; NAKs sent ${stats.protocol.naksSent}, repairs received ${stats.protocol.repairsReceived}; warnings ${stats.warnings.length}`);
        const output = Buffer.concat(r.chunks);
        t.true(output.equals(SENT), `${r.label} did not print exactly the sent lines (${output.length} of ${SENT.length} bytes)`);
        t.deepEqual(stats.losses, [], `${r.label} reported loss`);
        t.is(stats.sources.length, 1, `${r.label} heard sources ${stats.sources.join(', ')}`);
        t.is(receiverExits[i]!.code, 0, `${r.label}: ${r.stderr.trim()}`);
        if (modes.includes('random')) t.true(stats.rejects['bad-magic']! > 0);
        if (!keyed) {
          if (modes.includes('headers')) {
            for (const reason of ['bad-version', 'bad-length', 'unknown-type', 'bad-sequence']) t.true(stats.rejects[reason]! > 0, `${r.label} ${reason}`);
            t.true(stats.protocol.invalid > 0);
          }
          if (modes.includes('sources')) t.true(stats.protocol.limited['sources-evicted']! > 0);
        } else {
          // Each hostile datagram is dropped before the protocol, under its reason: clear ones, ones that look sealed, authentic ones seen before.
          for (const reason of ['bad-version', 'clear-on-keyed', 'auth-failed', 'replay']) t.true(stats.rejects[reason]! > 0, `${r.label} counted no ${reason}`);
          t.is(stats.protocol.invalid, 0, `${r.label}: something unauthenticated reached the protocol: ${nonZero(stats.protocol.invalidByReason)}`);
          t.is(stats.protocol.limited['sources-evicted'] ?? 0, 0, `${r.label}: a fake source reached the protocol`);
        }
      }

      const senderStats = statsOf<SenderStats>(sender);
      t.truthy(senderStats, `the sender printed no stats: ${sender.stderr.trim()}`);
      if (senderStats && modes.includes('nak')) {
        const p = senderStats.protocol;
        t.log(`sender: NAKs received ${p.naksReceived} (the receivers sent ${naksSentByReceivers}), repairs sent ${p.repairsSent}; rejects ${nonZero(senderStats.rejects)}; limits ${nonZero(p.limited)}`);
        if (keyed) {
          // Every NAK the sender took in is one a receiver sent: none of the attacker's thousands counted (or could trigger a repair).
          t.true(p.naksReceived <= naksSentByReceivers, `the sender counted ${p.naksReceived} NAKs, the receivers sent ${naksSentByReceivers}`);
          t.true(senderStats.rejects['clear-on-keyed']! > 0 && senderStats.rejects['auth-failed']! > 0, 'the sender counted the forged NAKs as rejected');
        } else {
          t.true(p.naksReceived > naksSentByReceivers, 'on a clear group the forged NAKs count (what the key prevents)');
        }
      }
    });
  } finally {
    rmSync(keyDir, { recursive: true, force: true });
    t.log(`test wall time ${((performance.now() - testStartMs) / 1000).toFixed(1)} s`);
  }
}

labTest.serial('three receivers on lossy hosts print all 100,000 lines exactly while an attacker floods random datagrams, broken headers, 100,000 fake sources and NAKs for everything', async (t) => {
  await attackedStream(t, 'random,headers,sources,nak', false);
});

labTest.serial('on a keyed group, three receivers on lossy hosts print all 100,000 lines exactly while an attacker without the key forges data and NAKs in the real session, replays captured datagrams, and floods random datagrams and 100,000 fake sources; nothing it sends counts', async (t) => {
  await attackedStream(t, 'random,headers,sources,nak,forge,replay', true);
});
