/**
 * Encryption as a sans-IO wrapper around an endpoint (docs/security.md), the
 * way the grouped endpoint wraps it for membership: the driver drives a
 * sealed endpoint exactly like a clear one.
 *
 * In: one call opens (and checks the headers of) a whole receive batch in
 * place; each authentic datagram passes the replay window, then (with
 * trustedKeys) the session check, then goes to the inner endpoint. Session
 * announcements are handled here and never reach it.
 *
 * Out: pollTransmit drains the inner endpoint (and a due announcement) and
 * seals what it got in one call. Every datagram gets a fresh counter, repairs
 * included: a repair's plaintext is the original's, and reusing a nonce would
 * leak the GHASH key. When the counter runs out nothing more is sent, ever:
 * one `send-stopped` event says so, and send() throws CounterExhaustedError.
 */

import { CounterExhaustedError } from '../util/errors';
import type { CloseOutcome, Endpoint, ProtocolStats, SourceInfo } from '../protocol/api';
import { LazySource } from '../protocol/batch-reader';
import { Fifo } from '../util/fifo';
import type { ReceivedBatch } from '../wire/batch';
import { DECODED_WORDS, unpackHeader, wordsFor } from '../wire/decode';
import { DatagramType, emptyHeader, HEADER_BYTES, type Header } from '../wire/header';
import { countReject, Reject, type RejectCounts } from '../wire/rejects';
import { readCounter } from './aead';
import { ANNOUNCE_TYPE, type Announcer, type SessionVerifier } from './announce';
import type { GroupCrypto } from './group-crypto';
import type { GroupKey } from './key';

/** Most datagrams sealed in one call (one send batch's worth). */
const MAX_SEAL_BATCH = 1024;

/** The inner endpoint's events, and the end of sending when the datagram counter ran out. */
export type SealedEvent<E> = E | { type: 'send-stopped'; error: CounterExhaustedError };

export interface SealedEndpointOptions {
  /** The channel's encryption state. */
  crypto: GroupCrypto;
  /** The channel's `rejects` counters section. */
  rejects: RejectCounts;
  /** Sender authentication: announces this session. */
  announcer?: Announcer;
  /** Sender authentication: delivers only sessions that proved a trusted key. */
  verifier?: SessionVerifier;
}

export class SealedEndpoint<E> implements Endpoint<SealedEvent<E>> {
  private readonly crypto: GroupCrypto;
  private readonly rejects: RejectCounts;
  private readonly announcer: Announcer | undefined;
  private readonly verifier: SessionVerifier | undefined;
  private readonly header = emptyHeader();
  private readonly from = new LazySource();
  private words: Uint32Array = new Uint32Array(64 * DECODED_WORDS);
  /** Private copy of a shared batch (the memory network's), opened in place here instead. */
  private scratch: Buffer = Buffer.alloc(0);
  private scratchOffsets = new Uint32Array(64);
  /** Sealed datagrams not yet returned by pollTransmit. */
  private readonly sealed = new Fifo<Uint8Array>();
  private readonly events = new Fifo<SealedEvent<E>>();
  private sendStopped = false;

  constructor(private readonly inner: Endpoint<E>, options: SealedEndpointOptions) {
    this.crypto = options.crypto;
    this.rejects = options.rejects;
    this.announcer = options.announcer;
    this.verifier = options.verifier;
  }

  /** True once the datagram counter ran out: nothing can be sent any more (receiving goes on). */
  get isSendStopped(): boolean {
    return this.sendStopped;
  }

  /**
   * Seals with `key` from now on; the previous key still opens for the grace
   * period. The next announcement (when signing) is due at once, signed for the new key id.
   * @throws InvalidArgumentValueError when `key.id` is the current id (nothing changes).
   */
  rotateKey(nowMs: number, key: GroupKey): void {
    this.crypto.rotateKey(key, nowMs);
    if (this.announcer !== undefined) this.announcer.nextMs = 0;
  }

  send(nowMs: number, streamId: number, data: Uint8Array): boolean {
    // Nothing written now could ever leave: say so to the writer, not only once through an event.
    if (this.sendStopped) throw new CounterExhaustedError();
    return this.inner.send(nowMs, streamId, data);
  }

  flush(nowMs: number): void {
    this.inner.flush(nowMs);
  }

  handleBatch(nowMs: number, batch: ReceivedBatch): void {
    const crypto = this.crypto;
    const count = batch.count;
    let buffer = batch.buffer;
    let offsets = batch.offsets;
    if (batch.shared) ({ buffer, offsets } = this.privateCopy(batch));
    const words = (this.words = wordsFor(this.words, count));
    crypto.open(nowMs, buffer, offsets, batch.lengths, count, words);
    const verifier = this.verifier;
    if (verifier !== undefined) this.rejects.unverified += verifier.expire(nowMs);
    const header = this.header;
    const from = this.from;
    from.batch = batch;
    for (let i = 0; i < count; i++) {
      const w = i * DECODED_WORDS;
      const code = words[w]!;
      if (code !== Reject.OK) {
        countReject(this.rejects, code);
        continue;
      }
      const offset = offsets[i]!;
      unpackHeader(words, w, header);
      if (!crypto.accept(header.sessionHi, header.sessionLo, readCounter(buffer, offset), nowMs)) {
        this.rejects.replay++;
        continue;
      }
      // The plaintext datagram, without the tag (its header still carries the sealed length and counter; the core reads `header`).
      const datagram = buffer.subarray(offset, offset + HEADER_BYTES + header.payloadLength);
      from.index = i;
      if (header.type === ANNOUNCE_TYPE) {
        this.onAnnouncement(nowMs, datagram, header);
        continue;
      }
      if (verifier !== undefined && isSourceType(header.type) && !verifier.isVerified(header.sessionHi, header.sessionLo)) {
        if (!verifier.hold(nowMs, datagram, header, from)) this.rejects.unverified++;
        continue;
      }
      this.inner.handleDatagram(nowMs, datagram, header, from);
    }
    from.batch = undefined;
  }

