/**
 * CONTROL payload codec for group membership (docs/protocol.md, "Group
 * membership"). Big-endian; member ids are the 64-bit session ids of the
 * header, carried here as 16 hex digits. Decoders never throw: a malformed
 * payload decodes to undefined and the caller counts it.
 */

import { DatagramType, HEADER_BYTES, writeHeader } from '../wire/header';

export const CONTROL_VERSION = 1;

/** Message kinds (payload byte 1). Numbers are on the wire; never reuse one. */
export const ControlKind = {
  ANNOUNCE: 1,
  PING: 2,
  ACK: 3,
  PING_REQ: 4,
  LEAVE: 5,
  HEARTBEAT: 6,
  SUMMARY: 7,
  WANT: 8,
  RECORDS: 9,
} as const;
export type ControlKind = (typeof ControlKind)[keyof typeof ControlKind];

/** Piggybacked update states. */
export const UpdateState = {
  ALIVE: 1,
  SUSPECT: 2,
  DEAD: 3,
  LEFT: 4,
} as const;
export type UpdateState = (typeof UpdateState)[keyof typeof UpdateState];

/** One membership update: `id` is in `state` at `incarnation`. */
export interface Update {
  state: UpdateState;
  id: string;
  incarnation: number;
}

/** Bytes of the common prefix: version, kind, sender incarnation. */
export const PREFIX_BYTES = 6;
/** Bytes of one piggybacked update: state u8, id u64, incarnation u32. */
export const UPDATE_BYTES = 13;
/** The update-count byte that ends every body. */
export const UPDATE_COUNT_BYTES = 1;

/**
 * Members are split into {@link BUCKETS} buckets by the top bits of their id
 * (ids are random), so two tables can be compared bucket by bucket and only
 * the buckets that differ exchanged (SUMMARY, WANT, RECORDS).
 */
export const BUCKETS = 128;
/** Bytes of one bucket in a SUMMARY: member count u16, XOR of the ids' low 32 bits u32. */
export const SUMMARY_BUCKET_BYTES = 6;

/** The bucket of member `id` (16 hex digits). */
export function bucketOf(id: string): number {
  return parseInt(id.slice(0, 2), 16) >>> 1;
}

/** The low 32 bits of member `id`, the part of it a table digest XORs. */
export function idLow32(id: string): number {
  return parseInt(id.slice(8, 16), 16) >>> 0;
}

/** One member's record as RECORDS carries it: what its ANNOUNCE says, for a table sync. */
export interface MemberRecord {
  id: string;
  incarnation: number;
  observer: boolean;
  name: string;
  metadata: [string, string][];
}

/** One bucket of a SUMMARY. */
export interface BucketSummary {
  count: number;
  xor: number;
}

export type ControlBody =
  | { kind: typeof ControlKind.ANNOUNCE; name: string; metadata: [string, string][] }
  | { kind: typeof ControlKind.PING; target: string; nonce: number; requester: string | undefined }
  | { kind: typeof ControlKind.ACK; requester: string; nonce: number; subject: string }
  | { kind: typeof ControlKind.PING_REQ; target: string; nonce: number; helpers: string[] }
  | { kind: typeof ControlKind.LEAVE }
  /** Liveness, and the digest of the sender's table (members self included, XOR of the ids' low 32 bits). */
  | { kind: typeof ControlKind.HEARTBEAT; count: number; digest: number }
  /** Per-bucket counts and XORs of the sender's table, buckets first … first + buckets.length - 1. */
  | { kind: typeof ControlKind.SUMMARY; first: number; buckets: BucketSummary[] }
  /** Asks `target` for the records of `buckets` (none: for its SUMMARY). */
  | { kind: typeof ControlKind.WANT; target: string; buckets: number[] }
  /** Member records, the answer to a WANT. */
  | { kind: typeof ControlKind.RECORDS; records: MemberRecord[] };

