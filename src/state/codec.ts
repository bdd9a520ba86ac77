/**
 * The replicated map's messages on its stream (`state/<name>`), docs/state.md
 * "Wire". Every message: u8 version (1), u8 type, then the body. Numbers are
 * big-endian; a stamp is u48 time + u16 counter; a writer or replica id is
 * the 8 bytes of its session id; a key is u16 length + UTF-8; a value is
 * u32 length + bytes.
 *
 * DELTA    u8 flags, u48 dseq, u16 count, count × { key, stamp, u8 flags, [value] }
 *          the writer is the message's source; dseq counts its deltas from 1
 * CHUNK    u32 cycle, u32 index, u8 flags, u32 bucket from, u32 bucket to,
 *          [index 0 or flag bit 5: vector], u16 count, count × { key, stamp, writer, u8 flags, [value] }
 * SUMMARY  u8 flags, u48 own dseq, u32 entries, 8-byte digest, vector
 * REQUEST  target id, vector (what the requester needs: writer → dseq)
 *
 * vector = u16 count, count × { writer id, u48 dseq }.
 * Entry flag bit 0: tombstone (no value). Message flags: bit 0 the sender is
 * synced, bit 1 it is the map's owner (DELTA too), bit 2 (CHUNK) last chunk
 * of the cycle, bit 3 the sender has had a complete picture (a baseline:
 * only its snapshot gives one), bit 4 (SUMMARY) it is read-only (never
 * answers a REQUEST), bit 5 (CHUNK) the cycle's vector is in this chunk
 * too (not only in the first: a replica that came in mid-cycle can start
 * assembling there; sent when the vector takes at most 1 KiB).
 */

export const VERSION = 1;

export const enum Type {
  Delta = 1,
  Chunk = 2,
  Summary = 3,
  Request = 4,
}

export const FLAG_TOMBSTONE = 1;
export const FLAG_SYNCED = 1;
export const FLAG_OWNER = 2;
export const FLAG_LAST = 4;
export const FLAG_BASELINE = 8;
export const FLAG_READ_ONLY = 16;
export const FLAG_VECTOR = 32;

/** Buckets of the key space a snapshot cycle walks (by key hash): chunks name the range they cover. */
export const BUCKETS = 65_536;

/** A write's version: (t, c) then writer id; t is HLC milliseconds (or the owner's dseq in single-writer mode). */
export interface Stamp {
  t: number;
  c: number;
  writer: string;
}

export interface WireEntry {
  key: string;
  stamp: Stamp;
  /** undefined: a tombstone. */
  value: Buffer | undefined;
}

/** writer id → dseq. */
export type Vector = Map<string, number>;

export type StateMessage =
  | { type: Type.Delta; flags: number; dseq: number; entries: WireEntry[] }
  | { type: Type.Chunk; cycle: number; index: number; flags: number; from: number; to: number; vector: Vector | undefined; entries: WireEntry[] }
  | { type: Type.Summary; flags: number; dseq: number; entries: number; digest: string; vector: Vector }
  | { type: Type.Request; target: string; needs: Vector };

const MAX_U48 = 2 ** 48 - 1;

/** Bytes an entry takes in a DELTA (without the writer) or a CHUNK (with it). */
export function entryBytes(key: Buffer | string, value: Buffer | undefined, withWriter: boolean): number {
  const k = typeof key === 'string' ? Buffer.byteLength(key) : key.length;
  return 2 + k + 8 + (withWriter ? 8 : 0) + 1 + (value === undefined ? 0 : 4 + value.length);
}

export function vectorBytes(v: Vector): number {
  return 2 + v.size * 14;
}

class Writer {
  readonly buf: Buffer;
  pos = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  u8(v: number): void {
    this.buf[this.pos++] = v;
  }
  u16(v: number): void {
    this.buf.writeUInt16BE(v, this.pos);
    this.pos += 2;
  }
  u32(v: number): void {
    this.buf.writeUInt32BE(v, this.pos);
    this.pos += 4;
  }
  u48(v: number): void {
    this.buf.writeUIntBE(Math.min(v, MAX_U48), this.pos, 6);
    this.pos += 6;
  }
  id(hex: string): void {
    this.pos += this.buf.write(hex, this.pos, 8, 'hex');
  }
  bytes(b: Buffer): void {
    b.copy(this.buf, this.pos);
    this.pos += b.length;
  }
  str16(s: string): void {
    const n = this.buf.write(s, this.pos + 2, 'utf8');
    this.buf.writeUInt16BE(n, this.pos);
    this.pos += 2 + n;
  }
  vector(v: Vector): void {
    this.u16(v.size);
    for (const [w, d] of v) {
      this.id(w);
      this.u48(d);
    }
  }
  entry(e: WireEntry, withWriter: boolean): void {
    this.str16(e.key);
    this.u48(e.stamp.t);
    this.u16(e.stamp.c);
    if (withWriter) this.id(e.stamp.writer);
    if (e.value === undefined) this.u8(FLAG_TOMBSTONE);
    else {
      this.u8(0);
      this.u32(e.value.length);
      this.bytes(e.value);
    }
  }
}

