/** Payloads in and out of the bus, and the limits on names. */

import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../index';
import { describe } from '../apps/options';
import type { BusPayload } from './types';
import { fmix32 } from '../apps/hash';

const EMPTY = Buffer.alloc(0);

/** Largest payload, answer or result: the channel's largest message (16 MiB) less room for the bus's own fields. */
export const MAX_PAYLOAD_BYTES = 16 * 1024 * 1024 - 1024;

/**
 * `payload` as bytes without a copy (the channel copies when it writes).
 * @throws InvalidArgumentTypeError; InvalidArgumentValueError above MAX_PAYLOAD_BYTES (it could not be sent).
 */
export function toBytes(payload: BusPayload | undefined, what: string): Buffer {
  if (payload === undefined) return EMPTY;
  let bytes: Buffer;
  if (typeof payload === 'string') bytes = Buffer.from(payload, 'utf8');
  else if (payload instanceof Uint8Array) bytes = Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
  else throw new InvalidArgumentTypeError(`${what} must be a string or a Uint8Array, got ${describe(payload)}`);
  if (bytes.length > MAX_PAYLOAD_BYTES) throw new InvalidArgumentValueError(`${what} must be at most ${MAX_PAYLOAD_BYTES} bytes, got ${bytes.length}`);
  return bytes;
}

/** A handler's answer as bytes; `undefined` (no return value) is empty. @throws InvalidArgumentTypeError for anything else. */
export function answerBytes(answer: unknown): Buffer {
  return toBytes(answer as BusPayload | undefined, 'the handler\'s answer');
}

/** A subject or queue name: 1..255 UTF-8 bytes. @throws InvalidArgumentTypeError / InvalidArgumentValueError */
export function checkName(name: unknown, what: 'subject' | 'queue'): string {
  if (typeof name !== 'string') throw new InvalidArgumentTypeError(`${what} must be a string, got ${describe(name)}`);
  const n = Buffer.byteLength(name);
  if (n === 0 || n > 255) throw new InvalidArgumentValueError(`${what} must be 1..255 UTF-8 bytes, got ${n}`);
  return name;
}

/** An error's message for the wire: at most 4 KiB. */
export function errorMessage(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.length > 4096 ? `${text.slice(0, 4093)}...` : text;
}

/** FNV-1a (32 bits) of a string's UTF-16 code units, then MurmurHash3's finalizer so that near-equal strings score far apart: the rendezvous score. */
export function score(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}