export interface ControlMessage {
  /** The sender's incarnation. */
  incarnation: number;
  body: ControlBody;
  updates: Update[];
}

const ZERO_ID = '0000000000000000';
const HEX_ID = /^[0-9a-f]{16}$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isMemberId(id: string): boolean {
  return HEX_ID.test(id) && id !== ZERO_ID;
}

/** Bytes the body of `b` takes after the prefix (without updates). */
export function bodyBytes(b: ControlBody): number {
  switch (b.kind) {
    case ControlKind.ANNOUNCE:
      return metadataBytes(b.name, b.metadata);
    case ControlKind.PING:
      return 8 + 4 + 8;
    case ControlKind.ACK:
      return 8 + 4 + 8;
    case ControlKind.PING_REQ:
      return 8 + 4 + 1 + 8 * b.helpers.length;
    case ControlKind.LEAVE:
      return 0;
    case ControlKind.HEARTBEAT:
      return 2 + 4;
    case ControlKind.SUMMARY:
      return 1 + 1 + SUMMARY_BUCKET_BYTES * b.buckets.length;
    case ControlKind.WANT:
      return 8 + 1 + b.buckets.length;
    case ControlKind.RECORDS: {
      let n = 1;
      for (const r of b.records) n += recordBytes(r);
      return n;
    }
  }
}

/** Bytes of one record in RECORDS. */
export function recordBytes(r: MemberRecord): number {
  return 8 + 4 + 1 + metadataBytes(r.name, r.metadata);
}

/** Bytes of a name and metadata as ANNOUNCE and RECORDS carry them. */
function metadataBytes(name: string, metadata: [string, string][]): number {
  let n = 1 + Buffer.byteLength(name) + 1;
  for (const [k, v] of metadata) n += 1 + Buffer.byteLength(k) + 2 + Buffer.byteLength(v);
  return n;
}

/** Header fields the caller chooses for a CONTROL datagram. */
export interface ControlHeader {
  streamId: number;
  sessionHi: number;
  sessionLo: number;
  sequence: number;
  /** Header flags ({@link ControlFlag}); default 0. */
  flags?: number;
}

/** CONTROL header flags. */
export const ControlFlag = {
  /** The sender is a passive observer (`open({ passive: true })`): senders never pace to it. Set on every CONTROL datagram it sends; read from its ANNOUNCE. */
  OBSERVER: 0x01,
} as const;

/**
 * Encodes a complete CONTROL datagram (header + payload). `updates` must
 * already fit: the caller sizes them with {@link bodyBytes} and {@link UPDATE_BYTES}.
 */
