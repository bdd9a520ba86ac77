/** `blipcast send`: each stdin line becomes one reliable message. */

import { open } from '../channel';
import { intOption, parseCommand, secondsOption } from './args';
import { keyOption, transportOption } from './common';
import { MEMBER_OPTIONS, memberOption } from './members';
import { USAGE } from './usage';

const OPTIONS = {
  ...MEMBER_OPTIONS,
  'key-file': { type: 'string' },
  rate: { type: 'string' },
  linger: { type: 'string' },
} as const;

export async function send(args: string[], io: { stdin: NodeJS.ReadableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand(args, OPTIONS);
  if (values.help) {
    io.stderr.write(USAGE);
    return 0;
  }
  const ttl = intOption(values, 'ttl', 0, 255);
  const rate = intOption(values, 'rate', 1, Number.MAX_SAFE_INTEGER);
  const lingerMs = secondsOption(values, 'linger') ?? 5000;
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
  });
  channel.on('error', (err: Error) => io.stderr.write(`blipcast: ${err.message}\n`));
  await pumpLines(io.stdin, (line) => channel.write(line, stream), (resume) => channel.once('drain', resume));
  await channel.close();
  return 0;
}

/**
 * Splits a byte stream into lines (without the newline) and hands each to
 * `write`; when `write` returns false the input is paused until `onDrain` calls back.
 * A last line without a newline is still a line.
 */
export function pumpLines(input: NodeJS.ReadableStream, write: (line: Buffer) => boolean, onDrain: (resume: () => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let carry: Buffer | undefined;
    let blocked = false;
    input.on('data', (chunk: Buffer | string) => {
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
        onDrain(() => input.resume());
      }
    });
    input.on('end', () => {
      if (carry && carry.length > 0) write(carry);
      resolve();
    });
    input.on('error', reject);
  });
}
