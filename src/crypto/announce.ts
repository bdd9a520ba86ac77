/**
 * Optional sender authentication (docs/security.md): a signing sender
 * announces its session — a datagram of type 7 (ANNOUNCE), sealed like every
 * other — whose payload binds its session id and the group key id to its
 * Ed25519 public key with a signature. A receiver given `trustedKeys`
 * delivers a session's data only once such an announcement verified against
 * one of them; until then it holds the session's source datagrams (bounded in
 * time and bytes), then drops them, counted as 'unverified'.
 *
 * Announcement payload (98 bytes):
 * ```
 *  0  u8  version (1)        1  u8 algorithm (1 = Ed25519)
 *  2  32  public key (raw)
 * 34  64  signature over "blipcast-announce-v1" ‖ session id (u64 BE) ‖ key id (u8) ‖ public key
 * ```
 */

import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { ANNOUNCE_INTERVAL_MS, MAX_UNVERIFIED_HOLD_BYTES, MAX_UNVERIFIED_HOLD_BYTES_PER_SESSION, MAX_UNVERIFIED_SESSIONS, MAX_VERIFIED_SESSIONS, UNVERIFIED_HOLD_MS } from './constants';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import { encodeDatagram, type Header } from '../wire/header';
import { SealedReject } from '../wire/rejects';
import { VerifyBudget, type VerifyBudgetOptions } from './verify-budget';

/** Datagram type of a session announcement (types ≥ 7 are free; 6 is membership CONTROL). */
export const ANNOUNCE_TYPE = 7;
export const ANNOUNCE_PAYLOAD_BYTES = 98;
const ANNOUNCE_VERSION = 1;
const ALG_ED25519 = 1;
const CONTEXT = Buffer.from('blipcast-announce-v1', 'latin1');

/** An Ed25519 key as open() accepts it: a node:crypto KeyObject or PEM text. */
export type SigningKeyInput = KeyObject | string | Buffer;

/** Raw 32-byte public key of an Ed25519 KeyObject (public or private). */
function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  return Buffer.from(jwk.x!, 'base64url');
}

function isKeyObject(v: unknown): v is KeyObject {
  return typeof v === 'object' && v !== null && typeof (v as KeyObject).asymmetricKeyType === 'string' && typeof (v as KeyObject).export === 'function';
}

/**
 * Checks the `signingKey` option: an Ed25519 private key.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming `name`.
 */
export function checkSigningKey(value: unknown, name: string): KeyObject {
  let key: KeyObject;
  if (isKeyObject(value)) key = value;
  else if (typeof value === 'string' || Buffer.isBuffer(value)) {
    try {
      key = createPrivateKey(value);
    } catch (err) {
      throw new InvalidArgumentValueError(`${name} is not a PEM private key: ${(err as Error).message}`);
    }
  } else throw new InvalidArgumentTypeError(`${name} must be an Ed25519 private KeyObject or PEM text, got ${value === null ? 'null' : typeof value}`);
  if (key.type !== 'private' || key.asymmetricKeyType !== 'ed25519') {
    throw new InvalidArgumentValueError(`${name} must be an Ed25519 private key, got a ${key.asymmetricKeyType ?? 'secret'} ${key.type} key`);
  }
  return key;
}

/**
 * Checks the `trustedKeys` option: Ed25519 public keys (KeyObjects — a
 * private key stands for its public half — or PEM text).
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming `name`.
 */
export function checkTrustedKeys(value: unknown, name: string): KeyObject[] {
  if (!Array.isArray(value)) throw new InvalidArgumentTypeError(`${name} must be an array of Ed25519 public keys, got ${value === null ? 'null' : typeof value}`);
  if (value.length === 0) throw new InvalidArgumentValueError(`${name} must hold at least one key (an empty list would deliver nothing)`);
  return value.map((v: unknown, i) => {
    let key: KeyObject;
    if (isKeyObject(v)) key = v.type === 'private' ? createPublicKey(v) : v;
    else if (typeof v === 'string' || Buffer.isBuffer(v)) {
      try {
        key = createPublicKey(v);
      } catch (err) {
        throw new InvalidArgumentValueError(`${name}[${i}] is not a PEM public key: ${(err as Error).message}`);
      }
    } else throw new InvalidArgumentTypeError(`${name}[${i}] must be an Ed25519 KeyObject or PEM text, got ${v === null ? 'null' : typeof v}`);
    if (key.asymmetricKeyType !== 'ed25519') throw new InvalidArgumentValueError(`${name}[${i}] must be an Ed25519 key, got ${key.asymmetricKeyType ?? 'a secret key'}`);
    return key;
  });
}

