/** `blipcast send`: each stdin line becomes one reliable message. */

import { open, type CloseResult } from '../index';
import { intOption, parseCommand, secondsOption } from './args';
import { keyOption, onStopSignal, statsLine, transportOption } from './common';
import { MEMBER_OPTIONS, memberOption } from './members';

const OPTIONS = {
  ...MEMBER_OPTIONS,
  'key-file': { type: 'string' },
  rate: { type: 'string' },
  linger: { type: 'string' },
  'close-quiet': { type: 'string' },
  stats: { type: 'boolean' },
} as const;

/** Exit code of `send` when some receiver it heard was given up before it acknowledged everything. */
export const EXIT_RECEIVERS_GIVEN_UP = 3;

export async function send(args: string[], io: { stdin: NodeJS.ReadableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('send', args, OPTIONS);
  const ttl = intOption(values, 'ttl', 0, 255);
  const rate = intOption(values, 'rate', 1, Number.MAX_SAFE_INTEGER);
  const lingerMs = secondsOption(values, 'linger') ?? 5000;
  const closeQuietMs = secondsOption(values, 'close-quiet');
  const stream = typeof values.stream === 'string' ? values.stream : '';
  const channel = await open({
    group: groupText,
    ...(typeof values.interface === 'string' ? { interface: values.interface } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(rate !== undefined ? { rateBytesPerSec: rate } : {}),
    ...transportOption(values),
    ...memberOption(values),
    ...keyOption(values, process.env, io.stderr),
    lingerMs,
    ...(closeQuietMs !== undefined ? { closeQuietMs } : {}),
  });
  channel.on('error', (err: Error) => io.stderr.write(`blipcast: ${err.message}\n`));
  // It only writes: deliver nothing (other senders' messages are not kept for a reader that never comes).
  channel.unsubscribe(stream);
  // Ctrl-C / SIGTERM: the input ends here, and the close that follows is the same as at end of input.
  const stopInput = new AbortController();
  const unhook = onStopSignal(() => stopInput.abort());
  let result: CloseResult;
  try {
    await pumpLines(io.stdin, (line) => channel.write(line, stream), (resume) => channel.once('drain', resume), stopInput.signal);
    result = await channel.close();
  } finally {
    unhook();
  }
  for (const g of result.givenUp) {
    io.stderr.write(JSON.stringify({ event: 'receiver-given-up', receiver: g.receiver.id, address: g.receiver.address ?? null, port: g.receiver.port ?? null, reason: g.reason, missing: g.missing }) + '\n');
  }
  if (result.givenUpCount > result.givenUp.length) {
    io.stderr.write(JSON.stringify({ event: 'receivers-given-up-unlisted', count: result.givenUpCount - result.givenUp.length }) + '\n');
  }
  if (values.stats === true) io.stderr.write(statsLine(channel.stats(), { close: { ...result, flushed: result.flushedCount, givenUp: result.givenUpCount, left: result.leftCount } }));
  return result.givenUpCount > 0 ? EXIT_RECEIVERS_GIVEN_UP : 0;
}

/**
 * Splits a byte stream into lines (without the newline) and hands each to
 * `write`; when `write` returns false the input is paused until `onDrain` calls back.
 * A last line without a newline is still a line. `stop` ends the input early
 * (what was read so far is written; the partial line too).
 */
export function pumpLines(input: NodeJS.ReadableStream, write: (line: Buffer) => boolean, onDrain: (resume: () => void) => void, stop?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    let carry: Buffer | undefined;
    let blocked = false;
    let ended = false;
    const end = (): void => {
      if (ended) return;
      ended = true;
      input.removeListener('data', onData);
      input.pause();
      if (carry && carry.length > 0) write(carry);
      resolve();
    };
    stop?.addEventListener('abort', end, { once: true });
    const onData = (chunk: Buffer | string): void => {
      let buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      if (carry) {
        buf = Buffer.concat([carry, buf]);
        carry = undefined;
      }
      let start = 0;
      let nl: number;
      while ((nl = buf.indexOf(10, start)) !== -1) {
        if (!write(buf.subarray(start, nl))) blocked = true;
        start = nl + 1;
      }
      if (start < buf.length) carry = Buffer.from(buf.subarray(start));
      if (blocked) {
        blocked = false;
        input.pause();
        onDrain(() => {
          if (!ended) input.resume();
        });
      }
    };
    input.on('data', onData);
    input.on('end', end);
    input.on('error', reject);
  });
}
