/**
 * Group keys: the `key` option of open() and `channel.rotateKey()`, checked
 * and copied; and the text forms the CLI reads (key file, BLIPCAST_KEY).
 */

import { DEFAULT_KEY_ID, GROUP_KEY_BYTES } from './constants';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';

/** A 32-byte AES-256-GCM group key and its id (1..255, header byte 5). */
export interface GroupKey {
  id: number;
  key: Uint8Array;
}

/** What open({ key }) and rotateKey() accept: the 32 key bytes (id 1), or `{ id, key }`. */
export type GroupKeyInput = Uint8Array | { id?: number; key: Uint8Array };

/**
 * Checks a group key and returns a private copy (later changes to the
 * caller's bytes do not change the channel's key).
 * @throws InvalidArgumentTypeError when it is not a Uint8Array (or `{ id, key }`);
 *   InvalidArgumentValueError for a length other than 32 or an id outside 1..255.
 */
export function checkGroupKey(value: unknown, name: string): GroupKey {
  let id: unknown = DEFAULT_KEY_ID;
  let key: unknown = value;
  if (!(value instanceof Uint8Array)) {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new InvalidArgumentTypeError(`${name} must be a 32-byte Uint8Array or { id, key }, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
    }
    const v = value as { id?: unknown; key?: unknown };
    if (v.id !== undefined) id = v.id;
    key = v.key;
    if (!(key instanceof Uint8Array)) throw new InvalidArgumentTypeError(`${name}.key must be a 32-byte Uint8Array, got ${key === null ? 'null' : typeof key}`);
    if (typeof id !== 'number') throw new InvalidArgumentTypeError(`${name}.id must be a number, got ${typeof id}`);
  }
  if (!Number.isInteger(id) || (id as number) < 1 || (id as number) > 255) {
    throw new InvalidArgumentValueError(`${name}.id must be an integer in 1..255 (0 means clear), got ${String(id)}`);
  }
  const bytes = key as Uint8Array;
  if (bytes.length !== GROUP_KEY_BYTES) throw new InvalidArgumentValueError(`${name} must be ${GROUP_KEY_BYTES} bytes, got ${bytes.length}`);
  return { id: id as number, key: Uint8Array.from(bytes) };
}

const HEX_KEY = /^[0-9a-fA-F]{64}$/;

/**
 * A key as the CLI reads it: 64 hex digits (surrounding whitespace ignored),
 * or exactly 32 raw bytes (a key file made with `head -c 32 /dev/urandom`).
 * @throws InvalidArgumentValueError for anything else (the message never contains the key).
 */
export function parseKeyBytes(content: Uint8Array, what: string): Uint8Array {
  const text = Buffer.from(content).toString('latin1').trim();
  if (HEX_KEY.test(text)) return Uint8Array.from(Buffer.from(text, 'hex'));
  if (content.length === GROUP_KEY_BYTES) return Uint8Array.from(content);
  throw new InvalidArgumentValueError(`${what} must hold 32 raw bytes or 64 hex digits, got ${content.length} bytes`);
}
