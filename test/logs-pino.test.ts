/**
 * blipcast/pino and the log sender under it (src/logs/sender.ts, pino.ts):
 * real child processes logging with pino through `target: 'blipcast/pino'`,
 * real sockets on loopback, a collector channel in the test.
 */

import test from 'ava';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { InvalidArgumentTypeError, InvalidArgumentValueError, NotMulticastError, UnknownInterfaceError } from '../src/index';
import { spawn } from 'node:child_process';
import { LOG_COLLECTOR_ROLE, LOG_SOURCE_ROLE } from '../src/logs/format';
import { createLogSender, DEFAULT_LOG_CLOSE_QUIET_MS, DEFAULT_LOG_CLOSE_TIMEOUT_MS, DEFAULT_LOG_LINGER_MS, LogSender } from '../src/logs/sender';
import blipcastPinoTransport from '../src/logs/pino';
import { checkGaps, loopbackOptions, openCollector, randomGroup, ROOT, runChild } from './fixtures/logs-harness';
import { recordMessage } from './fixtures/logs-records';

const COUNT = 10_000;
/** A child's exit after process.exit() with collectors that keep up: flush, pino's 100 ms sleep, the close (closeQuietMs 500). Loose: 2 shared cores. */
const EXIT_BOUND_MS = 5000;

/** What pino writes for the fixture's records (same options: no time, no pid), without the newlines. */
function pinoLines(count: number): string[] {
  const lines: string[] = [];
  const logger = pino({ base: null, timestamp: false }, { write: (s: string) => void lines.push(s.endsWith('\n') ? s.slice(0, -1) : s) });
  for (let i = 0; i < count; i++) logger.info({ i }, recordMessage(i));
  return lines;
}

test.serial('a process that logs 10,000 records and calls process.exit() at once delivers every one, in order, as pino wrote it, to each of two collectors', async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  const second = await openCollector(group);
  try {
    const child = await runChild('logs-pino-child', ['--options', JSON.stringify(loopbackOptions(group)), '--count', String(COUNT)]);
    t.is(child.code, 0, child.stderr);
    t.truthy(child.exitAt);
    const exitMs = child.goneAt - child.exitAt!;
    t.log(`gone ${exitMs} ms after process.exit()`);
    t.true(exitMs < EXIT_BOUND_MS, `gone ${exitMs} ms after process.exit()`);
    // Everything was acknowledged before the child's close ended: nothing is still on its way.
    t.is(collector.lines.length, COUNT);
    const expected = pinoLines(COUNT);
    t.deepEqual(collector.lines, expected);
    t.deepEqual(second.lines, expected);
  } finally {
    await Promise.all([collector.close(), second.close()]);
  }
});

