/**
 * The encryption state of one channel (docs/security.md): which key seals,
 * which keys open (the current one, and the previous one for `keyGraceMs`
 * after a rotation), the sender's datagram counter, and the replay windows of
 * the sessions heard. The driver calls {@link seal} once per send batch and
 * {@link open} once per receive batch; the bytes go through an
 * {@link AeadBackend} (the addon, or node:crypto).
 */

import { MAX_DATAGRAM_COUNTER } from './constants';
import { CounterExhaustedError, InvalidArgumentValueError } from '../util/errors';
import { createAead, type AeadBackend } from './aead';
import type { GroupKey } from './key';
import { ReplayTable } from './replay-window';

export interface GroupCryptoOptions {
  key: GroupKey;
  /** How long the previous key still opens datagrams after {@link GroupCrypto.rotateKey}, ms. */
  keyGraceMs: number;
  /** Default: the addon when it loads, else node:crypto. */
  backend?: AeadBackend;
  /** The first counter value to use (tests of exhaustion); default 0. */
  firstCounter?: number;
}

/** What a channel reports about its encryption (`stats().crypto`). */
export interface CryptoStats {
  /** 'native' (the addon's batch AES-GCM) or 'node' (node:crypto per datagram). */
  backend: 'native' | 'node';
  /** Key id that seals what this channel sends. */
  keyId: number;
  /** Key id still accepted from senders that have not rotated yet, or undefined. */
  previousKeyId: number | undefined;
  /** Datagrams sealed by this session so far (= the next counter value). */
  datagramsSealed: number;
  /** Authentic datagrams opened. */
  datagramsOpened: number;
  /** Sender sessions with a replay window, and windows evicted to stay under the limit. */
  replaySessions: number;
  replayEvictions: number;
}

export class GroupCrypto {
  readonly backend: AeadBackend;
  private currentId: number;
  private previousId: number | undefined;
  private previousUntilMs = Infinity;
  private readonly keyGraceMs: number;
  private counter: number;
  private opened = 0;
  readonly replay = new ReplayTable();

  constructor(options: GroupCryptoOptions) {
    this.backend = options.backend ?? createAead();
    this.keyGraceMs = options.keyGraceMs;
    this.counter = options.firstCounter ?? 0;
    this.currentId = options.key.id;
    this.backend.setKey(options.key.id, options.key.key);
  }

  /** The key id that seals. */
  get keyId(): number {
    return this.currentId;
  }

  /**
   * Seals a send batch with the current key and the next counters.
   * @throws CounterExhaustedError when the batch would need a counter past
   *   2^48 − 1 (nothing is sealed; the sender must stop).
   */
  seal(datagrams: readonly Uint8Array[]): Uint8Array[] {
    if (datagrams.length === 0) return [];
    if (this.counter + datagrams.length - 1 > MAX_DATAGRAM_COUNTER) throw new CounterExhaustedError();
    const sealed = this.backend.sealBatch(this.currentId, this.counter, datagrams);
    this.counter += datagrams.length;
    return sealed;
  }

  /**
   * Opens a receive batch in place (see {@link AeadBackend.openBatch}); first
   * forgets the previous key if its grace period is over.
   */
  open(nowMs: number, buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array): void {
    if (nowMs >= this.previousUntilMs) this.dropPrevious();
    this.backend.openBatch(buffer, offsets, lengths, count, out);
  }

  /** Counts an authentic datagram and checks its counter against the sender's replay window (false = replay). */
  accept(sessionHi: number, sessionLo: number, counter: number, nowMs: number): boolean {
    this.opened++;
    return this.replay.accept(sessionHi, sessionLo, counter, nowMs);
  }

  /**
   * Seals from now on with `key`; the key it replaces still opens datagrams
   * until `nowMs + keyGraceMs`. A key still in its grace period from an
   * earlier rotation is forgotten now (one previous key at a time).
   * @throws InvalidArgumentValueError when `key.id` is the current id (its
   *   datagrams in flight could no longer be told apart). Nothing changes then.
   */
  rotateKey(key: GroupKey, nowMs: number): void {
    if (key.id === this.currentId) {
      throw new InvalidArgumentValueError(`the new key must have another id than the current one (${this.currentId}): datagrams in flight name their key by id`);
    }
    if (this.previousId !== undefined && this.previousId !== key.id) this.backend.removeKey(this.previousId);
    this.backend.setKey(key.id, key.key);
    this.previousId = this.currentId;
    this.previousUntilMs = nowMs + this.keyGraceMs;
    this.currentId = key.id;
  }

  stats(): CryptoStats {
    return {
      backend: this.backend.kind,
      keyId: this.currentId,
      previousKeyId: this.previousId,
      datagramsSealed: this.counter,
      datagramsOpened: this.opened,
      replaySessions: this.replay.size,
      replayEvictions: this.replay.evictions,
    };
  }

  private dropPrevious(): void {
    if (this.previousId !== undefined) this.backend.removeKey(this.previousId);
    this.previousId = undefined;
    this.previousUntilMs = Infinity;
  }
}
