/**
 * `blipcast members` as a user runs it, on loopback (127.0.0.1, TTL 0, a
 * random 239.255.x group and port): the one-shot table, --json, --watch with
 * a clean exit on SIGINT (the others see `leave`, not `dead`), and
 * `listen --name` joining the group too.
 */

import test from 'ava';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

const BIN = join(__dirname, '..', '..', 'bin', 'blipcast.js');

function randomGroup(): string {
  return `239.255.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

const LOOPBACK = ['--interface', '127.0.0.1', '--ttl', '0'];

interface Watcher {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  stderr: string;
  exit: Promise<number | null>;
}

function watch(group: string, name: string, extra: string[] = []): Watcher {
  const child = spawn(process.execPath, [BIN, 'members', group, ...LOOPBACK, '--watch', '--json', '--name', name, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  const w: Watcher = { child, lines: [], stderr: '', exit: new Promise((resolve) => child.once('close', (code) => resolve(code))) };
  let carry = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => {
    const parts = (carry + text).split('\n');
    carry = parts.pop()!;
    for (const p of parts) w.lines.push(JSON.parse(p) as Record<string, unknown>);
  });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (w.stderr += text));
  return w;
}

async function until(what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function events(w: Watcher, event: string, name?: string): Record<string, unknown>[] {
  return w.lines.filter((l) => l['event'] === event && (name === undefined || l['name'] === name));
}

test('members prints the table with itself and the other members, their names and metadata', async (t) => {
  const group = randomGroup();
  const w = watch(group, 'watcher', ['--meta', 'role=observer']);
  try {
    await until('the watcher to start', () => events(w, 'self').length === 1);
    const table = spawnSync(process.execPath, [BIN, 'members', group, ...LOOPBACK, '--name', 'probe', '--meta', 'a=1', '--meta', 'b=x=y'], { encoding: 'utf8', timeout: 20_000 });
    t.is(table.status, 0, table.stderr);
    t.log(table.stdout.trimEnd());
    const rows = table.stdout.trimEnd().split('\n');
    t.regex(rows[0]!, /^ID +NAME +STATE +INC +METADATA$/);
    t.is(rows.length, 3);
    const self = rows.find((r) => r.includes('probe'))!;
    t.regex(self, /^[0-9a-f]{16}\* +probe +alive +0 +a=1 b=x=y$/);
    t.regex(rows.find((r) => r.includes('watcher'))!, /^[0-9a-f]{16} +watcher +alive +0 +role=observer$/);

    const json = spawnSync(process.execPath, [BIN, 'members', group, ...LOOPBACK, '--name', 'probe2', '--json', '--wait', '1.5', '--stats'], { encoding: 'utf8', timeout: 20_000 });
    t.is(json.status, 0, json.stderr);
    const stats = JSON.parse(json.stderr.trim().split('\n').pop()!) as { event: string; group: { announcesSent: number; members: number } };
    t.is(stats.event, 'stats');
    t.true(stats.group.announcesSent >= 1);
    const list = JSON.parse(json.stdout) as { id: string; name: string; state: string; incarnation: number; metadata: Record<string, string>; self: boolean; observer: boolean }[];
    t.false(list.some((m) => m.observer));
    t.deepEqual(list.map((m) => [m.name, m.self, m.state]).sort(), [['probe2', true, 'alive'], ['watcher', false, 'alive']]);
    t.deepEqual(list.find((m) => m.name === 'watcher')!.metadata, { role: 'observer' });
    t.is(list.find((m) => m.name === 'watcher')!.id, events(w, 'self')[0]!['id'] as string);
  } finally {
    w.child.kill('SIGINT');
    t.is(await w.exit, 0, w.stderr);
  }
  // The watcher saw both one-shot members join and leave (they left on exit), and nobody die.
  t.deepEqual(events(w, 'join').map((l) => l['name']), ['probe', 'probe2']);
  t.deepEqual(events(w, 'leave').map((l) => l['name']), ['probe', 'probe2']);
  t.deepEqual(events(w, 'dead'), []);
});

test('members --watch prints joins as they happen and, on SIGINT, leaves so that the others report leave rather than dead', async (t) => {
  const group = randomGroup();
  const a = watch(group, 'a', ['--meta', 'k=v']);
  await until('a to start', () => events(a, 'self').length === 1);
  const b = watch(group, 'b');
  try {
    await until('a to see b join', () => events(a, 'join', 'b').length === 1);
    await until('b to see a join', () => events(b, 'join', 'a').length === 1);
    const bSelf = events(b, 'self')[0]!;
    t.is(events(a, 'join', 'b')[0]!['id'], bSelf['id'], 'the id a reports is the id b reports for itself');
    t.like(events(b, 'join', 'a')[0], { metadata: { k: 'v' }, state: 'alive', incarnation: 0, self: false, missed: 0 });
    const interruptedMs = Date.now();
    b.child.kill('SIGINT');
    t.is(await b.exit, 0, b.stderr);
    await until('a to see b leave', () => events(a, 'leave', 'b').length === 1, 3000);
    t.log(`a reported b's leave ${Date.now() - interruptedMs} ms after SIGINT`);
    t.deepEqual(events(a, 'dead'), []);
    t.deepEqual(events(a, 'suspect'), []);
  } finally {
    a.child.kill('SIGINT');
    b.child.kill('SIGINT');
  }
  t.is(await a.exit, 0, a.stderr);
});