test.serial('targets: [blipcast/pino, pino/file] sends the same lines the file gets', async (t) => {
  const group = randomGroup();
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-logs-'));
  const file = join(dir, 'log.ndjson');
  const collector = await openCollector(group);
  try {
    const child = await runChild('logs-pino-child', ['--options', JSON.stringify(loopbackOptions(group)), '--count', String(COUNT), '--mode', 'targets', '--file', file]);
    t.is(child.code, 0, child.stderr);
    const fileLines = readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
    t.is(fileLines.length, COUNT);
    t.deepEqual(collector.lines, fileLines);
  } finally {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test.serial('with no collector listening, a process exits promptly after process.exit()', async (t) => {
  const group = randomGroup();
  const child = await runChild('logs-pino-child', ['--options', JSON.stringify(loopbackOptions(group)), '--count', '1000']);
  t.is(child.code, 0, child.stderr);
  const exitMs = child.goneAt - child.exitAt!;
  t.log(`gone ${exitMs} ms after process.exit() (closeQuietMs ${DEFAULT_LOG_CLOSE_QUIET_MS})`);
  t.true(exitMs < 3000, `gone ${exitMs} ms after process.exit()`);
});

test.serial('a collector that stopped (SIGSTOP) holds the exit for about lingerMs, not more', async (t) => {
  const group = randomGroup();
  // A collector process, a member: known to the sender while the first records flow, then stopped before the last ones.
  const collector = spawn(process.execPath, [join(ROOT, 'bin', 'blipcast.js'), 'listen', group, '--interface', '127.0.0.1', '--ttl', '0', '--stream', 'logs', '--name', 'stopped', '--meta', `role=${LOG_COLLECTOR_ROLE}`], { stdio: 'ignore' });
  try {
    await sleep(500);
    const running = runChild('logs-pino-child', ['--options', JSON.stringify(loopbackOptions(group)), '--count', '100', '--linger-ms', '5000', '--count-after', '1000']);
    await sleep(3500);
    collector.kill('SIGSTOP');
    const child = await running;
    t.is(child.code, 0, child.stderr);
    const exitMs = child.goneAt - child.exitAt!;
    t.log(`gone ${exitMs} ms after process.exit() (lingerMs ${DEFAULT_LOG_LINGER_MS}, closeTimeoutMs ${DEFAULT_LOG_CLOSE_TIMEOUT_MS})`);
    // With nobody to wait for it is ~0.7 s (the tests above); the linger clock may start at the collector's last progress, before the close.
    t.true(exitMs >= 0.75 * DEFAULT_LOG_LINGER_MS, `${exitMs} ms: it waited for the stopped collector`);
    t.true(exitMs < DEFAULT_LOG_CLOSE_TIMEOUT_MS, `${exitMs} ms`);
  } finally {
    collector.kill('SIGCONT');
    collector.kill('SIGKILL');
  }
});

test.serial('records the buffer cannot hold are dropped, and dropped lines count them exactly where they are missing', async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  try {
    // 50 kB/s: the channel takes 64 KiB (its smallest send queue), the sender 8 KiB more, and the rest of ~540 kB is dropped.
    const options = { ...loopbackOptions(group), rateBytesPerSec: 50_000, maxBufferBytes: 8192 };
    const child = await runChild('logs-pino-child', ['--options', JSON.stringify(options), '--count', String(COUNT)]);
    t.is(child.code, 0, child.stderr);
    const { delivered, dropped, droppedLines, error } = checkGaps(collector.lines, COUNT);
    t.log(`${delivered} delivered + ${dropped} dropped (${droppedLines} dropped lines), gone ${child.goneAt - child.exitAt!} ms after process.exit()`);
    t.is(error, undefined);
    t.is(delivered + dropped, COUNT);
    t.true(dropped > 0 && delivered > 0);
    // What was delivered is pino's JSON of those records.
    const expected = pinoLines(COUNT);
    for (const line of collector.lines) {
      const v = JSON.parse(line) as { i?: number; blipcast?: string };
      if (v.blipcast === undefined && line !== expected[v.i!]) t.fail(`record ${v.i} differs: ${line.slice(0, 80)}`);
    }
  } finally {
    await collector.close();
  }
});

test.serial('an unknown interface fails the application loudly at start', async (t) => {
  const options = { ...loopbackOptions(randomGroup()), interface: 'no-such-if0' };
  const child = await runChild('logs-pino-child', ['--options', JSON.stringify(options), '--count', '10', '--linger-ms', '5000'], 20_000);
  t.not(child.code, 0);
  t.is(child.exitAt, undefined, 'it failed before its own exit');
  t.regex(child.stderr, /unknown network interface: no-such-if0/);
});

test('write() never throws or blocks: past the buffer records are dropped and counted, and the collector is told exactly', async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  try {
    // 100 kB/s: the channel's send queue is 100 kB ('drain' below half), the sender holds 4 KiB more.
    const sender = await createLogSender({ ...loopbackOptions(group), rateBytesPerSec: 100_000, maxBufferBytes: 4096 });
    const burst = 3000; // ~120 kB, a burst beyond what the channel and the buffer hold: a gap in each
    const bursts = 3;
    const n = burst * bursts;
    for (let b = 0; b < bursts; b++) {
      if (b > 0) await sleep(700);
      for (let i = b * burst; i < (b + 1) * burst; i++) t.notThrows(() => sender.write(JSON.stringify({ i, msg: recordMessage(i % 999) })));
      const during = sender.stats();
      t.is(during.recordsWritten + during.recordsQueued + during.recordsDropped, (b + 1) * burst);
      t.true(during.queuedBytes <= 4096);
    }
    t.true(sender.stats().recordsDropped > 0);
    const after = await sender.close();
    t.is(after.recordsWritten + after.recordsDropped, n);
    t.is(after.recordsQueued, 0);
    t.false(after.closeTimedOut);
    t.is(after.close?.givenUpCount, 0);
    t.is(after.state, 'closed');
    const { delivered, dropped, droppedLines, error } = checkGaps(collector.lines, n);
    t.is(error, undefined);
    t.is(delivered, after.recordsWritten);
    t.is(dropped, after.recordsDropped);
    t.is(droppedLines, after.droppedLinesWritten);
    t.true(droppedLines >= 2, `${droppedLines} dropped line(s)`);
    // Written after close: dropped and counted, no exception.
    t.notThrows(() => sender.write('late'));
    t.is(sender.stats().droppedAfterClose, 1);
  } finally {
    await collector.close();
  }
});

test('lines written while the channel opens wait in the buffer and go out in order', async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  try {
    const sender = new LogSender(loopbackOptions(group));
    for (let i = 0; i < 100; i++) sender.write(JSON.stringify({ i }));
    t.is(sender.stats().state, 'opening');
    t.is(sender.stats().recordsQueued, 100);
    await sender.ready;
    const after = await sender.close();
    t.is(after.recordsWritten, 100);
    t.deepEqual(collector.lines, Array.from({ length: 100 }, (_, i) => JSON.stringify({ i })));
  } finally {
    await collector.close();
  }
});

