/**
 * The options of a log sender (./sender.ts): their defaults, each with the
 * reason for its number, and their validation — typed errors that name the
 * option, before anything is opened.
 */

import { readFileSync } from 'node:fs';
import { InvalidArgumentTypeError, InvalidArgumentValueError, parseGroup, parseKeyBytes, type OpenOptions } from '../index';
import { DEFAULT_LOG_STREAM, isLogCollector, logSourceMember } from './format';

/**
 * Bytes of log lines a sender holds while the channel pushes back, beyond the
 * channel's own send queue (8 MiB by default, a quarter of its window). 8 MiB
 * is tens of thousands of typical records (100–300 bytes): a collector that
 * pauses for a GC or a restart of a second does not cost a line at 10^4
 * records/s, and the memory is bounded and small next to a Node heap.
 */
export const DEFAULT_MAX_BUFFER_BYTES = 8 * 1024 * 1024;

/**
 * How long a closing sender waits while no collector makes progress (the
 * channel's `lingerMs`), ms: the channel's default. 2 s was too short on a
 * machine at 100 % CPU (lab, `logging --load`: a collector starved that long
 * mid-repair was given up and lost 8 records as 'source-gone'); 5 s still
 * keeps the whole close under `closeTimeoutMs` for a collector that is gone.
 */
export const DEFAULT_LOG_LINGER_MS = 5000;

/**
 * Once every known collector has everything, how long a closing sender still
 * answers repair requests (the channel's `closeQuietMs`), ms. Short, because
 * it is also how long a process with no collector at all waits at exit; a
 * collector that was listening has acknowledged within a status interval.
 */
export const DEFAULT_LOG_CLOSE_QUIET_MS = 500;

/**
 * The whole close, at most, ms: the channel's close bounds *no progress*
 * (lingerMs), not its length, so a collector that crawls could hold it for
 * ever. thread-stream's `end()` waits at most 10 s for the transport worker at
 * process exit and then kills it: 8 s leaves 2 s for what comes before the
 * close (the worker reading the last records from pino's ring).
 */
export const DEFAULT_LOG_CLOSE_TIMEOUT_MS = 8000;

/** What a log sender takes; everything but `group` is optional. */
export interface LogSenderOptions {
  /** `'239.255.0.1:5000'`. Required. */
  group: string;
  /** Interface by name or address (`'127.0.0.1'`). Default: the system's default multicast interface. */
  interface?: string;
  /** Multicast TTL, 0–255. Default 1 (this link). */
  ttl?: number;
  /** The stream records go on. Default {@link DEFAULT_LOG_STREAM} (`'logs'`). */
  stream?: string;
  /** The group key: 32 bytes, or 64 hex digits. Needs every member (collectors included) to hold the same key. */
  key?: Uint8Array | string;
  /** A file holding the group key (32 raw bytes or 64 hex digits), read once at start. Not with `key`. */
  keyFile?: string;
  /** Member name collectors show as the source. Default: the main script's name (format.ts, defaultSourceName). */
  name?: string;
  /** Bytes of lines held while the channel pushes back; beyond, lines are dropped and counted. Default 8 MiB. */
  maxBufferBytes?: number;
  /** The channel's lingerMs: how long close() waits while no collector makes progress. Default 2000. */
  lingerMs?: number;
  /** The channel's closeQuietMs. Default 500. */
  closeQuietMs?: number;
  /** The whole close at most, ms (then close() resolves and the channel is left to finish on its own). Default 8000. */
  closeTimeoutMs?: number;
  /** The channel's sender rate limit, bytes per second. Default unlimited. */
  rateBytesPerSec?: number;
}


/** Validated options with defaults applied. */
export interface SenderConfig {
  open: OpenOptions;
  stream: string;
  maxBufferBytes: number;
  closeTimeoutMs: number;
}

const KNOWN_OPTIONS = new Set([
  'group', 'interface', 'ttl', 'stream', 'key', 'keyFile', 'name', 'maxBufferBytes', 'lingerMs', 'closeQuietMs', 'closeTimeoutMs', 'rateBytesPerSec',
]);

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'function') return 'a function';
  return String(value);
}

function typeError(name: string, expected: string, value: unknown): InvalidArgumentTypeError {
  return new InvalidArgumentTypeError(`options.${name} must be ${expected}, got ${describe(value)}`);
}

function valueError(name: string, expected: string, value: unknown): InvalidArgumentValueError {
  return new InvalidArgumentValueError(`options.${name} must be ${expected}, got ${describe(value)}`);
}