test('listen --name joins the group: members lists it with its metadata', async (t) => {
  const group = randomGroup();
  const listener = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--name', 'reader', '--meta', 'service=logs', '--timeout', '20'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    const r = spawnSync(process.execPath, [BIN, 'members', group, ...LOOPBACK, '--name', 'probe', '--json'], { encoding: 'utf8', timeout: 20_000 });
    t.is(r.status, 0, r.stderr);
    const list = JSON.parse(r.stdout) as { name: string; metadata: Record<string, string> }[];
    t.deepEqual(list.find((m) => m.name === 'reader')?.metadata, { service: 'logs' });
  } finally {
    listener.kill('SIGTERM');
  }
});

const badArgs: [string, string[], RegExp][] = [
  ['--meta without =', ['--meta', 'novalue'], /--meta must be KEY=VALUE/],
  ['--meta with the same key twice', ['--meta', 'a=1', '--meta', 'a=2'], /given twice/],
  ['--wait with --watch', ['--watch', '--wait', '1'], /--wait/],
  ['a negative --wait', ['--wait=-1'], /--wait must be a number of seconds from 0 to 2147483 \(got -1\)/],
];
for (const [what, args, message] of badArgs) {
  test(`members with ${what} is a one-line error with exit code 2`, (t) => {
    const r = spawnSync(process.execPath, [BIN, 'members', randomGroup(), ...LOOPBACK, ...args], { encoding: 'utf8', timeout: 20_000 });
    t.is(r.status, 2);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, message);
  });
}

/** A `blipcast` child with its output collected. (The tests below are serial: each starts several Node processes, and all at once they crowd a loaded 2-core machine.) */
function run(args: string[], stdin: 'pipe' | 'ignore' = 'ignore'): { child: ChildProcess; out: { stdout: string; stderr: string }; exit: Promise<number | null> } {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: [stdin, 'pipe', 'pipe'] });
  const out = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (text: string) => (out.stdout += text));
  child.stderr!.setEncoding('utf8').on('data', (text: string) => (out.stderr += text));
  return { child, out, exit: new Promise((resolve) => child.once('close', (code) => resolve(code))) };
}

test.serial('SIGTERM on send --name ends its input, flushes and leaves the group: a listener has every line, the others see leave, exit 0 with --stats', async (t) => {
  const group = randomGroup();
  const w = watch(group, 'watcher');
  const listener = run(['listen', group, ...LOOPBACK, '--count', '3', '--timeout', '20']);
  try {
    await until('the watcher to start', () => events(w, 'self').length === 1);
    await sleep(300); // the listener joins
    const sender = run(['send', group, ...LOOPBACK, '--name', 'shipper', '--close-quiet', '0.3', '--stats'], 'pipe');
    sender.child.stdin!.write('one\ntwo\nthree\n'); // stdin stays open: only the signal ends the input
    await until('the sender to join', () => events(w, 'join', 'shipper').length === 1);
    await until('the listener to print three lines', () => listener.out.stdout.split('\n').length > 3);
    sender.child.kill('SIGTERM');
    t.is(await sender.exit, 0, sender.out.stderr);
    t.is(await listener.exit, 0, listener.out.stderr);
    t.is(listener.out.stdout, 'one\ntwo\nthree\n');
    await until('the others to see shipper leave', () => events(w, 'leave', 'shipper').length === 1);
    t.deepEqual(events(w, 'dead', 'shipper'), []);
    const stats = JSON.parse(sender.out.stderr.trim().split('\n').pop()!) as { event: string; channel: { messagesWritten: number }; close: { givenUp: number } };
    t.is(stats.event, 'stats');
    t.is(stats.channel.messagesWritten, 3);
    t.is(stats.close.givenUp, 0);
  } finally {
    w.child.kill('SIGINT');
    listener.child.kill('SIGKILL');
    await w.exit;
  }
});

test.serial('SIGINT on listen --name leaves the group cleanly (leave, not dead) and exits 0', async (t) => {
  const group = randomGroup();
  const w = watch(group, 'watcher');
  try {
    await until('the watcher to start', () => events(w, 'self').length === 1);
    const listener = run(['listen', group, ...LOOPBACK, '--name', 'reader', '--stats']);
    await until('the listener to join', () => events(w, 'join', 'reader').length === 1);
    listener.child.kill('SIGINT');
    t.is(await listener.exit, 0, listener.out.stderr);
    await until('the others to see reader leave', () => events(w, 'leave', 'reader').length === 1);
    t.deepEqual(events(w, 'dead', 'reader'), []);
    t.is((JSON.parse(listener.out.stderr.trim().split('\n').pop()!) as { event: string }).event, 'stats');
  } finally {
    w.child.kill('SIGINT');
    await w.exit;
  }
});

test.serial('send exits 3 and names the receiver it gave up on when a listener stops for good before it has everything', async (t) => {
  const group = randomGroup();
  const listener = run(['listen', group, ...LOOPBACK, '--timeout', '30']);
  try {
    await sleep(300);
    const sender = run(['send', group, ...LOOPBACK, '--linger', '1', '--close-quiet', '0.2'], 'pipe');
    sender.child.stdin!.write('first\n');
    await until('the listener to print the first line', () => listener.out.stdout === 'first\n');
    await sleep(300); // its status reaches the sender: a known receiver
    listener.child.kill('SIGSTOP'); // stopped for good: no goodbye
    sender.child.stdin!.end('second\nthird\n');
    t.is(await sender.exit, 3, sender.out.stderr);
    const lines = sender.out.stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    t.is(lines.length, 1, sender.out.stderr);
    t.is(lines[0]!['event'], 'receiver-given-up');
    t.is(lines[0]!['reason'], 'linger');
    t.is(lines[0]!['missing'], 2);
    t.is(lines[0]!['address'], '127.0.0.1');
  } finally {
    listener.child.kill('SIGKILL');
    await listener.exit;
  }
});
