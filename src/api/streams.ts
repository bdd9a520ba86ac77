/**
 * Stream names ↔ u16 stream ids (the `stream id` field of the wire header).
 *
 * The default stream is the empty name `''` and is always id 0. Any other name
 * maps to `1 + (FNV-1a-32(UTF-8 name) mod 65535)`, so every process computes
 * the same id for the same name without coordination. Because 65535 ids are
 * shared by all names, two different names can land on the same id; a
 * {@link StreamRegistry} remembers every name a channel uses (writes to,
 * subscribes to, or declares in the `streams` option) and rejects a second
 * name that collides with one already in use, instead of silently mixing the
 * two streams. An application can avoid a collision by declaring explicit ids
 * (`streams: { orders: 1, quotes: 2 }`).
 */

import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';

export const DEFAULT_STREAM = '';
export const DEFAULT_STREAM_ID = 0;
export const MAX_STREAM_ID = 0xffff;
/** Longest stream name, in UTF-8 bytes. Names are never on the wire; this only keeps them readable. */
export const MAX_STREAM_NAME_BYTES = 255;

/** The id a name maps to when it was not declared explicitly. Pure; the same in every process. */
export function hashStreamName(name: string): number {
  if (name === DEFAULT_STREAM) return DEFAULT_STREAM_ID;
  const bytes = Buffer.from(name, 'utf8');
  // FNV-1a 32: tiny, well spread over short ASCII names, and easy to reimplement in any language.
  let h = 0x811c9dc5;
  for (const b of bytes) {
    h ^= b;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return 1 + (h % MAX_STREAM_ID);
}

/** Throws a typed error naming `option` unless `name` is a usable stream name. */
export function checkStreamName(name: unknown, option = 'stream'): string {
  if (typeof name !== 'string') throw new InvalidArgumentTypeError(`${option} must be a string, got ${typeof name}`);
  if (Buffer.byteLength(name, 'utf8') > MAX_STREAM_NAME_BYTES) {
    throw new InvalidArgumentValueError(`${option} must be at most ${MAX_STREAM_NAME_BYTES} UTF-8 bytes, got '${name.slice(0, 40)}…'`);
  }
  return name;
}

/**
 * The names one channel uses and their ids. Lookups by name are memoized, so
 * the hot path (`write(data, 'orders')`) costs one Map lookup.
 */
export class StreamRegistry {
  private readonly idByName = new Map<string, number>();
  private readonly nameById = new Map<number, string>();

  constructor() {
    this.idByName.set(DEFAULT_STREAM, DEFAULT_STREAM_ID);
    this.nameById.set(DEFAULT_STREAM_ID, DEFAULT_STREAM);
  }

  /**
   * Declares `name` with an explicit id (from the `streams` option).
   * @throws InvalidArgumentValueError if the id is out of range or already used by another name.
   */
  declare(name: string, id: number, option = 'streams'): void {
    checkStreamName(name, option);
    if (typeof id !== 'number' || !Number.isInteger(id)) throw new InvalidArgumentTypeError(`${option}['${name}'] must be an integer stream id, got ${String(id)}`);
    if (id < 0 || id > MAX_STREAM_ID) throw new InvalidArgumentValueError(`${option}['${name}'] must be a stream id in 0..${MAX_STREAM_ID}, got ${id}`);
    if ((name === DEFAULT_STREAM) !== (id === DEFAULT_STREAM_ID)) {
      throw new InvalidArgumentValueError(`${option}: stream id 0 is reserved for the default stream '', got '${name}' → ${id}`);
    }
    this.bind(name, id, option);
  }

  /**
   * The id of `name`, registering it on first use.
   * @throws InvalidArgumentValueError if its hashed id collides with another name this channel uses.
   */
  idOf(name: string, option = 'stream'): number {
    const known = this.idByName.get(name);
    if (known !== undefined) return known;
    checkStreamName(name, option);
    const id = hashStreamName(name);
    this.bind(name, id, option);
    return id;
  }

  /** The name registered for `id`, or `#<id>` for an id this channel never named (a stream another process uses). */
  nameOf(id: number): string {
    return this.nameById.get(id) ?? `#${id}`;
  }

  /** True if `name` is registered (declared or used). */
  has(name: string): boolean {
    return this.idByName.has(name);
  }

  private bind(name: string, id: number, option: string): void {
    const existingName = this.nameById.get(id);
    if (existingName !== undefined && existingName !== name) {
      throw new InvalidArgumentValueError(
        `${option}: stream '${name}' maps to id ${id}, which stream '${existingName}' already uses; declare explicit ids with the 'streams' option`,
      );
    }
    const existingId = this.idByName.get(name);
    if (existingId !== undefined && existingId !== id) {
      throw new InvalidArgumentValueError(`${option}: stream '${name}' is already bound to id ${existingId}, cannot bind it to ${id}`);
    }
    this.idByName.set(name, id);
    this.nameById.set(id, name);
  }
}
