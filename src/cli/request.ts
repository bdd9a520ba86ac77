/**
 * `blipcast request GROUP:PORT --subject S [PAYLOAD]`: one request on the
 * bus (blipcast/bus), its reply on stdout exactly as received; with
 * `--gather`, the request goes to every server of the subject and each reply
 * is a line `NAME<TAB>REPLY`, the servers that did not answer lines on stderr.
 */

import { BusTimeoutError, NoServerError, RemoteError, type Bus, type BusPayload } from '../bus/index';
import { parseCommand } from './args';
import { BUS_OPTIONS, DISCOVERY_MS, EXIT_NO_SERVER, EXIT_TIMEOUT, flushed, openBusFromOptions, positiveSecondsOption, readAll, requiredValue, withoutTrailingNewline, writeBusStats } from './bus-common';
import { onStopSignal, signalExitCode } from './common';

const OPTIONS = {
  ...BUS_OPTIONS,
  subject: { type: 'string' },
  gather: { type: 'boolean' },
  timeout: { type: 'string' },
} as const;

/** --timeout when none is given: the bus's own default for a request and a gather. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000;
/** The shortest --timeout, ms: the bus takes whole milliseconds from 1. */
const MIN_TIMEOUT_MS = 1;

interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface Call {
  bus: Bus;
  subject: string;
  payload: BusPayload;
  timeoutMs: number;
  signal: AbortSignal;
}

export async function request(args: string[], io: Io): Promise<number> {
  const { groupText, values, extra } = parseCommand('request', args, OPTIONS, 1);
  const subject = requiredValue(values, 'subject', 'SUBJECT (whom to ask)');
  const timeoutMs = positiveSecondsOption(values, 'timeout', MIN_TIMEOUT_MS) ?? DEFAULT_REQUEST_TIMEOUT_MS;
  const payload = extra[0] ?? (await readAll(io.stdin));

  const bus = await openBusFromOptions(groupText, values, io.stderr);
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const unhook = onStopSignal((signal) => {
    stoppedBy = signal;
    stop.abort();
  });
  try {
    const call = { bus, subject, payload, timeoutMs, signal: stop.signal };
    return values.gather === true ? await gatherReplies(call, io) : await requestOne(call, io);
  } catch (err) {
    if (stoppedBy !== undefined) return signalExitCode(stoppedBy);
    throw err;
  } finally {
    await bus.close();
    unhook();
    writeBusStats(bus, values, io.stderr);
  }
}

/** One server's reply, byte for byte; the typed failures as one line and their exit codes. */
async function requestOne(call: Call, io: Io): Promise<number> {
  try {
    const reply = await call.bus.request(call.subject, call.payload, { timeoutMs: call.timeoutMs, signal: call.signal });
    io.stdout.write(reply.data);
    await flushed(io.stdout);
    return 0;
  } catch (err) {
    const code = err instanceof NoServerError ? EXIT_NO_SERVER : err instanceof BusTimeoutError ? EXIT_TIMEOUT : err instanceof RemoteError ? 1 : undefined;
    if (code === undefined) throw err;
    io.stderr.write(`blipcast: ${(err as Error).message}\n`);
    return code;
  }
}

/** Every server's reply as `NAME<TAB>REPLY` as it comes; then who is missing, on stderr. */
async function gatherReplies(call: Call, io: Io): Promise<number> {
  const gather = call.bus.gather(call.subject, call.payload, { deadlineMs: call.timeoutMs, signal: call.signal });
  try {
    for await (const reply of gather) io.stdout.write(Buffer.concat([Buffer.from(`${reply.from.name}\t`), withoutTrailingNewline(reply.data), Buffer.from('\n')]));
  } catch (err) {
    if (!(err instanceof NoServerError)) throw err;
    io.stderr.write(`blipcast: ${err.message}\n`);
    return EXIT_NO_SERVER;
  }
  const summary = await gather.summary;
  await flushed(io.stdout);
  if (summary.ended === 'aborted') call.signal.throwIfAborted();
  for (const miss of summary.missing) {
    io.stderr.write(`missing ${miss.member.name} (${miss.member.id}): ${miss.reason}${miss.message !== undefined ? `: ${miss.message}` : ''}\n`);
  }
  if (summary.expected.length === 0 && summary.replied.length === 0) {
    // A gather asks once the discovery wait is over: a deadline before that asked nobody.
    if (summary.ended === 'deadline') {
      io.stderr.write(`blipcast: gather '${call.subject}': --timeout passed before the servers were discovered (${DISCOVERY_MS / 1000} s)\n`);
      return EXIT_TIMEOUT;
    }
    io.stderr.write(`blipcast: ${new NoServerError(call.subject).message}\n`);
    return EXIT_NO_SERVER;
  }
  return summary.missing.length === 0 ? 0 : 1;
}
