/**
 * Why a received datagram was dropped before the protocol core saw it: the
 * header checks ({@link Reject}, shared with the native decoder in
 * native/header.h), then encryption and sender authentication
 * ({@link SealedReject}: the first three written by the native open,
 * native/aead.h, and by the node:crypto fallback; the others decided in
 * TypeScript). Numbers are the ones both decoders write; the names are the
 * keys of `stats().rejects`.
 */

/** Why a datagram was rejected. Numbers are shared with the native decoder. */
export const Reject = {
  OK: 0,
  TRUNCATED: 1,
  BAD_MAGIC: 2,
  BAD_VERSION: 3,
  BAD_LENGTH: 4,
  BAD_CHECKSUM: 5,
  UNKNOWN_TYPE: 6,
  BAD_SEQUENCE: 7,
} as const;
export type Reject = (typeof Reject)[keyof typeof Reject];

/** Names of the reject reasons, indexed by `Reject` number; used as counter names. */
export const REJECT_NAMES = ['ok', 'truncated', 'bad-magic', 'bad-version', 'bad-length', 'bad-checksum', 'unknown-type', 'bad-sequence'] as const;
export type RejectName = Exclude<(typeof REJECT_NAMES)[number], 'ok'>;

/**
 * Drops by the encryption layer. Numbers start at 64 so that they never
 * collide with the header's {@link Reject} codes.
 */
export const SealedReject = {
  /** A clear datagram (key id 0) on a keyed channel. */
  CLEAR_ON_KEYED: 64,
  /** A key id this channel does not hold (never had, or past its grace period). */
  UNKNOWN_KEY: 65,
  /** The AES-GCM tag did not verify: tampered, forged, or sealed with another key under the same id. */
  AUTH_FAILED: 66,
  /** An authentic datagram whose counter was already seen, or is older than the replay window. */
  REPLAY: 67,
  /** A sealed datagram (key id ≠ 0) on a channel without a key. */
  KEYED_ON_CLEAR: 68,
  /** Source data from a session that never proved a trusted signing key (held, then dropped). */
  UNVERIFIED: 69,
  /** A session announcement that does not parse or whose signature does not verify. */
  BAD_ANNOUNCEMENT: 70,
  /** A correctly signed session announcement whose public key is not in `trustedKeys`. */
  UNTRUSTED_SIGNER: 71,
} as const;
export type SealedReject = (typeof SealedReject)[keyof typeof SealedReject];

/** The first {@link SealedReject} number. */
export const SEALED_REJECT_BASE = 64;

/** Counter names of the `SealedReject` reasons, indexed by code − `SEALED_REJECT_BASE`. */
export const SEALED_REJECT_NAMES = [
  'clear-on-keyed', 'unknown-key', 'auth-failed', 'replay', 'keyed-on-clear', 'unverified', 'bad-announcement', 'untrusted-signer',
] as const;
export type SealedRejectName = (typeof SEALED_REJECT_NAMES)[number];

/** Datagrams dropped before the protocol saw them, by reason: header checks, then encryption and authentication (`stats().rejects`). */
export type RejectCounts = Record<RejectName | SealedRejectName, number>;

/** A zeroed {@link RejectCounts}: the counters section of whatever decodes (src/protocol/batch-reader.ts) and opens (src/crypto/sealed-endpoint.ts). */
export function createRejectCounts(): RejectCounts {
  const out = {} as RejectCounts;
  for (let i = 1; i < REJECT_NAMES.length; i++) out[REJECT_NAMES[i] as RejectName] = 0;
  for (const name of SEALED_REJECT_NAMES) out[name] = 0;
  return out;
}

/** Counts one drop by its code (a {@link Reject} other than OK, or a {@link SealedReject}). */
export function countReject(counts: RejectCounts, code: number): void {
  const name = code >= SEALED_REJECT_BASE ? SEALED_REJECT_NAMES[code - SEALED_REJECT_BASE] : REJECT_NAMES[code];
  if (name !== undefined && name !== 'ok') counts[name]++;
}
