/** Small pieces shared by the CLI subcommands. */

import { readFileSync, statSync } from 'node:fs';
import { parseKeyBytes } from '../index';
import { choiceOption, Parsed } from './args';
import { UsageError } from './usage';

const KINDS = ['auto', 'native', 'dgram'] as const;

/** `--transport KIND` as an open() option (absent → the library default, which honours BLIPCAST_TRANSPORT). */
export function transportOption(values: Parsed['values']): { transport?: (typeof KINDS)[number] } {
  const kind = choiceOption(values, 'transport', KINDS);
  return kind === undefined ? {} : { transport: kind };
}

/** The environment variable holding a group key as 64 hex digits (when no --key-file is given). */
export const KEY_ENV = 'BLIPCAST_KEY';

/**
 * The group key from `--key-file PATH` (32 raw bytes or 64 hex digits), else
 * from $BLIPCAST_KEY (64 hex digits), as an open() option; {} for neither.
 * Warns on stderr when the key file is readable by group or others.
 * @throws UsageError (never quoting the key) for an unreadable or malformed key.
 */
export function keyOption(values: Parsed['values'], env: NodeJS.ProcessEnv, stderr: NodeJS.WritableStream): { key?: Uint8Array } {
  const path = values['key-file'];
  if (typeof path === 'string') {
    let content: Buffer;
    try {
      content = readFileSync(path);
      if ((statSync(path).mode & 0o077) !== 0) stderr.write(`blipcast: warning: key file ${path} is readable by other users (chmod 600 it)\n`);
    } catch (err) {
      throw new UsageError(`cannot read --key-file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return { key: parse(content, `--key-file ${path}`) };
  }
  const text = env[KEY_ENV];
  if (text !== undefined && text !== '') {
    if (!/^\s*[0-9a-fA-F]{64}\s*$/.test(text)) throw new UsageError(`${KEY_ENV} must be 64 hex digits`);
    return { key: parse(Buffer.from(text), KEY_ENV) };
  }
  return {};
}

function parse(content: Uint8Array, what: string): Uint8Array {
  try {
    return parseKeyBytes(content, what);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/**
 * Calls `stop` (with the signal's name) on the first SIGINT or SIGTERM (the
 * command then ends the way it does at end of input: a sender flushes, a
 * member leaves the group); a second signal exits at once with 130 (SIGINT)
 * or 143 (SIGTERM). Returns the unhook function.
 */
export function onStopSignal(stop: (signal: NodeJS.Signals) => void): () => void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals): void => {
    if (stopping) process.exit(signalExitCode(signal));
    stopping = true;
    stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.removeListener('SIGINT', handler);
    process.removeListener('SIGTERM', handler);
  };
}

/** The shell's exit code for a process ended by SIGINT (130) or SIGTERM (143): 128 + the signal number. */
export function signalExitCode(signal: NodeJS.Signals): number {
  return signal === 'SIGINT' ? 130 : 143;
}

/** `--stats`: a channel's counters (and `extra`) as one JSON line, `{"event":"stats",…}`. */
export function statsLine(stats: object, extra: object = {}): string {
  return JSON.stringify({ event: 'stats', ...stats, ...extra }) + '\n';
}

/** How long a keyless command hears only sealed datagrams before it says the group is encrypted. */
export const ENCRYPTED_HINT_AFTER_MS = 1000;

/** The one stderr line of a keyless command that hears only sealed datagrams. */
export function encryptedHint(sealedDatagrams: number): string {
  return `blipcast: the group's traffic is encrypted (${sealedDatagrams} sealed datagram(s) dropped, nothing delivered): pass --key-file PATH or set BLIPCAST_KEY with the group's key\n`;
}

/**
 * For a command opened without a key: once something arrives, if it was only sealed datagrams (dropped and
 * counted in `stats().rejects['keyed-on-clear']`), says so on `stderr`, once. `heard(stats)` is what counts as
 * hearing the group in the clear. Returns the function that stops watching.
 */
export function hintIfEncrypted(
  channel: { stats(): { rejects: Record<string, number>; protocol: { messagesDelivered: number; datagramsReceived: number } } },
  stderr: NodeJS.WritableStream,
  heard: (stats: { protocol: { messagesDelivered: number; datagramsReceived: number } }) => number,
): () => void {
  const timer = setInterval(() => {
    const stats = channel.stats();
    const sealed = stats.rejects['keyed-on-clear'] ?? 0;
    const clear = heard(stats);
    if (clear === 0 && sealed === 0) return;
    clearInterval(timer);
    if (clear === 0) stderr.write(encryptedHint(sealed));
  }, ENCRYPTED_HINT_AFTER_MS);
  return () => clearInterval(timer);
}