export function encodeDelta(dseq: number, flags: number, entries: readonly WireEntry[], size: number): Buffer {
  const w = new Writer(2 + 1 + 6 + 2 + size);
  w.u8(VERSION);
  w.u8(Type.Delta);
  w.u8(flags);
  w.u48(dseq);
  w.u16(entries.length);
  for (const e of entries) w.entry(e, false);
  return w.buf.subarray(0, w.pos);
}

export function encodeChunk(cycle: number, index: number, flags: number, from: number, to: number, vector: Vector | undefined, entries: readonly WireEntry[], size: number): Buffer {
  const w = new Writer(2 + 4 + 4 + 1 + 8 + (vector === undefined ? 0 : vectorBytes(vector)) + 2 + size);
  w.u8(VERSION);
  w.u8(Type.Chunk);
  w.u32(cycle);
  w.u32(index);
  w.u8(flags);
  w.u32(from);
  w.u32(to);
  if (index === 0 || (flags & FLAG_VECTOR) !== 0) w.vector(vector ?? new Map());
  w.u16(entries.length);
  for (const e of entries) w.entry(e, true);
  return w.buf.subarray(0, w.pos);
}

export function encodeSummary(flags: number, dseq: number, entries: number, digest: string, vector: Vector): Buffer {
  const w = new Writer(2 + 1 + 6 + 4 + 8 + vectorBytes(vector));
  w.u8(VERSION);
  w.u8(Type.Summary);
  w.u8(flags);
  w.u48(dseq);
  w.u32(Math.min(entries, 0xffffffff));
  w.id(digest);
  w.vector(vector);
  return w.buf.subarray(0, w.pos);
}

export function encodeRequest(target: string, needs: Vector): Buffer {
  const w = new Writer(2 + 8 + vectorBytes(needs));
  w.u8(VERSION);
  w.u8(Type.Request);
  w.id(target);
  w.vector(needs);
  return w.buf.subarray(0, w.pos);
}

class Reader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  need(n: number): void {
    if (this.pos + n > this.buf.length) throw new RangeError('short');
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }
  u48(): number {
    this.need(6);
    const v = this.buf.readUIntBE(this.pos, 6);
    this.pos += 6;
    return v;
  }
  id(): string {
    this.need(8);
    const v = this.buf.toString('hex', this.pos, this.pos + 8);
    this.pos += 8;
    return v;
  }
  str16(): string {
    const n = this.u16();
    this.need(n);
    const v = this.buf.toString('utf8', this.pos, this.pos + n);
    this.pos += n;
    return v;
  }
  bytes(n: number): Buffer {
    this.need(n);
    // The value outlives the batch's buffer: copy it.
    const v = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return v;
  }
  vector(): Vector {
    const n = this.u16();
    const v: Vector = new Map();
    for (let i = 0; i < n; i++) {
      const w = this.id();
      v.set(w, this.u48());
    }
    return v;
  }
  entry(writer: string | undefined): WireEntry {
    const key = this.str16();
    const t = this.u48();
    const c = this.u16();
    const w = writer ?? this.id();
    const flags = this.u8();
    const value = (flags & FLAG_TOMBSTONE) !== 0 ? undefined : this.bytes(this.u32());
    return { key, stamp: { t, c, writer: w }, value };
  }
  get done(): boolean {
    return this.pos === this.buf.length;
  }
}

/** The message in `bytes` (sent by `source`), or undefined when it is not a well-formed message of this version. */
export function decode(bytes: Buffer, source: string): StateMessage | undefined {
  try {
    const r = new Reader(bytes);
    if (r.u8() !== VERSION) return undefined;
    const type = r.u8();
    let m: StateMessage;
    switch (type) {
      case Type.Delta: {
        const flags = r.u8();
        const dseq = r.u48();
        const n = r.u16();
        const entries: WireEntry[] = new Array<WireEntry>(n);
        for (let i = 0; i < n; i++) entries[i] = r.entry(source);
        m = { type, flags, dseq, entries };
        break;
      }
      case Type.Chunk: {
        const cycle = r.u32();
        const index = r.u32();
        const flags = r.u8();
        const from = r.u32();
        const to = r.u32();
        if (from > to || to > BUCKETS) return undefined;
        const vector = index === 0 || (flags & FLAG_VECTOR) !== 0 ? r.vector() : undefined;
        const n = r.u16();
        const entries: WireEntry[] = new Array<WireEntry>(n);
        for (let i = 0; i < n; i++) entries[i] = r.entry(undefined);
        m = { type, cycle, index, flags, from, to, vector, entries };
        break;
      }
      case Type.Summary:
        m = { type, flags: r.u8(), dseq: r.u48(), entries: r.u32(), digest: r.id(), vector: r.vector() };
        break;
      case Type.Request:
        m = { type, target: r.id(), needs: r.vector() };
        break;
      default:
        return undefined;
    }
    return r.done ? m : undefined;
  } catch {
    return undefined;
  }
}