function signedBytes(sessionHi: number, sessionLo: number, keyId: number, publicKey: Uint8Array): Buffer {
  const b = Buffer.allocUnsafe(CONTEXT.length + 8 + 1 + 32);
  CONTEXT.copy(b, 0);
  b.writeUInt32BE(sessionHi, CONTEXT.length);
  b.writeUInt32BE(sessionLo, CONTEXT.length + 4);
  b[CONTEXT.length + 8] = keyId;
  b.set(publicKey, CONTEXT.length + 9);
  return b;
}

/** The sender side: builds (once per key id) and schedules the announcement of its session. */
export class Announcer {
  private readonly publicKey: Buffer;
  private readonly byKeyId = new Map<number, Buffer>();
  /** When the next announcement is due (scheduler ms); the first is due at once. */
  nextMs = 0;
  sent = 0;

  constructor(private readonly privateKey: KeyObject, private readonly sessionHi: number, private readonly sessionLo: number, private readonly intervalMs = ANNOUNCE_INTERVAL_MS) {
    this.publicKey = rawPublicKey(privateKey);
  }

  /** The clear announcement datagram for key `keyId`, if one is due at `nowMs` (then the next is scheduled). */
  poll(nowMs: number, keyId: number): Uint8Array | undefined {
    if (nowMs < this.nextMs) return undefined;
    this.nextMs = nowMs + this.intervalMs;
    let dg = this.byKeyId.get(keyId);
    if (dg === undefined) {
      const payload = Buffer.allocUnsafe(ANNOUNCE_PAYLOAD_BYTES);
      payload[0] = ANNOUNCE_VERSION;
      payload[1] = ALG_ED25519;
      this.publicKey.copy(payload, 2);
      sign(null, signedBytes(this.sessionHi, this.sessionLo, keyId, this.publicKey), this.privateKey).copy(payload, 34);
      dg = encodeDatagram({ type: ANNOUNCE_TYPE, flags: 0, keyId: 0, streamId: 0, sessionHi: this.sessionHi, sessionLo: this.sessionLo, sequence: 0 }, payload);
      this.byKeyId.clear(); // only the current key's announcement is ever sent again
      this.byKeyId.set(keyId, dg);
    }
    this.sent++;
    return dg;
  }
}

/** A held datagram of an unverified session: a copy, its header, where it came from. */
export interface HeldDatagram {
  datagram: Uint8Array;
  header: Header;
  from: { address: string; port: number };
}

interface Pending {
  firstMs: number;
  bytes: number;
  held: HeldDatagram[];
}

/** Counters of the receiver side of sender authentication (`stats().crypto`). */
export interface VerifierStats {
  sessionsVerified: number;
  sessionsPending: number;
  datagramsHeld: number;
  bytesHeld: number;
  /** Ed25519 signature checks made on announcements (each costs 50–130 µs). */
  announcementsChecked: number;
  /**
   * Announcements dropped unchecked because the verification budget (200 a
   * second in total, 1 a second per session) was spent: someone with the
   * group key is sending announcements that do not verify, or very many sessions started at once.
   */
  announcementsLimited: number;
}

/** The receiver side: which sessions proved a trusted key, and the datagrams held for the others. */
export class SessionVerifier {
  private readonly trusted = new Map<string, KeyObject>();
  private readonly verified = new Map<string, Buffer>();
  private readonly pending = new Map<string, Pending>();
  private heldBytes = 0;
  private lastKey = '';
  private readonly budget: VerifyBudget;
  private checked = 0;
  private limited = 0;

  /**
   * `self` is this channel's own session: its datagrams come back through
   * multicast loopback and are never held (the core ignores them anyway).
   * `budget` overrides the verification budget's defaults (tests).
   */
  constructor(trustedKeys: readonly KeyObject[], self: { sessionHi: number; sessionLo: number }, private readonly holdMs = UNVERIFIED_HOLD_MS, budget?: VerifyBudgetOptions) {
    for (const k of trustedKeys) this.trusted.set(rawPublicKey(k).toString('hex'), k);
    this.selfKey = `${self.sessionHi}:${self.sessionLo}`;
    this.budget = new VerifyBudget(budget);
  }

  private readonly selfKey: string;

  /** Whether session hi:lo has verified. */
  isVerified(sessionHi: number, sessionLo: number): boolean {
    const key = `${sessionHi}:${sessionLo}`;
    if (key === this.lastKey || key === this.selfKey) return true;
    if (!this.verified.has(key)) return false;
    this.lastKey = key;
    return true;
  }

