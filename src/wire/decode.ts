/**
 * The one header-decode contract. Every received datagram is checked in this
 * order — length, magic, version, payload length, CRC32C, type, sequence —
 * and decoded into {@link DECODED_WORDS} u32:
 *
 * ```
 * [0] code: Reject.OK, or why it was dropped (src/wire/rejects.ts)
 * [1] type | flags << 8 | keyId << 16   [2] streamId
 * [3] sessionHi   [4] sessionLo   [5] sequence hi   [6] sequence lo
 * [7] payload length (of the plaintext, for a sealed datagram)
 * ```
 *
 * (words 1..7 are 0 unless the code is OK). Two implementations of the one
 * contract: {@link decodeHeaderWords} here and `decode_header` in
 * native/header.cc (both checked against test/vectors/header.json); the
 * sealed opens (native/aead.cc, src/crypto/aead.ts) run the same checks
 * through the same helpers ({@link checkPreamble}, {@link writeDecodedFields}
 * and their C++ twins). {@link batchDecoder} picks the addon when it loaded
 * (one call per batch) and checks that it writes this layout.
 */

import { loadNative } from '../addon/addon';
import { datagramChecksum } from './checksum';
import { CRC_OFFSET, emptyHeader, HEADER_BYTES, MAGIC, MAX_KNOWN_TYPE, readU32, VERSION, type Header } from './header';
import { Reject, REJECT_NAMES, type RejectName } from './rejects';

/** u32 words per decoded datagram. */
export const DECODED_WORDS = 8;

const TWO_32 = 0x1_0000_0000;

/** Decodes datagrams 0..count-1 of `buffer` into `out` (DECODED_WORDS each). Never throws on network input. */
export type BatchDecoder = (buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array) => void;

/** The first checks, shared with the sealed opens: the datagram fits, magic, version. */
export function checkPreamble(buf: Uint8Array, o: number, length: number): Reject {
  if (length < HEADER_BYTES || o < 0 || o + length > buf.length) return Reject.TRUNCATED;
  if (((buf[o]! << 8) | buf[o + 1]!) !== MAGIC) return Reject.BAD_MAGIC;
  if (buf[o + 2] !== VERSION) return Reject.BAD_VERSION;
  return Reject.OK;
}

/**
 * The last checks (type up to `maxType`, sequence below 2^53) and the decoded
 * words of the header at `buf[o]`, with `payloadLength` (the plaintext's, for
 * a sealed datagram). Writes `out[w, w + DECODED_WORDS)`; on a reject only the code is meaningful.
 */
export function writeDecodedFields(buf: Uint8Array, o: number, payloadLength: number, maxType: number, out: Uint32Array, w: number): Reject {
  const type = buf[o + 3]!;
  if (type === 0 || type > maxType) return reject(out, w, Reject.UNKNOWN_TYPE);
  const seqHi = readU32(buf, o + 16);
  if (seqHi >= 0x200000) return reject(out, w, Reject.BAD_SEQUENCE);
  out[w] = Reject.OK;
  out[w + 1] = type | (buf[o + 4]! << 8) | (buf[o + 5]! << 16);
  out[w + 2] = (buf[o + 6]! << 8) | buf[o + 7]!;
  out[w + 3] = readU32(buf, o + 8);
  out[w + 4] = readU32(buf, o + 12);
  out[w + 5] = seqHi;
  out[w + 6] = readU32(buf, o + 20);
  out[w + 7] = payloadLength;
  return Reject.OK;
}

/** Writes a reject code and zeroes the other words. */
export function reject(out: Uint32Array, w: number, code: number): Reject {
  out.fill(0, w + 1, w + DECODED_WORDS);
  out[w] = code;
  return code as Reject;
}

/** `words`, or a larger array when a batch of `count` datagrams does not fit (grown to the largest batch seen; the decoders' shared scratch). */
export function wordsFor(words: Uint32Array, count: number): Uint32Array {
  return words.length >= count * DECODED_WORDS ? words : new Uint32Array(count * DECODED_WORDS);
}

/** Checks and decodes the clear datagram `buf[o, o + length)` into `out[w, w + DECODED_WORDS)`; returns the code. Never throws. */
export function decodeHeaderWords(buf: Uint8Array, o: number, length: number, out: Uint32Array, w: number): Reject {
  const pre = checkPreamble(buf, o, length);
  if (pre !== Reject.OK) return reject(out, w, pre);
  const payloadLength = (buf[o + 24]! << 8) | buf[o + 25]!;
  if (payloadLength !== length - HEADER_BYTES) return reject(out, w, Reject.BAD_LENGTH);
  if (datagramChecksum(buf, o, payloadLength) !== readU32(buf, o + CRC_OFFSET)) return reject(out, w, Reject.BAD_CHECKSUM);
  return writeDecodedFields(buf, o, payloadLength, MAX_KNOWN_TYPE, out, w);
}

/** {@link decodeHeaderWords} over a batch: the TypeScript {@link BatchDecoder}. */
export function decodeBatchTs(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array): void {
  for (let i = 0; i < count; i++) decodeHeaderWords(buffer, offsets[i]!, lengths[i]!, out, i * DECODED_WORDS);
}

/**
 * The addon's batch decoder when the addon loaded and writes this contract's
 * layout (`layout.decodedWords`), else {@link decodeBatchTs}. Same codes,
 * same words either way.
 */
export function batchDecoder(): BatchDecoder {
  const { addon } = loadNative();
  if (addon === undefined || addon.layout.decodedWords !== DECODED_WORDS) return decodeBatchTs;
  const decode = addon.decodeHeaders.bind(addon);
  return (buffer, offsets, lengths, count, out) => void decode(buffer, offsets, lengths, count, out);
}

/** Reads the header decoded at `words[w]` (code OK) into `header`. */
export function unpackHeader(words: Uint32Array, w: number, header: Header): void {
  const tf = words[w + 1]!;
  header.type = tf & 0xff;
  header.flags = (tf >>> 8) & 0xff;
  header.keyId = (tf >>> 16) & 0xff;
  header.streamId = words[w + 2]!;
  header.sessionHi = words[w + 3]!;
  header.sessionLo = words[w + 4]!;
  header.sequence = words[w + 5]! * TWO_32 + words[w + 6]!;
  header.payloadLength = words[w + 7]!;
}

/**
 * Checks and decodes the header of one clear datagram `buf[offset, offset + length)`
 * into `out`. Returns {@link Reject.OK} or the reason it was rejected (then `out`
 * is not to be used). Never throws on any input.
 */
export function decodeHeaderInto(buf: Uint8Array, offset: number, length: number, out: Header): Reject {
  const words = new Uint32Array(DECODED_WORDS);
  const code = decodeHeaderWords(buf, offset, length, words, 0);
  if (code === Reject.OK) unpackHeader(words, 0, out);
  return code;
}

/** Result of {@link decodeHeader}: the header, or the reason for rejecting. */
export type DecodeResult = { ok: true; header: Header } | { ok: false; reason: RejectName };

/** Allocating convenience around `decodeHeaderInto`; never throws. */
export function decodeHeader(datagram: Uint8Array): DecodeResult {
  const header = emptyHeader();
  const code = decodeHeaderInto(datagram, 0, datagram.length, header);
  return code === Reject.OK ? { ok: true, header } : { ok: false, reason: REJECT_NAMES[code] as RejectName };
}