  handleDatagram(nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number } | undefined): void {
    this.inner.handleDatagram(nowMs, datagram, header, from);
  }

  handleTimeout(nowMs: number): void {
    this.inner.handleTimeout(nowMs);
  }

  pollTransmit(nowMs: number): Uint8Array | undefined {
    if (this.sealed.length === 0) this.sealNext(nowMs);
    return this.sealed.shift();
  }

  pollTimeout(): number | undefined {
    const inner = this.inner.pollTimeout();
    if (this.announcer === undefined || this.sendStopped) return inner;
    return inner === undefined ? this.announcer.nextMs : Math.min(inner, this.announcer.nextMs);
  }

  pollEvent(): SealedEvent<E> | undefined {
    return this.events.shift() ?? this.inner.pollEvent();
  }

  isFlushed(): boolean {
    return this.sealed.length === 0 && this.inner.isFlushed();
  }

  close(nowMs: number, immediate?: boolean): void {
    this.inner.close(nowMs, immediate || this.sendStopped);
  }

  closeOutcome(): CloseOutcome | undefined {
    return this.inner.closeOutcome();
  }

  setReadBacklog(nowMs: number, bytes: number): void {
    this.inner.setReadBacklog(nowMs, bytes);
  }

  stats(): ProtocolStats {
    return this.inner.stats();
  }

  expectReceiver(nowMs: number, receiver: SourceInfo): void {
    this.inner.expectReceiver(nowMs, receiver);
  }
  ignoreReceiver(nowMs: number, id: string): void {
    this.inner.ignoreReceiver(nowMs, id);
  }


  dropReceiver(nowMs: number, id: string, reason: 'dead' | 'left'): void {
    this.inner.dropReceiver(nowMs, id, reason);
  }

  /** Drains the inner endpoint (and a due announcement) and seals it in one call. */
  private sealNext(nowMs: number): void {
    if (this.sendStopped) {
      // Nothing can leave; drain the core all the same so that its close can end.
      while (this.inner.pollTransmit(nowMs) !== undefined);
      return;
    }
    const fresh: Uint8Array[] = [];
    if (this.announcer !== undefined) {
      const announcement = this.announcer.poll(nowMs, this.crypto.keyId);
      if (announcement !== undefined) fresh.push(announcement);
    }
    let datagram: Uint8Array | undefined;
    while (fresh.length < MAX_SEAL_BATCH && (datagram = this.inner.pollTransmit(nowMs)) !== undefined) fresh.push(datagram);
    if (fresh.length === 0) return;
    let sealed: Uint8Array[];
    try {
      sealed = this.crypto.seal(fresh);
    } catch (err) {
      if (!(err instanceof CounterExhaustedError)) throw err;
      // Never wrap the counter: stop sending for good and say so once.
      this.sendStopped = true;
      this.events.push({ type: 'send-stopped', error: err });
      return;
    }
    for (const s of sealed) this.sealed.push(s);
  }

  private onAnnouncement(nowMs: number, datagram: Uint8Array, header: Header): void {
    // Without trustedKeys announcements are simply not needed.
    if (this.verifier === undefined) return;
    const result = this.verifier.handleAnnouncement(nowMs, header, datagram.subarray(HEADER_BYTES));
    if (result.code === 'limited') return; // counted by the verifier (stats().crypto.announcementsLimited)
    if (result.code !== 0) {
      countReject(this.rejects, result.code);
      return;
    }
    for (const held of result.released) this.inner.handleDatagram(nowMs, held.datagram, held.header, held.from);
  }

  /** The batch's datagrams copied into this endpoint's scratch buffer, to open in place without touching the shared copy. */
  private privateCopy(batch: ReceivedBatch): { buffer: Buffer; offsets: Uint32Array } {
    let total = 0;
    for (let i = 0; i < batch.count; i++) total += batch.lengths[i]!;
    if (this.scratch.length < total) this.scratch = Buffer.allocUnsafe(Math.max(total, 2 * this.scratch.length));
    if (this.scratchOffsets.length < batch.count) this.scratchOffsets = new Uint32Array(Math.max(batch.count, 64));
    let at = 0;
    for (let i = 0; i < batch.count; i++) {
      const o = batch.offsets[i]!;
      const n = batch.lengths[i]!;
      batch.buffer.copy(this.scratch, at, o, o + n);
      this.scratchOffsets[i] = at;
      at += n;
    }
    return { buffer: this.scratch, offsets: this.scratchOffsets };
  }
}

/** Datagram types a source sends: with trustedKeys, they count only from verified sessions. */
function isSourceType(type: number): boolean {
  return type === DatagramType.DATA || type === DatagramType.HEARTBEAT || type === DatagramType.NCF || type === DatagramType.CONTROL;
}
