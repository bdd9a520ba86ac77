/**
 * Hostile input on a real network (issue 6, item 5, the part that makes sense
 * without a group key): `blipcast send` streams 100,000 lines from h0 to three
 * receivers (h1–h3) with 1 % receive loss on each receiver host, while the
 * attacker program (test/fixtures/attacker.ts) on h4 sends 1,000,000 random
 * datagrams, 100,000 valid-looking or deliberately broken headers, one DATA
 * datagram from each of 100,000 fake sessions, and NAKs asking the real
 * sender for everything. Every receiver prints exactly the sent lines, in
 * order, with no loss report and no other source, and its counters show the
 * rejections by reason.
 */

import type { ExecutionContext } from 'ava';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { labTest } from './lab/availability';
import { fixturePath, type Lab, type LabHost, systemBinary, withLab } from './lab/lab';
import { randomGroup4, randomPort } from './lab/traffic';
import type { AttackReport } from './fixtures/attacker';

const BIN = join(__dirname, '..', '..', 'bin', 'blipcast.js');
const CAT = systemBinary('cat');
const LINE_COUNT = 100_000;
const LOSS_RATE = 0.01;
const LISTEN_TIMEOUT_S = 150;
const SEND_LINGER_S = 60;
/** The sender is fed over this long, inside the attack, so the flood meets a live stream (and its repairs). */
const FEED_MS = 15_000;
const ATTACK_S = 30;
/** The attacker starts this long before the sender (it floods fake sources and noise from the start; NAKs once it has heard the sender). */
const ATTACK_LEAD_MS = 2000;

function makeLines(count: number): Buffer {
  let text = '';
  for (let i = 0; i < count; i++) text += `line-${String(i).padStart(6, '0')} ${'abcdefghijklmnopqrstuvwxyz'.slice(0, i % 27)}\n`;
  return Buffer.from(text, 'utf8');
}
const SENT = makeLines(LINE_COUNT);

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

interface ReceiverStats {
  received: number;
  sources: string[];
  losses: unknown[];
  warnings: { reason: string; count: number; suppressed: number }[];
  rejects: Record<string, number>;
  protocol: { invalid: number; invalidByReason: Record<string, number>; limited: Record<string, number>; sources: number; naksSent: number; repairsReceived: number };
}

function statsLine(stderr: string): ReceiverStats | undefined {
  for (const line of stderr.split('\n')) {
    try {
      const v = JSON.parse(line) as { event?: string } & ReceiverStats;
      if (v.event === 'stats') return v;
    } catch {
      // other output
    }
  }
  return undefined;
}

async function attackedStream(t: ExecutionContext, modes: string): Promise<void> {
  t.timeout((LISTEN_TIMEOUT_S + 60) * 1000);
  await withLab({ hosts: 5, name: 'hostile' }, async (lab) => {
    const [senderHost, r1, r2, r3, attackerHost] = lab.hosts as [LabHost, LabHost, LabHost, LabHost, LabHost];
    const receiverHosts = [r1, r2, r3];
    const group = randomGroup4();
    const target = `${group}:${randomPort()}`;
    for (const host of receiverHosts) await lab.setLoss(host, LOSS_RATE);

    const receivers = receiverHosts.map((host) =>
      capture(`receiver@${host.name}`, lab.spawnNode(host, fixturePath('hostile-receiver'), ['--group', target, '--iface', host.ipv4, '--count', String(LINE_COUNT), '--timeout-s', String(LISTEN_TIMEOUT_S)], {
        stdio: ['ignore', 'pipe', 'pipe'],
      })),
    );
    for (const [i, host] of receiverHosts.entries()) await waitForMembership(lab, host, group, receivers[i]!);

    const attacker = capture('attacker@h4', lab.spawnNode(attackerHost, fixturePath('attacker'), ['--group', target, '--iface', attackerHost.ipv4, '--duration-s', String(ATTACK_S), '--modes', modes], {
      stdio: ['ignore', 'pipe', 'pipe'],
    }));
    await sleep(ATTACK_LEAD_MS);
    const startedMs = performance.now();
    const sender = capture('send@h0', lab.spawnNode(senderHost, BIN, ['send', target, '--interface', senderHost.ipv4, '--ttl', '1', '--linger', String(SEND_LINGER_S)]));
    const fed = feed(sender.child, SENT, FEED_MS);
    const [senderExit, attackerExit, ...receiverExits] = await Promise.all([sender.exit, attacker.exit, ...receivers.map((r) => r.exit)]);
    await fed;
    const seconds = (performance.now() - startedMs) / 1000;

    t.is(attackerExit.code, 0, `attacker: ${attacker.stderr.trim()}`);
    const report = JSON.parse(Buffer.concat(attacker.chunks).toString('utf8')) as AttackReport;
    t.log(`attacker: ${JSON.stringify(report)}`);
    t.log(`sender exited ${senderExit.code ?? senderExit.signal}; all done after ${seconds.toFixed(1)} s`);
    t.is(senderExit.code, 0, `sender: ${sender.stderr.trim()}`);
    if (modes.includes('random')) t.is(report.sent.random, 1_000_000);
    if (modes.includes('sources')) t.is(report.sent.sources, 100_000);
    if (modes.includes('nak')) t.true(report.sent.nak > 0, 'the attacker never heard the sender, so it sent no NAK');

    for (const [i, r] of receivers.entries()) {
      const stats = statsLine(r.stderr);
      t.truthy(stats, `${r.label} printed no stats: ${r.stderr.trim()}`);
      if (!stats) continue;
      const nonZero = (o: Record<string, number>) => JSON.stringify(Object.fromEntries(Object.entries(o).filter(([, n]) => n > 0)));
      t.log(`${r.label}: ${stats.received} lines; header rejects ${nonZero(stats.rejects)}; invalid ${nonZero(stats.protocol.invalidByReason)}; limits ${nonZero(stats.protocol.limited)}; NAKs sent ${stats.protocol.naksSent}, repairs received ${stats.protocol.repairsReceived}; warnings ${stats.warnings.length}`);
      const output = Buffer.concat(r.chunks);
      t.true(output.equals(SENT), `${r.label} did not print exactly the sent lines (${output.length} of ${SENT.length} bytes)`);
      t.deepEqual(stats.losses, [], `${r.label} reported loss`);
      t.is(stats.sources.length, 1, `${r.label} heard sources ${stats.sources.join(', ')}`);
      t.is(receiverExits[i]!.code, 0, `${r.label}: ${r.stderr.trim()}`);
      if (modes.includes('random')) t.true(stats.rejects['bad-magic']! > 0);
      if (modes.includes('headers')) {
        for (const reason of ['bad-version', 'bad-length', 'unknown-type', 'bad-sequence']) t.true(stats.rejects[reason]! > 0, `${r.label} ${reason}`);
        t.true(stats.protocol.invalid > 0);
      }
      if (modes.includes('sources')) t.true(stats.protocol.limited['sources-evicted']! > 0);
    }
  });
}

labTest.serial('three receivers on lossy hosts print all 100,000 lines exactly while an attacker floods random datagrams, broken headers, 100,000 fake sources and NAKs for everything', async (t) => {
  await attackedStream(t, 'random,headers,sources,nak');
});

// The keyed part goes here once groups can be encrypted (issue 6, item 1): the same run against a group
// opened with a key, with the attacker's 'forge' and 'replay' modes added. Forged DATA for the real
// session and replays of captured datagrams are only rejected by a keyed group (a clear group cannot
// tell a forged datagram from a real one); the test then also asserts that nothing forged is delivered
// and that the receivers count the forgeries and replays under their own reject reasons.
