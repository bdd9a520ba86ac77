/** `blipcast listen`: prints each message followed by a newline, exactly as sent, in order. */

import { once } from 'node:events';
import { open } from '../index';
import { choiceOption, intOption, parseCommand, secondsOption } from './args';
import { hintIfEncrypted, keyOption, onStopSignal, statsLine, transportOption } from './common';
import { MEMBER_OPTIONS, memberOption } from './members';

const OPTIONS = {
  ...MEMBER_OPTIONS,
  'key-file': { type: 'string' },
  from: { type: 'string' },
  count: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  stats: { type: 'boolean' },
} as const;


/** Output is gathered per event-loop turn and written in one call, with stdout back-pressure respected. */
export async function listen(args: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('listen', args, OPTIONS);
  const ttl = intOption(values, 'ttl', 0, 255);
  const count = intOption(values, 'count', 1, Number.MAX_SAFE_INTEGER);
  const timeoutMs = secondsOption(values, 'timeout');
  const lateJoin = choiceOption(values, 'from', ['next', 'earliest'] as const) ?? 'next';
  const stream = typeof values.stream === 'string' ? values.stream : '';
  const json = values.json === true;

  const key = keyOption(values, process.env, io.stderr);
  const channel = await open({
    group: groupText,
    ...(typeof values.interface === 'string' ? { interface: values.interface } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...transportOption(values),
    ...memberOption(values),
    ...key,
    lateJoin,
    lingerMs: 0,
    // Declared, so that its messages say `stream` (an undeclared name would be '#<id>'); only it is delivered.
    streams: stream === '' ? [] : [stream],
  });
  channel.subscribe(stream);
  channel.on('loss', (loss: { source: { id: string }; stream: string; fromSeq: number; toSeq: number; reason: string }) => {
    io.stderr.write(JSON.stringify({ event: 'loss', source: loss.source.id, stream: loss.stream, fromSeq: loss.fromSeq, toSeq: loss.toSeq, reason: loss.reason }) + '\n');
  });
  channel.on('error', (err: Error) => io.stderr.write(`blipcast: ${err.message}\n`));

  let timedOut = false;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    void channel.close();
  }, timeoutMs);
  // Ctrl-C / SIGTERM: stop reading and close (a member leaves the group: the others see 'leave', not 'dead').
  const unhook = onStopSignal(() => void channel.close());

  let received = 0;
  // Without a key, sealed datagrams are dropped and counted: say why nothing arrives.
  const stopHint = key.key !== undefined ? () => undefined : hintIfEncrypted(channel, io.stderr, (stats) => stats.protocol.messagesDelivered);
  const pending: (Buffer | string)[] = [];
  let flushScheduled = false;
  // Set while stdout is over its high-water mark: the loop stops reading the channel until it drains, so a slow
  // consumer of our output holds the channel's readers back (and a 'min' sender with them) instead of our memory growing.
  let stdoutFull: Promise<void> | undefined;
  const flush = (): void => {
    flushScheduled = false;
    if (pending.length === 0) return;
    const ok = io.stdout.write(pending.length === 1 ? pending[0]! : Buffer.concat(pending.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))));
    pending.length = 0;
    if (!ok && stdoutFull === undefined) stdoutFull = once(io.stdout, 'drain').then(() => (stdoutFull = undefined));
  };
  const NEWLINE = Buffer.from('\n');

  try {
    for await (const msg of channel) {
      if (msg.stream !== stream) continue;
      if (json) pending.push(JSON.stringify({ data: msg.data.toString('utf8'), source: msg.source.id, stream: msg.stream, seq: msg.seq }) + '\n');
      else pending.push(msg.data, NEWLINE);
      if (!flushScheduled) {
        flushScheduled = true;
        setImmediate(flush);
      }
      received++;
      if (count !== undefined && received >= count) break;
      if (stdoutFull !== undefined) await stdoutFull;
    }
  } catch (err) {
    if (!timedOut) throw err;
  } finally {
    if (timer) clearTimeout(timer);
    stopHint();
    flush();
    await channel.close();
    unhook();
    if (values.stats === true) io.stderr.write(statsLine(channel.stats()));
  }
  if (timedOut) {
    io.stderr.write(`blipcast: timed out after ${received} message(s)\n`);
    return 1;
  }
  await new Promise<void>((resolve) => io.stdout.write('', () => resolve()));
  return 0;
}
