/**
 * The fixed datagram header (docs/protocol.md, "Header"). Every blipcast
 * datagram starts with these 32 bytes, big-endian:
 *
 * ```
 *  0  u16 magic 0xB1CA      2 u8 version (1)   3 u8 type
 *  4  u8  flags             5 u8 key id (0 = clear)
 *  6  u16 stream id
 *  8  u64 sender session id (random per start)
 * 16  u64 sequence number (< 2^53)
 * 24  u16 payload length   26 u16 reserved (0)
 * 28  u32 CRC32C of bytes 0..27 followed by the payload
 * 32  payload
 * ```
 *
 * Decoding (the checks, and the decoded layout shared with the addon) is
 * src/wire/decode.ts.
 */

import { datagramChecksum } from './checksum';

export const HEADER_BYTES = 32;
export const MAGIC = 0xb1ca;
export const VERSION = 1;
/** Offset of the CRC32C field; the checksum covers [0, CRC_OFFSET) and the payload. */
export const CRC_OFFSET = 28;
/** Largest payload one header can describe (the u16 length field). */
export const MAX_PAYLOAD_BYTES = 0xffff - HEADER_BYTES;
/** Sequence numbers stay below 2^53 so that they are exact JavaScript numbers. */
export const MAX_SEQUENCE = Number.MAX_SAFE_INTEGER;

/** Datagram types. Numbers are on the wire; never reuse one. */
export const DatagramType = {
  /** Application data (possibly several packed messages, or one fragment). */
  DATA: 1,
  /** Sender heartbeat: window trail and lead. */
  HEARTBEAT: 2,
  /** Receiver negative acknowledgement: ranges it is missing. */
  NAK: 3,
  /** Sender NAK confirmation: "repair for this range is coming". */
  NCF: 4,
  /** Receiver status: highest contiguous sequence and free window. */
  STATUS: 5,
  /** Group control (membership, announcements). */
  CONTROL: 6,
} as const;
export type DatagramType = (typeof DatagramType)[keyof typeof DatagramType];
/** Highest datagram type of a clear datagram. */
export const MAX_KNOWN_TYPE = 6;
/** Highest datagram type of a sealed datagram: 7 is the session announcement (src/crypto/announce.ts). */
export const MAX_SEALED_TYPE = 7;

/** Decoded header fields. The 64-bit session id is split into two u32 halves. */
export interface Header {
  type: number;
  flags: number;
  keyId: number;
  streamId: number;
  sessionHi: number;
  sessionLo: number;
  sequence: number;
  payloadLength: number;
}

/** A fresh, zeroed {@link Header} (to reuse with decodeHeaderInto, src/wire/decode.ts). */
export function emptyHeader(): Header {
  return { type: 0, flags: 0, keyId: 0, streamId: 0, sessionHi: 0, sessionLo: 0, sequence: 0, payloadLength: 0 };
}

const TWO_32 = 0x1_0000_0000;

/**
 * Writes the header for a payload that is already in place at
 * `buf[offset + HEADER_BYTES, offset + HEADER_BYTES + h.payloadLength)`, checksum included
 * unless `checksum` is false (the CRC field is then 0: for a datagram sealed
 * before it is sent, whose seal writes its counter there).
 * The caller guarantees the fields are in range (see {@link checkHeaderFields}).
 */
export function writeHeader(buf: Uint8Array, offset: number, h: Header, checksum = true): void {
  const o = offset;
  buf[o] = MAGIC >>> 8;
  buf[o + 1] = MAGIC & 0xff;
  buf[o + 2] = VERSION;
  buf[o + 3] = h.type;
  buf[o + 4] = h.flags;
  buf[o + 5] = h.keyId;
  buf[o + 6] = h.streamId >>> 8;
  buf[o + 7] = h.streamId & 0xff;
  writeU32(buf, o + 8, h.sessionHi);
  writeU32(buf, o + 12, h.sessionLo);
  writeU32(buf, o + 16, Math.floor(h.sequence / TWO_32));
  writeU32(buf, o + 20, h.sequence >>> 0);
  buf[o + 24] = h.payloadLength >>> 8;
  buf[o + 25] = h.payloadLength & 0xff;
  buf[o + 26] = 0;
  buf[o + 27] = 0;
  writeU32(buf, o + CRC_OFFSET, checksum ? datagramChecksum(buf, o, h.payloadLength) : 0);
}

/** Throws a RangeError naming the first field of `h` that does not fit the wire format. */
export function checkHeaderFields(h: Header): void {
  const limits: [keyof Header, number][] = [
    ['type', 0xff], ['flags', 0xff], ['keyId', 0xff], ['streamId', 0xffff],
    ['sessionHi', 0xffffffff], ['sessionLo', 0xffffffff], ['sequence', MAX_SEQUENCE], ['payloadLength', MAX_PAYLOAD_BYTES],
  ];
  for (const [name, max] of limits) {
    const v = h[name];
    if (!Number.isInteger(v) || v < 0 || v > max) throw new RangeError(`header field ${name} must be an integer in 0..${max}, got ${v}`);
  }
}

/** Builds one complete datagram: header + a copy of `payload`. */
export function encodeDatagram(fields: Omit<Header, 'payloadLength'>, payload: Uint8Array = new Uint8Array(0)): Buffer {
  const h: Header = { ...fields, payloadLength: payload.length };
  checkHeaderFields(h);
  const buf = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  buf.set(payload, HEADER_BYTES);
  writeHeader(buf, 0, h);
  return buf;
}

/** 16 hex digits of a session id. */
export function sessionIdHex(hi: number, lo: number): string {
  return hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0');
}

export function readU32(buf: Uint8Array, o: number): number {
  return ((buf[o]! << 24) | (buf[o + 1]! << 16) | (buf[o + 2]! << 8) | buf[o + 3]!) >>> 0;
}

function writeU32(buf: Uint8Array, o: number, v: number): void {
  buf[o] = v >>> 24;
  buf[o + 1] = (v >>> 16) & 0xff;
  buf[o + 2] = (v >>> 8) & 0xff;
  buf[o + 3] = v & 0xff;
}