/** A duration option: a number of ms ≥ 0 (Infinity allowed), else the default. */
function durationMs(options: Record<string, unknown>, name: string, fallback: number): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  if (!(v >= 0)) throw valueError(name, 'a number of ms ≥ 0 (Infinity allowed)', v);
  return v;
}

/**
 * Checks the options and applies the defaults. open() checks what it takes
 * (group, interface, ttl, key, rate) again; the group is parsed here too so
 * that a bad one fails where the sender is created, even before the channel opens.
 */
export function resolveOptions(options: LogSenderOptions): SenderConfig {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentTypeError(`options must be an object, got ${describe(options)}`);
  const o = options as unknown as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (!KNOWN_OPTIONS.has(k)) throw new InvalidArgumentValueError(`unknown option '${k}' (a log sender takes ${[...KNOWN_OPTIONS].join(', ')})`);
  }
  if (o.group === undefined) throw new InvalidArgumentTypeError(`options.group is required: a string like '239.255.0.1:5000'`);
  if (typeof o.group !== 'string') throw typeError('group', `a string like '239.255.0.1:5000'`, o.group);
  try {
    parseGroup(o.group);
  } catch (err) {
    // Same class, the option named.
    const e = err as Error;
    e.message = e.message.startsWith('group ') ? `options.${e.message}` : `options.group: ${e.message}`;
    throw err;
  }
  const stream = o.stream === undefined ? DEFAULT_LOG_STREAM : o.stream;
  if (typeof stream !== 'string') throw typeError('stream', 'a string', stream);
  if (o.name !== undefined && typeof o.name !== 'string') throw typeError('name', 'a string', o.name);
  if (o.name === '') throw valueError('name', 'a non-empty string', o.name);
  let maxBufferBytes = DEFAULT_MAX_BUFFER_BYTES;
  if (o.maxBufferBytes !== undefined) {
    if (typeof o.maxBufferBytes !== 'number') throw typeError('maxBufferBytes', 'a number', o.maxBufferBytes);
    if (!Number.isSafeInteger(o.maxBufferBytes) || o.maxBufferBytes < 0) throw valueError('maxBufferBytes', 'an integer ≥ 0', o.maxBufferBytes);
    maxBufferBytes = o.maxBufferBytes;
  }
  const lingerMs = durationMs(o, 'lingerMs', DEFAULT_LOG_LINGER_MS);
  const closeQuietMs = durationMs(o, 'closeQuietMs', DEFAULT_LOG_CLOSE_QUIET_MS);
  const closeTimeoutMs = durationMs(o, 'closeTimeoutMs', DEFAULT_LOG_CLOSE_TIMEOUT_MS);
  const key = resolveKey(o);

  const open: OpenOptions = {
    group: o.group,
    streams: stream === '' ? [] : [stream],
    member: logSourceMember(o.name as string | undefined),
    paceTo: isLogCollector,
    lingerMs,
    closeQuietMs,
  };
  // open() validates these (and names them the same way).
  if (o.interface !== undefined) open.interface = o.interface as string;
  if (o.ttl !== undefined) open.ttl = o.ttl as number;
  if (o.rateBytesPerSec !== undefined) open.rateBytesPerSec = o.rateBytesPerSec as number;
  if (key !== undefined) open.key = key;
  return { open, stream, maxBufferBytes, closeTimeoutMs };
}

function resolveKey(o: Record<string, unknown>): Uint8Array | undefined {
  if (o.key !== undefined && o.keyFile !== undefined) throw new InvalidArgumentValueError('options.key and options.keyFile exclude each other: pass one');
  if (o.keyFile !== undefined) {
    if (typeof o.keyFile !== 'string') throw typeError('keyFile', 'a path (string)', o.keyFile);
    let content: Buffer;
    try {
      content = readFileSync(o.keyFile);
    } catch (err) {
      throw new InvalidArgumentValueError(`options.keyFile: cannot read ${o.keyFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return parseKeyBytes(content, `options.keyFile ${o.keyFile}`);
  }
  if (o.key === undefined) return undefined;
  if (typeof o.key === 'string') {
    // Never quote the key in an error.
    if (!/^\s*[0-9a-fA-F]{64}\s*$/.test(o.key)) throw new InvalidArgumentValueError('options.key must be 32 bytes or a string of 64 hex digits');
    return parseKeyBytes(Buffer.from(o.key), 'options.key');
  }
  if (o.key instanceof Uint8Array) return parseKeyBytes(o.key, 'options.key');
  throw new InvalidArgumentTypeError(`options.key must be a Uint8Array (32 bytes) or a string of 64 hex digits, got ${describe(o.key)}`);
}