export function encodeControl(h: ControlHeader, msg: ControlMessage): Buffer {
  const payloadBytes = PREFIX_BYTES + bodyBytes(msg.body) + UPDATE_COUNT_BYTES + UPDATE_BYTES * msg.updates.length;
  const buf = Buffer.alloc(HEADER_BYTES + payloadBytes);
  let o = HEADER_BYTES;
  buf[o++] = CONTROL_VERSION;
  buf[o++] = msg.body.kind;
  buf.writeUInt32BE(msg.incarnation >>> 0, o);
  o += 4;
  const b = msg.body;
  const id = (v: string | undefined) => {
    buf.write(v ?? ZERO_ID, o, 8, 'hex');
    o += 8;
  };
  const str = (s: string, lenBytes: 1 | 2) => {
    const n = Buffer.byteLength(s);
    if (lenBytes === 1) buf[o++] = n;
    else {
      buf.writeUInt16BE(n, o);
      o += 2;
    }
    o += buf.write(s, o, 'utf8');
  };
  const record = (name: string, metadata: [string, string][]) => {
    str(name, 1);
    buf[o++] = metadata.length;
    for (const [k, v] of metadata) {
      str(k, 1);
      str(v, 2);
    }
  };
  switch (b.kind) {
    case ControlKind.ANNOUNCE:
      record(b.name, b.metadata);
      break;
    case ControlKind.PING:
      id(b.target);
      buf.writeUInt32BE(b.nonce >>> 0, o);
      o += 4;
      id(b.requester);
      break;
    case ControlKind.ACK:
      id(b.requester);
      buf.writeUInt32BE(b.nonce >>> 0, o);
      o += 4;
      id(b.subject);
      break;
    case ControlKind.PING_REQ:
      id(b.target);
      buf.writeUInt32BE(b.nonce >>> 0, o);
      o += 4;
      buf[o++] = b.helpers.length;
      for (const hlp of b.helpers) id(hlp);
      break;
    case ControlKind.LEAVE:
      break;
    case ControlKind.HEARTBEAT:
      buf.writeUInt16BE(b.count, o);
      buf.writeUInt32BE(b.digest >>> 0, o + 2);
      o += 6;
      break;
    case ControlKind.SUMMARY:
      buf[o++] = b.first;
      buf[o++] = b.buckets.length;
      for (const k of b.buckets) {
        buf.writeUInt16BE(k.count, o);
        buf.writeUInt32BE(k.xor >>> 0, o + 2);
        o += 6;
      }
      break;
    case ControlKind.WANT:
      id(b.target);
      buf[o++] = b.buckets.length;
      for (const k of b.buckets) buf[o++] = k;
      break;
    case ControlKind.RECORDS:
      buf[o++] = b.records.length;
      for (const r of b.records) {
        id(r.id);
        buf.writeUInt32BE(r.incarnation >>> 0, o);
        o += 4;
        buf[o++] = r.observer ? 1 : 0;
        record(r.name, r.metadata);
      }
      break;
  }
  buf[o++] = msg.updates.length;
  for (const u of msg.updates) {
    buf[o++] = u.state;
    id(u.id);
    buf.writeUInt32BE(u.incarnation >>> 0, o);
    o += 4;
  }
  writeHeader(buf, 0, {
    type: DatagramType.CONTROL, flags: h.flags ?? 0, keyId: 0, streamId: h.streamId,
    sessionHi: h.sessionHi, sessionLo: h.sessionLo, sequence: h.sequence, payloadLength: payloadBytes,
  });
  return buf;
}

/** Cursor over a payload; every read checks bounds and flags `bad` instead of throwing. */
class Reader {
  bad = false;
  constructor(private readonly b: Uint8Array, public o: number, private readonly end: number) {}
  private need(n: number): boolean {
    if (this.bad || this.o + n > this.end) {
      this.bad = true;
      return false;
    }
    return true;
  }
  u8(): number {
    if (!this.need(1)) return 0;
    return this.b[this.o++]!;
  }
  u16(): number {
    if (!this.need(2)) return 0;
    const v = (this.b[this.o]! << 8) | this.b[this.o + 1]!;
    this.o += 2;
    return v;
  }
  u32(): number {
    if (!this.need(4)) return 0;
    const b = this.b;
    const o = this.o;
    this.o += 4;
    return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }
  id(): string {
    if (!this.need(8)) return ZERO_ID;
    let s = '';
    for (let i = 0; i < 8; i++) s += this.b[this.o + i]!.toString(16).padStart(2, '0');
    this.o += 8;
    return s;
  }
  str(n: number): string {
    if (!this.need(n)) return '';
    const view = this.b.subarray(this.o, this.o + n);
    this.o += n;
    try {
      return utf8.decode(view);
    } catch {
      this.bad = true;
      return '';
    }
  }
  get done(): boolean {
    return this.o === this.end;
  }
}

/** A name and its metadata; undefined for duplicate keys (the reader flags truncation and bad UTF-8 itself). */
function readRecord(r: Reader): { name: string; metadata: [string, string][] } | undefined {
  const name = r.str(r.u8());
  const count = r.u8();
  const metadata: [string, string][] = [];
  const keys = new Set<string>();
  for (let i = 0; i < count && !r.bad; i++) {
    const k = r.str(r.u8());
    const v = r.str(r.u16());
    if (keys.has(k)) return undefined;
    keys.add(k);
    metadata.push([k, v]);
  }
  return { name, metadata };
}

