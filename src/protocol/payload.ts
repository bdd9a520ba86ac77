/**
 * Type-specific payload codecs (docs/protocol.md, "Payloads"). Everything is
 * big-endian; 64-bit sequence numbers are written as two u32 halves and must
 * stay below 2^53. Decoders never throw: they return undefined (or -1) for a
 * malformed payload, and the caller counts it as `invalid`.
 */

import { DatagramType, HEADER_BYTES, writeHeader, type Header } from '../wire/header';
import type { ReceiverReport } from './api';

/** DATA flags. */
export const DataFlag = {
  /** The datagram is a retransmission answering a NAK. */
  REPAIR: 0x01,
  /** The payload is one fragment of a larger message (otherwise: packed messages). */
  FRAGMENT: 0x02,
} as const;

/** HEARTBEAT flags. */
export const HeartbeatFlag = {
  /** The session is closing: the leads are final. */
  CLOSED: 0x01,
  /** The sender's window is blocked by flow control: receivers should send status now. */
  STATUS_REQUEST: 0x02,
  /** The sender runs flow control ('min' or 'max'): data it evicts from a receiver that reports status is lost to flow control. */
  FLOW_CONTROLLED: 0x04,
  /** With CLOSED: the session has ended and answers nothing more; what is still missing is lost ('source-gone'). */
  FINAL: 0x08,
} as const;

/** STATUS flags. */
export const StatusFlag = {
  /** The receiver is closing: the source stops pacing to it and stops waiting for it. */
  LEAVING: 0x01,
  /** A health report ({@link StatusHealth}, STATUS_HEALTH_BYTES) follows the entries. */
  HEALTH: 0x02,
} as const;

/** NCF reason byte. */
export const NcfReason = {
  /** The repair for these ranges is on its way. */
  REPAIRING: 0,
  /** These ranges left the window: unrecoverable (loss 'window'). */
  WINDOW: 1,
  /** These ranges left the window although this receiver had not acknowledged them (loss 'flow-control'). */
  FLOW_CONTROL: 2,
} as const;

/** Bytes of the length prefix of each packed message. */
export const PACKED_PREFIX_BYTES = 2;
/** Bytes of the fragment header: u32 message length, u32 byte offset. */
export const FRAGMENT_PREFIX_BYTES = 8;
export const HEARTBEAT_ENTRY_BYTES = 22;
export const STATUS_ENTRY_BYTES = 14;
export const RANGE_BYTES = 16;
export const NAK_FIXED_BYTES = 10;
export const NCF_FIXED_BYTES = 4;
export const STATUS_FIXED_BYTES = 10;
/** Bytes of the health report a STATUS with the HEALTH flag carries after its entries. */
export const STATUS_HEALTH_BYTES = 32;
/** `repairLatencyUs` of a receiver that has not timed a repair yet. */
export const NO_REPAIR_LATENCY = 0xffffffff;
export const HEARTBEAT_FIXED_BYTES = 2;

const TWO_32 = 0x1_0000_0000;
const SEQ_HI_LIMIT = 0x200000; // 2^21: keeps a u64 below 2^53

export function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}
export function writeU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}
export function readU16(b: Uint8Array, o: number): number {
  return (b[o]! << 8) | b[o + 1]!;
}
export function writeU16(b: Uint8Array, o: number, v: number): void {
  b[o] = (v >>> 8) & 0xff;
  b[o + 1] = v & 0xff;
}
/** Reads a u64 that must be < 2^53; returns -1 otherwise. */
export function readSeq(b: Uint8Array, o: number): number {
  const hi = readU32(b, o);
  if (hi >= SEQ_HI_LIMIT) return -1;
  return hi * TWO_32 + readU32(b, o + 4);
}
export function writeSeq(b: Uint8Array, o: number, v: number): void {
  writeU32(b, o, Math.floor(v / TWO_32));
  writeU32(b, o + 4, v >>> 0);
}

// ---------------------------------------------------------------- DATA

/**
 * Splits a packed DATA payload `b[start, end)` into message views: fills
 * `offsets`/`lengths` (grown as needed) and returns the message count, or -1
 * when the records do not exactly fill the payload. An empty payload is invalid.
 */
