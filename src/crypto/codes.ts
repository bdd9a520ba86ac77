/**
 * Why a datagram was dropped by the encryption layer. The first three are
 * written by the native open (native/aead.h `SealedReject`) and by the
 * node:crypto fallback; the others are decided in JavaScript. Numbers start
 * at 64 so that they never collide with the header's {@link Reject} codes.
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

/** Counter names of the {@link SealedReject} reasons, indexed by code − {@link SEALED_REJECT_BASE}. */
export const SEALED_REJECT_NAMES = [
  'clear-on-keyed', 'unknown-key', 'auth-failed', 'replay', 'keyed-on-clear', 'unverified', 'bad-announcement', 'untrusted-signer',
] as const;
export type SealedRejectName = (typeof SEALED_REJECT_NAMES)[number];
