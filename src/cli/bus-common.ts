/**
 * What the bus commands (`serve`, `request`, `work`, `submit`) share: their
 * options, opening the bus from them, their exit codes, and running until
 * Ctrl-C / SIGTERM.
 */

import { openBus, type Bus } from '../bus/index';
import { intOption, secondsOption, type Parsed } from './args';
import { keyOption, onStopSignal, statsLine, transportOption } from './common';
import { UsageError } from './usage';

/** Options every bus command takes, beyond the common ones (--interface, --ttl, --stream, --transport). */
export const BUS_OPTIONS = {
  name: { type: 'string' },
  'key-file': { type: 'string' },
  stats: { type: 'boolean' },
} as const;

/** Exit code when no live member serves the subject (request) or works the queue (submit), after the bus's discovery wait. */
export const EXIT_NO_SERVER = 3;
/** Exit code of `request` when no server answered within --timeout. */
export const EXIT_TIMEOUT = 4;

/**
 * How long a new member waits to learn who serves and works what before a
 * request or submit says nobody does, ms: BusOptions.discoveryMs, given
 * explicitly (its default) because `submit` waits for it too.
 */
export const DISCOVERY_MS = 2000;

/** A string option that must not be empty; undefined when absent. */
export function stringValue(values: Parsed['values'], name: string): string | undefined {
  const v = values[name];
  if (v === '') throw new UsageError(`--${name} must not be empty`);
  return typeof v === 'string' ? v : undefined;
}

/** A required string option. @throws UsageError `missing --NAME WHAT` */
export function requiredValue(values: Parsed['values'], name: string, what: string): string {
  const v = stringValue(values, name);
  if (v === undefined) throw new UsageError(`missing --${name} ${what}`);
  return v;
}

/** A repeatable, required string option (`--subject a --subject b`), each given once. */
export function requiredValues(values: Parsed['values'], name: string, what: string): string[] {
  const raw = (values as Record<string, unknown>)[name] as string[] | undefined;
  if (raw === undefined || raw.length === 0) throw new UsageError(`missing --${name} ${what}`);
  for (const [i, v] of raw.entries()) {
    if (v === '') throw new UsageError(`--${name} must not be empty`);
    if (raw.indexOf(v) !== i) throw new UsageError(`--${name} ${v} given twice`);
  }
  return raw;
}

/** Opens the bus member the command's options describe (--interface, --ttl, --transport, --stream, --name, --key-file / BLIPCAST_KEY). */
export async function openBusFromOptions(groupText: string, values: Parsed['values'], stderr: NodeJS.WritableStream): Promise<Bus> {
  const ttl = intOption(values, 'ttl', 0, 255);
  const interfaceName = stringValue(values, 'interface');
  const stream = stringValue(values, 'stream');
  const name = stringValue(values, 'name');
  const bus = await openBus({
    group: groupText,
    ...(interfaceName !== undefined ? { interface: interfaceName } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...transportOption(values),
    ...keyOption(values, process.env, stderr),
    ...(stream !== undefined ? { stream } : {}),
    ...(name !== undefined ? { name } : {}),
    discoveryMs: DISCOVERY_MS,
  });
  bus.channel.on('error', (err: Error) => stderr.write(`blipcast: ${err.message}\n`));
  return bus;
}

/** A positive number of seconds (--timeout, --lease) as whole milliseconds, at least `minMs`; undefined when absent. */
export function positiveSecondsOption(values: Parsed['values'], name: string, minMs: number): number | undefined {
  const ms = secondsOption(values, name);
  if (ms === undefined) return undefined;
  if (ms < minMs) throw new UsageError(`--${name} must be at least ${minMs / 1000} seconds (got ${String(values[name])})`);
  return Math.round(ms);
}

/** `--stats`: the bus's counters as one JSON line on stderr, `{"event":"stats",…}`. */
export function writeBusStats(bus: Bus, values: Parsed['values'], stderr: NodeJS.WritableStream): void {
  if (values.stats === true) stderr.write(statsLine(bus.stats()));
}

/**
 * For serve and work: runs until Ctrl-C / SIGTERM, then closes the bus (the
 * running commands are killed through their signal; requesters and
 * submitters fail over at once, as the member leaves) and resolves.
 */
export async function runUntilStopped(bus: Bus): Promise<void> {
  let unhook = (): void => {};
  await new Promise<void>((resolve) => {
    unhook = onStopSignal(() => resolve());
  });
  try {
    await bus.close();
  } finally {
    unhook();
  }
}

/** One line of a server's or worker's stderr: the command it ran failed (what the requester or submitter is told too). */
export function failureLine(what: string, message: string): string {
  return `blipcast: ${what} failed: ${message.replace(/\n/g, '\n  ')}\n`;
}

const NEWLINE = 0x0a;

/** `data` without one trailing newline (a reply or result as a shell command's stdout ends), as a view. */
export function withoutTrailingNewline(data: Buffer): Buffer {
  return data.length > 0 && data[data.length - 1] === NEWLINE ? data.subarray(0, data.length - 1) : data;
}

/** Everything `input` yields until its end. */
export async function readAll(input: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}

/** Resolves once `output` has taken everything written so far (a pipe that is slow to read included). */
export function flushed(output: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => output.write('', () => resolve()));
}