export function parsePacked(b: Uint8Array, start: number, end: number, offsets: number[], lengths: number[]): number {
  let o = start;
  let n = 0;
  while (o < end) {
    if (o + PACKED_PREFIX_BYTES > end) return -1;
    const len = (b[o]! << 8) | b[o + 1]!;
    o += PACKED_PREFIX_BYTES;
    if (o + len > end) return -1;
    offsets[n] = o;
    lengths[n] = len;
    n++;
    o += len;
  }
  return n === 0 ? -1 : n;
}

/** A decoded fragment header; `dataStart` is the offset of its bytes in the datagram. */
export interface FragmentInfo {
  messageBytes: number;
  offset: number;
  dataStart: number;
  dataBytes: number;
}

/** Decodes a fragment payload `b[start, end)` into `out`; false when malformed. */
export function parseFragment(b: Uint8Array, start: number, end: number, out: FragmentInfo): boolean {
  if (end - start <= FRAGMENT_PREFIX_BYTES) return false;
  const messageBytes = readU32(b, start);
  const offset = readU32(b, start + 4);
  const dataBytes = end - start - FRAGMENT_PREFIX_BYTES;
  if (offset + dataBytes > messageBytes) return false;
  out.messageBytes = messageBytes;
  out.offset = offset;
  out.dataStart = start + FRAGMENT_PREFIX_BYTES;
  out.dataBytes = dataBytes;
  return true;
}

// ---------------------------------------------------------------- control datagrams

/** One inclusive range of sequence numbers. */
export interface SeqRange {
  from: number;
  to: number;
}

export interface HeartbeatEntry {
  streamId: number;
  /** Oldest sequence still repairable. */
  trailSeq: number;
  /** One past the highest sequence sent (lead + 1); equal to trailSeq when the window is empty. */
  nextSeq: number;
  /** Milliseconds since the stream's first datagram was sent (saturates at 2^32 − 1). */
  ageMs: number;
}

export interface StatusEntry {
  streamId: number;
  /** One past the highest sequence delivered contiguously (or declared lost). */
  nextSeq: number;
  /** Bytes the receiver can still buffer for this source. */
  freeBytes: number;
}

export interface NakPayload {
  targetHi: number;
  targetLo: number;
  ranges: SeqRange[];
}

export interface NcfPayload {
  reason: number;
  ranges: SeqRange[];
}

/**
 * The health report of a STATUS (docs/protocol.md, "STATUS"): the fields of
 * {@link ReceiverReport} as they travel, the repair latency in µs
 * ({@link NO_REPAIR_LATENCY} before the first repair). Counters saturate at 2^32 − 1.
 */
export type StatusHealth = Omit<ReceiverReport, 'repairLatencyMs'> & { repairLatencyUs: number };

/** A health report as the API shows it (ReceiverReport: latency in ms, undefined before the first repair). */
export function reportOf(h: StatusHealth): ReceiverReport {
  const { repairLatencyUs, ...counts } = h;
  return { ...counts, repairLatencyMs: repairLatencyUs === NO_REPAIR_LATENCY ? undefined : repairLatencyUs / 1000 };
}

export interface StatusPayload {
  targetHi: number;
  targetLo: number;
  entries: StatusEntry[];
  /** Present when the HEALTH flag is set. */
  health?: StatusHealth;
}

function readRanges(b: Uint8Array, o: number, count: number): SeqRange[] | undefined {
  const ranges: SeqRange[] = [];
  for (let i = 0; i < count; i++, o += RANGE_BYTES) {
    const from = readSeq(b, o);
    const to = readSeq(b, o + 8);
    if (from < 0 || to < from) return undefined;
    ranges.push({ from, to });
  }
  return ranges;
}

function writeRanges(b: Uint8Array, o: number, ranges: readonly SeqRange[]): void {
  for (const r of ranges) {
    writeSeq(b, o, r.from);
    writeSeq(b, o + 8, r.to);
    o += RANGE_BYTES;
  }
}

