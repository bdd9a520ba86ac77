/**
 * Encryption and sender authentication defaults (docs/security.md), each with
 * where its number comes from.
 */

/** AES-256-GCM key length, bytes. */
export const GROUP_KEY_BYTES = 32;
/** GCM tag appended to every sealed datagram, bytes (the full 128-bit tag; truncated tags weaken GCM, NIST SP 800-38D §5.2.1.2). */
export const AEAD_TAG_BYTES = 16;
/** Key id of a key given without one. Ids are 1..255 (header byte 5; 0 means clear). */
export const DEFAULT_KEY_ID = 1;
/**
 * How long a receiver still accepts the previous key after rotateKey(), ms:
 * long enough for every member to be told of the new key by whatever
 * distributes keys (minutes, not seconds), short enough that a leaked old key
 * stops working soon. 60 s.
 */
export const DEFAULT_KEY_GRACE_MS = 60_000;
/**
 * Highest per-sender datagram counter (48 bits): the nonce never repeats for a
 * session; a sender that reaches it stops rather than wrap. At 10 M datagrams/s
 * that is 325 days of one session.
 */
export const MAX_DATAGRAM_COUNTER = 2 ** 48 - 1;
/**
 * Replay window per sender session, datagrams: like IPsec ESN / DTLS, a bitmap
 * over the counter. 1024 covers the reordering of a whole sendmmsg batch
 * (MAX_SEND_BATCH) in flight; an older authentic datagram is dropped as a replay.
 */
export const REPLAY_WINDOW_DATAGRAMS = 1024;
/**
 * Sender sessions whose replay window a receiver keeps (least recently heard
 * evicted first): 4096 × ~200 bytes. Only authentic datagrams create one, so
 * only key holders can fill it.
 */
export const MAX_REPLAY_SESSIONS = 4096;
/**
 * A signing sender repeats its session announcement this often, ms (and sends
 * it before its first datagram): a receiver that missed it, or joined late,
 * verifies the session within one interval.
 */
export const ANNOUNCE_INTERVAL_MS = 1000;
/**
 * How long a receiver with trustedKeys holds source datagrams of a session not
 * verified yet, ms: two and a half announcement intervals, so one lost
 * announcement delays delivery but loses nothing.
 */
export const UNVERIFIED_HOLD_MS = 2500;
/** Bytes of unverified datagrams held per session / in total; beyond, the excess is dropped (and repaired by NAK once verified). */
export const MAX_UNVERIFIED_HOLD_BYTES_PER_SESSION = 4 * 1024 * 1024;
export const MAX_UNVERIFIED_HOLD_BYTES = 16 * 1024 * 1024;
/** Sessions a receiver remembers as verified, and unverified sessions it holds data for. */
export const MAX_VERIFIED_SESSIONS = 4096;
export const MAX_UNVERIFIED_SESSIONS = 256;
/**
 * Ed25519 verifications of session announcements a receiver spends per second
 * in total, and its burst. One costs 50–130 µs (node:crypto, measured on the
 * 2-core development machine, idle to loaded), so 200/s is at most ~2.6 % of
 * a core however many announcements a key holder forges. Honest needs are far
 * below: a session verifies once, and again only when its key id changes
 * (repeats of a verified announcement are compared, not verified), so even 200
 * senders starting together all verify within a second.
 */
export const ANNOUNCE_VERIFY_PER_SEC = 200;
export const ANNOUNCE_VERIFY_BURST = 200;
/**
 * The same per session: one a second, three back to back — a rotation re-signs
 * once, and one session (a looping member) cannot use up the total for the others.
 */
export const ANNOUNCE_VERIFY_PER_SESSION_PER_SEC = 1;
export const ANNOUNCE_VERIFY_PER_SESSION_BURST = 3;
/** Sessions whose verification budget is remembered (~100 bytes each); a fresh session id only meets the total. */
export const MAX_ANNOUNCE_VERIFY_SESSIONS = 1024;