test('on an encrypted group (key or keyFile) the sender is a member named by `name`, with role, host and pid', async (t) => {
  const group = randomGroup();
  const key = randomBytes(32);
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-logs-key-'));
  const keyFile = join(dir, 'group.key');
  writeFileSync(keyFile, key.toString('hex'), { mode: 0o600 });
  const collector = await openCollector(group, 'app-logs', { key });
  try {
    const a = await createLogSender({ ...loopbackOptions(group), stream: 'app-logs', key: key.toString('hex'), name: 'api' });
    const b = await createLogSender({ ...loopbackOptions(group), stream: 'app-logs', keyFile, name: 'worker' });
    a.write('{"from":"api"}');
    b.write('{"from":"worker"}');
    await collector.waitFor(2, 10_000);
    const sources = collector.channel.group!.members({ role: LOG_SOURCE_ROLE }).map((m) => ({ name: m.name, pid: m.metadata.pid, host: m.metadata.host }));
    t.deepEqual(sources.sort((x, y) => x.name.localeCompare(y.name)), [
      { name: 'api', pid: String(process.pid), host: hostname() },
      { name: 'worker', pid: String(process.pid), host: hostname() },
    ]);
    await Promise.all([a.close(), b.close()]);
    t.deepEqual([...collector.lines].sort(), ['{"from":"api"}', '{"from":"worker"}']);
    t.is(collector.channel.stats().rejects['keyed-on-clear'], 0);
  } finally {
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad options reject with typed errors that name the option', async (t) => {
  const base = loopbackOptions(randomGroup());
  const cases: Array<[Record<string, unknown>, new (...args: never[]) => Error, RegExp]> = [
    [{}, InvalidArgumentTypeError, /options\.group is required/],
    [{ group: 5 }, InvalidArgumentTypeError, /options\.group must be a string/],
    [{ group: 'nope' }, InvalidArgumentValueError, /options\.group must look like/],
    [{ group: '10.0.0.1:5000' }, NotMulticastError, /options\.group: 10\.0\.0\.1 is not a multicast address/],
    [{ ...base, grup: 1 }, InvalidArgumentValueError, /unknown option 'grup'/],
    [{ ...base, maxBufferBytes: -1 }, InvalidArgumentValueError, /options\.maxBufferBytes must be an integer ≥ 0, got -1/],
    [{ ...base, maxBufferBytes: '8M' }, InvalidArgumentTypeError, /options\.maxBufferBytes must be a number/],
    [{ ...base, lingerMs: 'x' }, InvalidArgumentTypeError, /options\.lingerMs must be a number/],
    [{ ...base, closeTimeoutMs: -5 }, InvalidArgumentValueError, /options\.closeTimeoutMs/],
    [{ ...base, stream: 7 }, InvalidArgumentTypeError, /options\.stream must be a string/],
    [{ ...base, name: '' }, InvalidArgumentValueError, /options\.name/],
    [{ ...base, ttl: 300 }, InvalidArgumentValueError, /options\.ttl/],
    [{ ...base, key: 'abc' }, InvalidArgumentValueError, /options\.key must be 32 bytes or a string of 64 hex digits/],
    [{ ...base, key: new Uint8Array(5) }, InvalidArgumentValueError, /options\.key must hold 32 raw bytes/],
    [{ ...base, keyFile: '/nonexistent/blipcast.key' }, InvalidArgumentValueError, /options\.keyFile: cannot read \/nonexistent\/blipcast\.key: ENOENT/],
    [{ ...base, key: 'a'.repeat(64), keyFile: '/x' }, InvalidArgumentValueError, /options\.key and options\.keyFile/],
    [{ ...base, interface: 'no-such-if0' }, UnknownInterfaceError, /no-such-if0/],
  ];
  for (const [options, type, message] of cases) {
    const err = await t.throwsAsync(createLogSender(options as never), { instanceOf: type, message }, JSON.stringify(options));
    // The key is never quoted.
    if (err !== undefined && typeof options.key === 'string') t.false(err.message.includes(options.key as string));
  }
  // The pino transport's factory: the same errors; what pino and thread-stream add to the options is not an unknown option.
  await t.throwsAsync(blipcastPinoTransport({ ...base, maxBufferBytes: -1 } as never), { instanceOf: InvalidArgumentValueError, message: /options\.maxBufferBytes/ });
  const stream = await blipcastPinoTransport({ ...base, pinoWillSendConfig: true, $context: { threadStreamVersion: 'x' } } as never);
  stream.end();
  await new Promise((resolve) => stream.once('close', resolve));
  t.pass();
});

test('the transport module loads the way pino loads a target: import(), then default (twice for exports.default)', async (t) => {
  // thread-stream and pino's worker: `fn = await import(file)`; `if (typeof fn === 'object') fn = fn.default` twice.
  let fn: unknown = await import('blipcast/pino');
  if (typeof fn === 'object') fn = (fn as { default: unknown }).default;
  if (typeof fn === 'object') fn = (fn as { default: unknown }).default;
  t.is(fn, blipcastPinoTransport);
});