export function decodeHeartbeat(b: Uint8Array, start: number, end: number): HeartbeatEntry[] | undefined {
  if (end - start < HEARTBEAT_FIXED_BYTES) return undefined;
  const count = readU16(b, start);
  if (end - start !== HEARTBEAT_FIXED_BYTES + count * HEARTBEAT_ENTRY_BYTES) return undefined;
  const entries: HeartbeatEntry[] = [];
  for (let i = 0, o = start + HEARTBEAT_FIXED_BYTES; i < count; i++, o += HEARTBEAT_ENTRY_BYTES) {
    const trailSeq = readSeq(b, o + 2);
    const nextSeq = readSeq(b, o + 10);
    if (trailSeq < 0 || nextSeq < trailSeq) return undefined;
    entries.push({ streamId: readU16(b, o), trailSeq, nextSeq, ageMs: readU32(b, o + 18) });
  }
  return entries;
}

export function decodeNak(b: Uint8Array, start: number, end: number): NakPayload | undefined {
  if (end - start < NAK_FIXED_BYTES) return undefined;
  const count = readU16(b, start + 8);
  if (count === 0 || end - start !== NAK_FIXED_BYTES + count * RANGE_BYTES) return undefined;
  const ranges = readRanges(b, start + NAK_FIXED_BYTES, count);
  if (!ranges) return undefined;
  return { targetHi: readU32(b, start), targetLo: readU32(b, start + 4), ranges };
}

export function decodeNcf(b: Uint8Array, start: number, end: number): NcfPayload | undefined {
  if (end - start < NCF_FIXED_BYTES) return undefined;
  const reason = b[start]!;
  const count = readU16(b, start + 2);
  if (reason > NcfReason.FLOW_CONTROL || b[start + 1] !== 0) return undefined;
  if (count === 0 || end - start !== NCF_FIXED_BYTES + count * RANGE_BYTES) return undefined;
  const ranges = readRanges(b, start + NCF_FIXED_BYTES, count);
  if (!ranges) return undefined;
  return { reason, ranges };
}

/** `flags`: the header's; with HEALTH the payload must end with the health report. */
export function decodeStatus(b: Uint8Array, start: number, end: number, flags = 0): StatusPayload | undefined {
  if (end - start < STATUS_FIXED_BYTES) return undefined;
  const count = readU16(b, start + 8);
  const withHealth = (flags & StatusFlag.HEALTH) !== 0;
  if (end - start !== STATUS_FIXED_BYTES + count * STATUS_ENTRY_BYTES + (withHealth ? STATUS_HEALTH_BYTES : 0)) return undefined;
  const entries: StatusEntry[] = [];
  let o = start + STATUS_FIXED_BYTES;
  for (let i = 0; i < count; i++, o += STATUS_ENTRY_BYTES) {
    const nextSeq = readSeq(b, o + 2);
    if (nextSeq < 0) return undefined;
    entries.push({ streamId: readU16(b, o), nextSeq, freeBytes: readU32(b, o + 10) });
  }
  const payload: StatusPayload = { targetHi: readU32(b, start), targetLo: readU32(b, start + 4), entries };
  if (withHealth) {
    if (readU16(b, o + 22) !== 0) return undefined;
    payload.health = {
      naksSent: readU32(b, o), repairsReceived: readU32(b, o + 4), messagesLost: readU32(b, o + 8), kernelDrops: readU32(b, o + 12),
      reorderBytes: readU32(b, o + 16), gapsOpen: readU16(b, o + 20), repairLatencyUs: readU32(b, o + 24), readBacklogBytes: readU32(b, o + 28),
    };
  }
  return payload;
}

/** A count as a saturating u32. */
function u32(v: number): number {
  return Math.min(0xffffffff, Math.max(0, Math.floor(v)));
}

/** Fields every control datagram of one endpoint shares. */
export interface Origin {
  sessionHi: number;
  sessionLo: number;
  /** Whether the datagram carries the header CRC (default true; see EndpointConfig.checksum). */
  checksum?: boolean;
}

function finish(buf: Buffer, origin: Origin, type: number, flags: number, streamId: number, sequence: number): Buffer {
  const h: Header = {
    type, flags, keyId: 0, streamId, sessionHi: origin.sessionHi, sessionLo: origin.sessionLo,
    sequence, payloadLength: buf.length - HEADER_BYTES,
  };
  writeHeader(buf, 0, h, origin.checksum !== false);
  return buf;
}

