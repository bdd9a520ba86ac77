/**
 * blipcast/winston (src/logs/winston.ts) over the log sender: real child
 * processes logging with winston, real sockets on loopback, a collector
 * channel in the test.
 */

import test from 'ava';
import { setTimeout as sleep } from 'node:timers/promises';
import winston from 'winston';
import TransportStream from 'winston-transport';
import { InvalidArgumentTypeError, InvalidArgumentValueError, UnknownInterfaceError } from '../src/index';
import { BlipcastTransport, closeLogger, createBlipcastTransport } from '../src/logs/winston';
import { checkGaps, loopbackOptions, openCollector, randomGroup, runChild, type ChildResult } from './fixtures/logs-harness';
import { recordMessage } from './fixtures/logs-records';

const COUNT = 10_000;
const MESSAGE = Symbol.for('message');

/** What winston's format.json() makes of the fixture's calls. */
function winstonLines(count: number): string[] {
  const lines: string[] = [];
  const capture = new TransportStream({ log: (info: Record<symbol, string>, next: () => void) => { lines.push(info[MESSAGE]!); next(); } });
  const logger = winston.createLogger({ format: winston.format.json(), transports: [capture] });
  for (let i = 0; i < count; i++) logger.info(recordMessage(i), { i });
  return lines;
}

/** ms from the child's `{"closeAt"}` line to its exit. */
function closeMs(child: ChildResult): number {
  const line = child.stdout.split('\n').find((l) => l.startsWith('{"closeAt"'));
  return child.goneAt - (JSON.parse(line!) as { closeAt: number }).closeAt;
}

test.serial('a process that logs 10,000 calls and awaits closeLogger() delivers every one, in order, as its format wrote it', async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  try {
    const child = await runChild('logs-winston-child', ['--options', JSON.stringify(loopbackOptions(group)), '--count', String(COUNT)]);
    t.is(child.code, 0, child.stderr);
    const ms = closeMs(child);
    t.log(`closed and gone ${ms} ms after closeLogger()`);
    t.true(ms < 5000, `${ms} ms`);
    t.is(collector.lines.length, COUNT);
    t.deepEqual(collector.lines, winstonLines(COUNT));
  } finally {
    await collector.close();
  }
});

test.serial("logger.end() and the logger's 'finish' wait for the transport's close", async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  try {
    const child = await runChild('logs-winston-child', ['--options', JSON.stringify(loopbackOptions(group)), '--count', '2000', '--wait', 'finish']);
    t.is(child.code, 0, child.stderr);
    t.deepEqual(collector.lines, winstonLines(2000));
  } finally {
    await collector.close();
  }
});

test.serial('with no collector listening, closeLogger() returns promptly', async (t) => {
  const child = await runChild('logs-winston-child', ['--options', JSON.stringify(loopbackOptions(randomGroup())), '--count', '1000']);
  t.is(child.code, 0, child.stderr);
  const ms = closeMs(child);
  t.log(`closed and gone ${ms} ms after closeLogger()`);
  t.true(ms < 3000, `${ms} ms`);
});

test.serial('calls the buffer cannot hold are dropped, and dropped lines count them exactly where they are missing', async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  try {
    const transport = await createBlipcastTransport({ ...loopbackOptions(group), rateBytesPerSec: 100_000, maxBufferBytes: 4096 });
    const logger = winston.createLogger({ format: winston.format.json(), transports: [transport] });
    const burst = 3000;
    const bursts = 3;
    for (let b = 0; b < bursts; b++) {
      if (b > 0) await sleep(700);
      for (let i = b * burst; i < (b + 1) * burst; i++) logger.info(recordMessage(i % 999), { i });
    }
    await closeLogger(logger);
    const stats = transport.stats();
    const { delivered, dropped, droppedLines, error } = checkGaps(collector.lines, burst * bursts);
    t.log(`${delivered} delivered + ${dropped} dropped (${droppedLines} dropped lines)`);
    t.is(error, undefined);
    t.is(delivered, stats.recordsWritten);
    t.is(dropped, stats.recordsDropped);
    t.is(delivered + dropped, burst * bursts);
    t.true(droppedLines >= 2, `${droppedLines} dropped line(s)`);
    t.is(stats.close?.givenUpCount, 0);
  } finally {
    await collector.close();
  }
});

test('one message per log call: the line its format made, else the info as JSON', async (t) => {
  const group = randomGroup();
  const collector = await openCollector(group);
  try {
    const transport = await createBlipcastTransport(loopbackOptions(group));
    const logger = winston.createLogger({
      format: winston.format.printf((info) => `${info.level}: ${String(info.message)}\nsecond line`),
      transports: [transport],
    });
    logger.info('hello');
    logger.warn('there');
    transport.log({ level: 'info', message: 'no format' }, () => undefined);
    await closeLogger(logger);
    t.deepEqual(collector.lines, ['info: hello\nsecond line', 'warn: there\nsecond line', '{"level":"info","message":"no format"}']);
  } finally {
    await collector.close();
  }
});

test('bad options throw typed errors that name the option; a channel that cannot open fails at start', async (t) => {
  const base = loopbackOptions(randomGroup());
  t.throws(() => new BlipcastTransport({} as never), { instanceOf: InvalidArgumentTypeError, message: /options\.group is required/ });
  t.throws(() => new BlipcastTransport({ ...base, maxBufferBytes: -1 }), { instanceOf: InvalidArgumentValueError, message: /options\.maxBufferBytes/ });
  t.throws(() => new BlipcastTransport({ ...base, bogus: 1 } as never), { instanceOf: InvalidArgumentValueError, message: /unknown option 'bogus'/ });
  // winston's own options are not the sender's.
  const quiet = new BlipcastTransport({ ...base, level: 'warn', silent: true });
  await quiet.ready;
  await quiet.close();
  await t.throwsAsync(createBlipcastTransport({ ...base, interface: 'no-such-if0' }), { instanceOf: UnknownInterfaceError });
  // Constructed directly, the failure is an 'error' on the logger (an application without a handler dies of it at start).
  const transport = new BlipcastTransport({ ...base, interface: 'no-such-if0' });
  const logger = winston.createLogger({ transports: [transport] });
  const err = await new Promise<Error>((resolve) => logger.once('error', resolve));
  t.true(err instanceof UnknownInterfaceError);
  // And it never throws at run time: calls are dropped and counted.
  t.notThrows(() => logger.info('lost'));
  await closeLogger(logger);
  t.is(transport.stats().state, 'failed');
  t.is(transport.stats().recordsDropped, 1);
});