  /**
   * Handles the payload of an authentic ANNOUNCE datagram at `nowMs`. Returns
   * 0 and the datagrams held for the session (oldest first) when it verified,
   * or the reject reason (the held datagrams stay until they expire), or
   * 'limited' when the signature would need checking but the verification
   * budget is spent (dropped unchecked, counted in {@link VerifierStats.announcementsLimited}).
   */
  handleAnnouncement(nowMs: number, header: Header, payload: Uint8Array): { code: 0; released: HeldDatagram[] } | { code: SealedReject } | { code: 'limited' } {
    if (payload.length !== ANNOUNCE_PAYLOAD_BYTES || payload[0] !== ANNOUNCE_VERSION || payload[1] !== ALG_ED25519) return { code: SealedReject.BAD_ANNOUNCEMENT };
    const key = `${header.sessionHi}:${header.sessionLo}`;
    const publicKey = payload.subarray(2, 34);
    const known = this.verified.get(key);
    // A repeat of the announcement that verified costs no signature check.
    if (known !== undefined && Buffer.compare(known, payload) === 0) return { code: 0, released: [] };
    const trustedKey = this.trusted.get(Buffer.from(publicKey).toString('hex'));
    if (trustedKey === undefined) return { code: SealedReject.UNTRUSTED_SIGNER };
    // Everything above is cheap; the signature check is what a forger would make us repeat.
    if (!this.budget.take(nowMs, key)) {
      this.limited++;
      return { code: 'limited' };
    }
    this.checked++;
    const ok = verify(null, signedBytes(header.sessionHi, header.sessionLo, header.keyId, publicKey), trustedKey, payload.subarray(34, 98));
    if (!ok) return { code: SealedReject.BAD_ANNOUNCEMENT };
    if (known !== undefined) {
      // Another trusted key claims a session that already verified under a different key: first one wins.
      if (Buffer.compare(known.subarray(2, 34), publicKey) !== 0) return { code: SealedReject.BAD_ANNOUNCEMENT };
      this.verified.set(key, Buffer.from(payload)); // the same signer re-signed (key rotation)
      return { code: 0, released: [] };
    }
    if (this.verified.size >= MAX_VERIFIED_SESSIONS) {
      const oldest = this.verified.keys().next().value as string;
      this.verified.delete(oldest);
      if (oldest === this.lastKey) this.lastKey = '';
    }
    this.verified.set(key, Buffer.from(payload));
    const p = this.pending.get(key);
    if (p === undefined) return { code: 0, released: [] };
    this.pending.delete(key);
    this.heldBytes -= p.bytes;
    return { code: 0, released: p.held };
  }

  /** Holds a copy of a source datagram of an unverified session. False when over a limit (the caller counts it dropped). */
  hold(nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number }): boolean {
    const key = `${header.sessionHi}:${header.sessionLo}`;
    let p = this.pending.get(key);
    if (p === undefined) {
      if (this.pending.size >= MAX_UNVERIFIED_SESSIONS) return false;
      p = { firstMs: nowMs, bytes: 0, held: [] };
      this.pending.set(key, p);
    }
    if (nowMs - p.firstMs > this.holdMs) return false;
    const n = datagram.length;
    if (p.bytes + n > MAX_UNVERIFIED_HOLD_BYTES_PER_SESSION || this.heldBytes + n > MAX_UNVERIFIED_HOLD_BYTES) return false;
    p.held.push({ datagram: Uint8Array.from(datagram), header: { ...header }, from: { address: from.address, port: from.port } });
    p.bytes += n;
    this.heldBytes += n;
    return true;
  }

  /** Drops what was held longer than the hold time; returns how many datagrams were dropped. */
  expire(nowMs: number): number {
    if (this.pending.size === 0) return 0;
    let dropped = 0;
    for (const [key, p] of this.pending) {
      if (nowMs - p.firstMs <= this.holdMs) continue;
      dropped += p.held.length;
      this.heldBytes -= p.bytes;
      p.held = [];
      p.bytes = 0;
      // The entry stays (empty) for one more hold period so that the session's further data is refused at once, then goes.
      if (nowMs - p.firstMs > 2 * this.holdMs) this.pending.delete(key);
    }
    return dropped;
  }

  stats(): VerifierStats {
    let held = 0;
    for (const p of this.pending.values()) held += p.held.length;
    return {
      sessionsVerified: this.verified.size, sessionsPending: this.pending.size, datagramsHeld: held, bytesHeld: this.heldBytes,
      announcementsChecked: this.checked, announcementsLimited: this.limited,
    };
  }
}