/**
 * Decodes the payload `buf[start, end)` of a CONTROL datagram. Returns
 * undefined when it is malformed: unknown version or kind, truncated,
 * trailing bytes, invalid UTF-8, a zero member id where one is required,
 * duplicate metadata keys, or an unknown update state. Never throws.
 */
export function decodeControl(buf: Uint8Array, start: number, end: number): ControlMessage | undefined {
  if (start < 0 || end > buf.length || end < start) return undefined;
  const r = new Reader(buf, start, end);
  if (r.u8() !== CONTROL_VERSION) return undefined;
  const kind = r.u8();
  const incarnation = r.u32();
  let body: ControlBody;
  switch (kind) {
    case ControlKind.ANNOUNCE: {
      const rec = readRecord(r);
      if (!rec) return undefined;
      body = { kind, name: rec.name, metadata: rec.metadata };
      break;
    }
    case ControlKind.PING: {
      const target = r.id();
      const nonce = r.u32();
      const requester = r.id();
      if (!isMemberId(target)) return undefined;
      body = { kind, target, nonce, requester: requester === ZERO_ID ? undefined : requester };
      break;
    }
    case ControlKind.ACK: {
      const requester = r.id();
      const nonce = r.u32();
      const subject = r.id();
      if (!isMemberId(requester) || !isMemberId(subject)) return undefined;
      body = { kind, requester, nonce, subject };
      break;
    }
    case ControlKind.PING_REQ: {
      const target = r.id();
      const nonce = r.u32();
      const count = r.u8();
      const helpers: string[] = [];
      for (let i = 0; i < count && !r.bad; i++) {
        const hlp = r.id();
        if (!isMemberId(hlp)) return undefined;
        helpers.push(hlp);
      }
      if (!isMemberId(target)) return undefined;
      body = { kind, target, nonce, helpers };
      break;
    }
    case ControlKind.LEAVE:
      body = { kind };
      break;
    case ControlKind.HEARTBEAT:
      body = { kind, count: r.u16(), digest: r.u32() };
      break;
    case ControlKind.SUMMARY: {
      const first = r.u8();
      const n = r.u8();
      if (first + n > BUCKETS) return undefined;
      const buckets: BucketSummary[] = [];
      for (let i = 0; i < n && !r.bad; i++) buckets.push({ count: r.u16(), xor: r.u32() });
      body = { kind, first, buckets };
      break;
    }
    case ControlKind.WANT: {
      const target = r.id();
      const n = r.u8();
      const buckets: number[] = [];
      for (let i = 0; i < n && !r.bad; i++) {
        const k = r.u8();
        if (k >= BUCKETS) return undefined;
        buckets.push(k);
      }
      if (!isMemberId(target)) return undefined;
      body = { kind, target, buckets };
      break;
    }
    case ControlKind.RECORDS: {
      const n = r.u8();
      const records: MemberRecord[] = [];
      for (let i = 0; i < n && !r.bad; i++) {
        const id = r.id();
        const inc = r.u32();
        const flags = r.u8();
        const rec = readRecord(r);
        if (!rec || !isMemberId(id) || flags > 1) return undefined;
        records.push({ id, incarnation: inc, observer: flags === 1, name: rec.name, metadata: rec.metadata });
      }
      body = { kind, records };
      break;
    }
    default:
      return undefined;
  }
  const n = r.u8();
  const updates: Update[] = [];
  for (let i = 0; i < n && !r.bad; i++) {
    const state = r.u8();
    const id = r.id();
    const inc = r.u32();
    if (state < UpdateState.ALIVE || state > UpdateState.LEFT || !isMemberId(id)) return undefined;
    updates.push({ state: state as UpdateState, id, incarnation: inc });
  }
  if (r.bad || !r.done) return undefined;
  return { incarnation, body, updates };
}
