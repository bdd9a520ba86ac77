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

export type ControlBody =
  | { kind: typeof ControlKind.ANNOUNCE; name: string; metadata: [string, string][] }
  | { kind: typeof ControlKind.PING; target: string; nonce: number; requester: string | undefined }
  | { kind: typeof ControlKind.ACK; requester: string; nonce: number; subject: string }
  | { kind: typeof ControlKind.PING_REQ; target: string; nonce: number; helpers: string[] }
  | { kind: typeof ControlKind.LEAVE };

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
    case ControlKind.ANNOUNCE: {
      let n = 1 + Buffer.byteLength(b.name) + 1;
      for (const [k, v] of b.metadata) n += 1 + Buffer.byteLength(k) + 2 + Buffer.byteLength(v);
      return n;
    }
    case ControlKind.PING:
      return 8 + 4 + 8;
    case ControlKind.ACK:
      return 8 + 4 + 8;
    case ControlKind.PING_REQ:
      return 8 + 4 + 1 + 8 * b.helpers.length;
    case ControlKind.LEAVE:
      return 0;
  }
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
  switch (b.kind) {
    case ControlKind.ANNOUNCE:
      str(b.name, 1);
      buf[o++] = b.metadata.length;
      for (const [k, v] of b.metadata) {
        str(k, 1);
        str(v, 2);
      }
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
      body = { kind, name, metadata };
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
