/**
 * `blipcast top` as processes on loopback: it finds the receiver that is
 * behind (a listener whose output nobody reads) at the top of its list, sees
 * every member and source, never holds a sender back, prints plain blocks when
 * its output is not a terminal, and rejects bad arguments with exit 2.
 */

import test from 'ava';
import type { GroupSnapshot } from '../src/observe/types';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, LOOPBACK, randomGroup, run, start, until } from './helpers/cli';

/** Lines for a sender: enough for the whole test at the rate it is held to. */
const LINES = Buffer.from('x'.repeat(99) + '\n').toString().repeat(200_000);

test('top --once --json: the stalled listener is first, behind; the healthy one is not; every member and the source are there', async (t) => {
  const group = randomGroup();
  const fast = start(t, ['listen', group, ...LOOPBACK, '--name', 'fast']);
  // Its output goes to a pipe nobody reads: once the pipe is full, it stops reading, and its unread messages pile up.
  const slow = spawn('/bin/sh', ['-c', `exec "${process.execPath}" "${BIN}" listen ${group} ${LOOPBACK.join(' ')} --name slow | sleep 60`], { stdio: 'ignore', detached: true });
  t.teardown(() => {
    try {
      process.kill(-slow.pid!, 'SIGKILL');
    } catch {
      // already gone
    }
  });
  await new Promise((r) => setTimeout(r, 500));
  const sender = start(t, ['send', group, ...LOOPBACK, '--name', 'sender', '--rate', '2000000', '--linger', '0'], { input: LINES });
  await new Promise((r) => setTimeout(r, 1500));
  const top = start(t, ['top', group, ...LOOPBACK, '--once', '--json', '--wait', '3']);
  const { code } = await top.exit;
  t.is(code, 0, top.stderr());
  const snap = JSON.parse(top.stdout()) as GroupSnapshot;
  t.is(snap.group, group);
  const names = snap.members.map((m) => m.name).sort();
  t.deepEqual(names, ['blipcast-top', 'fast', 'sender', 'slow']);
  t.true(snap.members.find((m) => m.name === 'blipcast-top')!.self);
  t.deepEqual(snap.sources.map((s) => s.name), ['sender']);
  t.true(snap.sources[0]!.messagesPerSec > 1000, `${snap.sources[0]!.messagesPerSec} msgs/s`);
  const rx = snap.receivers.filter((r) => r.sourceName === 'sender');
  t.deepEqual(rx.map((r) => r.name).sort(), ['fast', 'slow']);
  t.is(rx[0]!.name, 'slow', JSON.stringify(rx));
  t.true(rx[0]!.readBacklogBytes > 1_000_000, `slow has ${rx[0]!.readBacklogBytes} bytes unread`);
  t.true(rx[1]!.readBacklogBytes < 100_000, `fast has ${rx[1]!.readBacklogBytes} bytes unread`);
  t.true(rx.every((r) => r.lastHeardMsAgo < 1000), 'both still report');
  t.false(snap.receivers.some((r) => r.name === 'blipcast-top'), 'top itself never reports as a receiver');
  for (const p of [fast, sender]) p.child.kill('SIGKILL');
});

test('top without a terminal prints one plain block per interval and exits 0 on SIGTERM, with --stats', async (t) => {
  const group = randomGroup();
  const listener = start(t, ['listen', group, ...LOOPBACK, '--name', 'l1']);
  const sender = start(t, ['send', group, ...LOOPBACK, '--name', 's1', '--rate', '200000', '--linger', '0'], { input: LINES });
  const top = start(t, ['top', group, ...LOOPBACK, '--interval', '0.3', '--stats']);
  await until('two blocks naming l1 and s1', () => (top.stdout().match(/^blipcast top /gm) ?? []).length >= 3 && /l1 \(/.test(top.stdout()) && /s1 \(/.test(top.stdout()), 20_000);
  top.child.kill('SIGTERM');
  const { code } = await top.exit;
  t.is(code, 0);
  t.false(top.stdout().includes('\x1b['), 'no terminal escapes when stdout is a pipe');
  t.regex(top.stdout(), /RECEIVERS \(worst first\)[\s\S]*SOURCES[\s\S]*MEMBERS/);
  const stats = JSON.parse(top.stderr().trim().split('\n').pop()!) as { event: string; protocol: { statusSent: number; naksSent: number } };
  t.is(stats.event, 'stats');
  t.is(stats.protocol.statusSent, 0, 'a passive observer sends no status');
  t.is(stats.protocol.naksSent, 0);
  for (const p of [listener, sender]) p.child.kill('SIGKILL');
});

test('on an encrypted group top sees the members and the source with --key-file, and without it says the traffic is encrypted', async (t) => {
  const group = randomGroup();
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-top-key-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keyFile = join(dir, 'group.key');
  writeFileSync(keyFile, randomBytes(32).toString('hex'), { mode: 0o600 });
  const key = ['--key-file', keyFile];
  const listener = start(t, ['listen', group, ...LOOPBACK, ...key, '--name', 'l1']);
  const sender = start(t, ['send', group, ...LOOPBACK, ...key, '--name', 's1', '--rate', '200000', '--linger', '0'], { input: LINES });
  await until('the listener to print', () => listener.stdout().length > 0, 20_000);
  const withKey = start(t, ['top', group, ...LOOPBACK, ...key, '--once', '--json', '--wait', '2.5']);
  const without = start(t, ['top', group, ...LOOPBACK, '--once', '--json', '--wait', '2.5']);
  const [a, b] = await Promise.all([withKey.exit, without.exit]);
  t.is(a.code, 0, withKey.stderr());
  t.is(b.code, 0, without.stderr());
  const seen = JSON.parse(withKey.stdout()) as GroupSnapshot;
  t.deepEqual(seen.sources.map((s) => s.name), ['s1']);
  t.true(seen.receivers.some((r) => r.name === 'l1' && r.sourceName === 's1'));
  const blind = JSON.parse(without.stdout()) as GroupSnapshot;
  t.deepEqual(blind.sources, []);
  t.deepEqual(blind.receivers, []);
  t.regex(without.stderr(), /encrypted .*--key-file/);
  for (const p of [listener, sender]) p.child.kill('SIGKILL');
});

for (const [args, message] of [
  [['top'], /missing GROUP:PORT/],
  [['top', '239.255.0.1:5000', '--wait', '2'], /--wait applies to --once/],
  [['top', '239.255.0.1:5000', '--stream', 'x'], /--stream does not apply/],
  [['top', '239.255.0.1:5000', '--interval', '0.01'], /--interval/],
  [['top', '10.0.0.1:5000'], /multicast/],
] as const) {
  test(`blipcast ${args.join(' ')} is a usage error (exit 2)`, (t) => {
    const r = run([...args]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
  });
}

test('blipcast top --help prints its usage and exits 0', (t) => {
  const r = run(['top', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /Usage: blipcast top GROUP:PORT/);
});