/** HEARTBEAT: u16 count, then per stream u16 stream id, u64 trail, u64 next, u32 age ms. Header stream 0, sequence 0. */
export function encodeHeartbeat(origin: Origin, flags: number, entries: readonly HeartbeatEntry[]): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + HEARTBEAT_FIXED_BYTES + entries.length * HEARTBEAT_ENTRY_BYTES);
  let o = HEADER_BYTES;
  writeU16(buf, o, entries.length);
  o += 2;
  for (const e of entries) {
    writeU16(buf, o, e.streamId);
    writeSeq(buf, o + 2, e.trailSeq);
    writeSeq(buf, o + 10, e.nextSeq);
    writeU32(buf, o + 18, Math.min(0xffffffff, Math.max(0, Math.floor(e.ageMs))));
    o += HEARTBEAT_ENTRY_BYTES;
  }
  return finish(buf, origin, DatagramType.HEARTBEAT, flags, 0, 0);
}

/** NAK: u64 target session, u16 count, ranges. Header stream = the ranges' stream, sequence = first `from`. */
export function encodeNak(origin: Origin, streamId: number, targetHi: number, targetLo: number, ranges: readonly SeqRange[]): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + NAK_FIXED_BYTES + ranges.length * RANGE_BYTES);
  writeU32(buf, HEADER_BYTES, targetHi);
  writeU32(buf, HEADER_BYTES + 4, targetLo);
  writeU16(buf, HEADER_BYTES + 8, ranges.length);
  writeRanges(buf, HEADER_BYTES + NAK_FIXED_BYTES, ranges);
  return finish(buf, origin, DatagramType.NAK, 0, streamId, ranges[0]?.from ?? 0);
}

/** NCF: u8 reason, u8 0, u16 count, ranges. Header stream = the ranges' stream, sequence = first `from`. */
export function encodeNcf(origin: Origin, streamId: number, reason: number, ranges: readonly SeqRange[]): Buffer {
  const buf = Buffer.allocUnsafe(HEADER_BYTES + NCF_FIXED_BYTES + ranges.length * RANGE_BYTES);
  buf[HEADER_BYTES] = reason;
  buf[HEADER_BYTES + 1] = 0;
  writeU16(buf, HEADER_BYTES + 2, ranges.length);
  writeRanges(buf, HEADER_BYTES + NCF_FIXED_BYTES, ranges);
  return finish(buf, origin, DatagramType.NCF, 0, streamId, ranges[0]?.from ?? 0);
}

/**
 * STATUS: u64 target session, u16 count, then per stream u16 stream id, u64 next, u32 free bytes; with `health`
 * (flag HEALTH, set here) the health report after them. Header stream 0, sequence 0.
 */
export function encodeStatus(origin: Origin, targetHi: number, targetLo: number, entries: readonly StatusEntry[], flags = 0, health?: StatusHealth): Buffer {
  flags = health === undefined ? flags & ~StatusFlag.HEALTH : flags | StatusFlag.HEALTH;
  const buf = Buffer.allocUnsafe(HEADER_BYTES + STATUS_FIXED_BYTES + entries.length * STATUS_ENTRY_BYTES + (health === undefined ? 0 : STATUS_HEALTH_BYTES));
  writeU32(buf, HEADER_BYTES, targetHi);
  writeU32(buf, HEADER_BYTES + 4, targetLo);
  writeU16(buf, HEADER_BYTES + 8, entries.length);
  let o = HEADER_BYTES + STATUS_FIXED_BYTES;
  for (const e of entries) {
    writeU16(buf, o, e.streamId);
    writeSeq(buf, o + 2, e.nextSeq);
    writeU32(buf, o + 10, Math.min(0xffffffff, Math.max(0, Math.floor(e.freeBytes))));
    o += STATUS_ENTRY_BYTES;
  }
  if (health !== undefined) {
    writeU32(buf, o, u32(health.naksSent));
    writeU32(buf, o + 4, u32(health.repairsReceived));
    writeU32(buf, o + 8, u32(health.messagesLost));
    writeU32(buf, o + 12, u32(health.kernelDrops));
    writeU32(buf, o + 16, u32(health.reorderBytes));
    writeU16(buf, o + 20, Math.min(0xffff, Math.max(0, Math.floor(health.gapsOpen))));
    writeU16(buf, o + 22, 0);
    writeU32(buf, o + 24, u32(health.repairLatencyUs));
    writeU32(buf, o + 28, u32(health.readBacklogBytes));
  }
  return finish(buf, origin, DatagramType.STATUS, flags, 0, 0);
}
