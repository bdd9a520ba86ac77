/**
 * The driver: the one place that binds the sans-IO protocol core
 * ({@link Endpoint}) to a {@link Transport} and a {@link Scheduler}.
 *
 * Each turn it reads the clock once, feeds the core (received datagrams, a
 * fired timer, or the messages written in this event-loop turn), then drains
 * the core: every datagram from `pollTransmit()` goes out in ONE
 * `transport.send(batch)` call, every event from `pollEvent()` goes to the
 * sink, and the one timer is re-armed from `pollTimeout()`.
 *
 * On an encrypted channel ({@link DriverOptions.crypto}) each send batch is
 * sealed in one call before `transport.send`, and each receive batch opened in
 * place in one call before the header fields are used; without a key the
 * paths are the clear ones (one branch each).
 *
 * Writes made in the same event-loop turn are packed: the first write of a
 * turn schedules one flush for the end of the turn (`setImmediate` on the real
 * clock, `setTimer(fn, 0)` on a virtual one, so the memory network drives
 * everything deterministically).
 */

import type { Scheduler, TimerHandle } from '../util/clock';
import { realScheduler } from '../util/clock';
import { type Announcer, ANNOUNCE_TYPE, type SessionVerifier } from '../crypto/announce';
import { readCounter } from '../crypto/aead';
import { SEALED_REJECT_BASE, SEALED_REJECT_NAMES, SealedReject, type SealedRejectName } from '../crypto/codes';
import type { GroupCrypto } from '../crypto/group-crypto';
import type { GroupKey } from '../crypto/key';
import { ClosedError, CounterExhaustedError } from '../util/errors';
import type { Endpoint } from '../protocol/api';
import type { GroupedEvent } from '../group/grouped-endpoint';
import type { DatagramBatch, Transport } from '../transport/transport';
import { loadNative, type NativeAddon } from '../addon/addon';
import { DatagramType, decodeHeaderInto, emptyHeader, HEADER_BYTES, Reject, REJECT_NAMES, type Header, type RejectName } from '../wire/header';

/** How long to wait before retrying datagrams the socket would not take (send buffer full), ms. */
export const SEND_RETRY_MS = 1;
/**
 * Most datagrams handed to one `transport.send()`. Bounds the memory held by
 * one turn; when a turn produces more, another turn follows at once.
 */
export const MAX_SEND_BATCH = 1024;

/** Received datagrams dropped before the protocol saw them, by reason: header checks, then encryption and authentication. */
export type RejectCounts = Record<RejectName | SealedRejectName, number>;

export interface DriverSink {
  /** One protocol event, in order. Called synchronously from the driver's turn; must not throw. */
  onEvent(event: GroupedEvent): void;
  /** Called at the end of every turn, after all events of the turn (the channel uses it to check close progress). */
  onTurnEnd(): void;
  /** A transport error (send failure other than would-block). Not rate-limited here. */
  onError(err: Error): void;
}

export interface DriverOptions {
  endpoint: Endpoint<GroupedEvent>;
  transport: Transport;
  scheduler: Scheduler;
  sink: DriverSink;
  /** The channel's encryption state when it has a key. */
  crypto?: GroupCrypto;
  /** Sender authentication: announces this session (needs `crypto`). */
  announcer?: Announcer;
  /** Sender authentication: delivers only sessions that proved a trusted key (needs `crypto`). */
  verifier?: SessionVerifier;
}

/** u32 words per datagram written by the addon's decodeHeaders (see src/native.ts). */
const DECODED_WORDS = 8;

const nativeDecode: NativeAddon['decodeHeaders'] | null = (() => {
  const { addon } = loadNative();
  return addon ? addon.decodeHeaders.bind(addon) : null;
})();

/** `{ address, port }` of datagram `index` of `batch`, read only when accessed. */
class LazySource {
  batch: DatagramBatch | undefined;
  index = 0;
  get address(): string {
    return this.batch!.source(this.index).address;
  }
  get port(): number {
    return this.batch!.source(this.index).port;
  }
}

export class Driver {
  private readonly endpoint: Endpoint<GroupedEvent>;
  private readonly transport: Transport;
  private readonly scheduler: Scheduler;
  private readonly sink: DriverSink;
  private readonly header = emptyHeader();
  /** Native decode output, DECODED_WORDS u32 per datagram, grown to the largest batch seen. */
  private decoded = new Uint32Array(0);
  /** The sender of the datagram being handled, decoded only if the core asks (new source or receiver). */
  private readonly from = new LazySource();
  private readonly rejects: number[] = new Array<number>(REJECT_NAMES.length).fill(0);
  private readonly sealedRejects: number[] = new Array<number>(SEALED_REJECT_NAMES.length).fill(0);
  private readonly crypto: GroupCrypto | undefined;
  private readonly announcer: Announcer | undefined;
  private readonly verifier: SessionVerifier | undefined;
  /** Set when the datagram counter ran out: nothing is sent any more. */
  private sendStopped = false;
  /**
   * The memory network hands every receiver views of one shared copy of a
   * datagram, so a keyed channel there opens a private copy; real sockets
   * receive into this channel's own buffer, which is opened in place.
   */
  private readonly copyBeforeOpen: boolean;
  private scratch: Buffer = Buffer.alloc(0);
  private scratchOffsets = new Uint32Array(0);
  /** Received datagrams on which the core threw (a core bug; never expected). */
  coreErrors = 0;

  /** Datagrams the transport would not take yet (would-block), oldest first. */
  private unsent: Uint8Array[] = [];
  private timer: TimerHandle | undefined;
  private timerAtMs = Infinity;
  /** The clock read for the current write turn, valid while a flush is scheduled. */
  private turnNowMs = 0;
  private flushScheduled = false;
  private inTurn = false;
  private stopped = false;
  private readonly defer: (fn: () => void) => void;

  constructor(options: DriverOptions) {
    this.endpoint = options.endpoint;
    this.transport = options.transport;
    this.scheduler = options.scheduler;
    this.sink = options.sink;
    this.crypto = options.crypto;
    this.announcer = options.announcer;
    this.verifier = options.verifier;
    this.copyBeforeOpen = options.transport.kind === 'memory';
    const scheduler = this.scheduler;
    this.defer = scheduler === realScheduler ? (fn) => void setImmediate(fn) : (fn) => void scheduler.setTimer(fn, 0);
  }

  /** Starts receiving and arms the first timer. */
  start(): void {
    this.transport.receive((batch) => this.onBatch(batch));
    this.transport.onError((err) => this.sink.onError(err));
    this.turn(this.scheduler.nowMs(), undefined);
  }

  /**
   * Queues one message; it leaves in the flush at the end of this event-loop
   * turn, packed with the other messages written in the same turn.
   * Returns the core's answer: false = window full, wait for 'drain'.
   * @throws ClosedError after {@link stop}.
   */
  send(streamId: number, data: Uint8Array): boolean {
    if (this.stopped) throw new ClosedError('channel');
    // Nothing written now could ever leave: say so to the writer, not only once through 'error'.
    if (this.sendStopped) throw new CounterExhaustedError();
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      this.turnNowMs = this.scheduler.nowMs();
      this.defer(this.onFlush);
    }
    return this.endpoint.send(this.turnNowMs, streamId, data);
  }

  /** Flushes now (used by close): what was written goes out in this turn. */
  flushNow(): void {
    if (this.stopped) return;
    this.turn(this.scheduler.nowMs(), 'flush');
  }

  /** Starts the core's graceful close (`immediate`: ends it at once) and sends what it produces; the turns go on until the core's close is over. */
  closeEndpoint(immediate: boolean): void {
    if (this.stopped) return;
    const nowMs = this.scheduler.nowMs();
    this.endpoint.flush(nowMs);
    this.endpoint.close(nowMs, immediate);
    this.turn(nowMs, undefined);
  }

  /** The application holds `bytes` of received messages unread (see Endpoint.setReadBacklog); runs a turn if that makes the core report. */
  setReadBacklog(bytes: number): void {
    if (this.stopped) return;
    const nowMs = this.scheduler.nowMs();
    this.endpoint.setReadBacklog(nowMs, bytes);
    // Inside a turn the turn re-arms the timer; outside, a status made due now needs one.
    if (!this.inTurn) this.armTimer(nowMs);
  }

  /**
   * Stops the driver: no more turns, no timer, no sends. The transport is
   * left for the caller to close. Unsent would-block datagrams are dropped.
   */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer !== undefined) this.scheduler.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAtMs = Infinity;
    this.unsent = [];
  }

  get isStopped(): boolean {
    return this.stopped;
  }

  /** True once an encrypted sender's counter ran out: nothing can be sent any more (receiving goes on). */
  get isSendStopped(): boolean {
    return this.sendStopped;
  }

  /** Datagrams dropped before the protocol saw them, by reason: the header check, then encryption and sender authentication. */
  rejectCounts(): RejectCounts {
    const out = {} as RejectCounts;
    for (let i = 1; i < REJECT_NAMES.length; i++) out[REJECT_NAMES[i] as RejectName] = this.rejects[i]!;
    for (let i = 0; i < SEALED_REJECT_NAMES.length; i++) out[SEALED_REJECT_NAMES[i]!] = this.sealedRejects[i]!;
    return out;
  }

  /**
   * Seals with `key` from now on; the previous key still opens for the grace
   * period. The next announcement (when signing) goes out at once, signed for the new key id.
   * @throws InvalidArgumentValueError when the channel has no key or `key.id` is the current id.
   */
  rotateKey(key: GroupKey): void {
    if (this.crypto === undefined) throw new Error('rotateKey on a driver without crypto'); // the channel checks first
    this.crypto.rotateKey(key, this.scheduler.nowMs());
    if (this.announcer !== undefined) {
      this.announcer.nextMs = 0;
      this.turn(this.scheduler.nowMs(), undefined);
    }
  }

  /** Datagrams waiting for the socket to accept them. */
  get unsentCount(): number {
    return this.unsent.length;
  }

  private readonly onFlush = (): void => {
    this.flushScheduled = false;
    if (this.stopped) return;
    this.turn(this.scheduler.nowMs(), 'flush');
  };

  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.timerAtMs = Infinity;
    if (this.stopped) return;
    this.turn(this.scheduler.nowMs(), 'timeout');
  };

  private onBatch(batch: DatagramBatch): void {
    if (this.stopped) return;
    if (this.crypto !== undefined) {
      this.onSealedBatch(batch, this.crypto);
      return;
    }
    const nowMs = this.scheduler.nowMs();
    const header = this.header;
    const buffer = batch.buffer;
    const count = batch.count;
    // Header checks (and CRC32C) for the whole batch in one native call when the addon is here.
    let words: Uint32Array | undefined;
    if (nativeDecode !== null) {
      if (this.decoded.length < count * DECODED_WORDS) this.decoded = new Uint32Array(Math.max(count, 64) * DECODED_WORDS);
      words = this.decoded;
      nativeDecode(buffer, batch.offsets, batch.lengths, count, words);
    }
    const from = this.from;
    from.batch = batch;
    for (let i = 0; i < count; i++) {
      const offset = batch.offsets[i]!;
      const length = batch.lengths[i]!;
      let code: number;
      if (words !== undefined) {
        const w = i * DECODED_WORDS;
        code = words[w]!;
        if (code === Reject.OK) unpackHeader(words, w, header);
      } else {
        code = decodeHeaderInto(buffer, offset, length, header);
      }
      if (code !== Reject.OK || header.keyId !== 0) {
        // A sealed datagram fails the CRC (its CRC field holds the counter): name it for what it is.
        if (code === Reject.OK || (code === Reject.BAD_CHECKSUM && buffer[offset + 5] !== 0)) this.sealedRejects[SealedReject.KEYED_ON_CLEAR - SEALED_REJECT_BASE]!++;
        else this.rejects[code] = (this.rejects[code] ?? 0) + 1;
        continue;
      }
      from.index = i;
      this.feed(nowMs, buffer.subarray(offset, offset + length), header, from);
    }
    from.batch = undefined;
    this.turn(nowMs, undefined);
  }

  /**
   * The receive path of an encrypted channel: one call opens (and checks the
   * headers of) the whole batch in place, then each authentic datagram passes
   * the replay window, then (with trustedKeys) the session check, then goes to the core.
   */
  private onSealedBatch(batch: DatagramBatch, crypto: GroupCrypto): void {
    const nowMs = this.scheduler.nowMs();
    const header = this.header;
    const count = batch.count;
    let buffer = batch.buffer;
    let offsets = batch.offsets;
    if (this.copyBeforeOpen) ({ buffer, offsets } = this.privateCopy(batch));
    if (this.decoded.length < count * DECODED_WORDS) this.decoded = new Uint32Array(Math.max(count, 64) * DECODED_WORDS);
    const words = this.decoded;
    crypto.open(nowMs, buffer, offsets, batch.lengths, count, words);
    const verifier = this.verifier;
    if (verifier !== undefined) this.sealedRejects[SealedReject.UNVERIFIED - SEALED_REJECT_BASE]! += verifier.expire(nowMs);
    const from = this.from;
    from.batch = batch;
    for (let i = 0; i < count; i++) {
      const w = i * DECODED_WORDS;
      const code = words[w]!;
      if (code !== Reject.OK) {
        this.countReject(code);
        continue;
      }
      const offset = offsets[i]!;
      unpackHeader(words, w, header);
      if (!crypto.accept(header.sessionHi, header.sessionLo, readCounter(buffer, offset), nowMs)) {
        this.sealedRejects[SealedReject.REPLAY - SEALED_REJECT_BASE]!++;
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
        if (!verifier.hold(nowMs, datagram, header, from)) this.sealedRejects[SealedReject.UNVERIFIED - SEALED_REJECT_BASE]!++;
        continue;
      }
      this.feed(nowMs, datagram, header, from);
    }
    from.batch = undefined;
    this.turn(nowMs, undefined);
  }

  /** The batch's datagrams copied into this driver's scratch buffer (memory network only, see copyBeforeOpen). */
  private privateCopy(batch: DatagramBatch): { buffer: Buffer; offsets: Uint32Array } {
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

  private onAnnouncement(nowMs: number, datagram: Uint8Array, header: Header): void {
    // Without trustedKeys announcements are simply not needed.
    if (this.verifier === undefined) return;
    const result = this.verifier.handleAnnouncement(nowMs, header, datagram.subarray(HEADER_BYTES));
    if (result.code === 'limited') return; // counted by the verifier (stats().crypto.announcementsLimited)
    if (result.code !== 0) {
      this.countReject(result.code);
      return;
    }
    for (const held of result.released) this.feed(nowMs, held.datagram, held.header, held.from);
  }

  private countReject(code: number): void {
    if (code >= SEALED_REJECT_BASE) this.sealedRejects[code - SEALED_REJECT_BASE] = (this.sealedRejects[code - SEALED_REJECT_BASE] ?? 0) + 1;
    else this.rejects[code] = (this.rejects[code] ?? 0) + 1;
  }

  /** Hands one checked datagram to the core. */
  private feed(nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number }): void {
    try {
      this.endpoint.handleDatagram(nowMs, datagram, header, from);
    } catch (err) {
      // The core must not throw on network input; if it does, count it, report it, and go on.
      this.coreErrors++;
      this.sink.onError(new Error('protocol core threw on a received datagram', { cause: err }));
    }
  }

  /**
   * One turn: optional flush/timeout, then ONE send of everything the core has
   * to transmit, then its events, then the timer. Messages written by event
   * listeners leave in the end-of-turn flush they scheduled.
   */
  private turn(nowMs: number, input: 'flush' | 'timeout' | undefined): void {
    if (this.inTurn) return; // a sink callback wrote or closed re-entrantly; the outer turn drains it.
    this.inTurn = true;
    // Writes later in this event-loop turn must not use an older time than the core has already seen.
    this.turnNowMs = nowMs;
    try {
      if (input === 'flush') this.endpoint.flush(nowMs);
      else if (input === 'timeout') this.endpoint.handleTimeout(nowMs);
      this.transmit(nowMs);
      let event: GroupedEvent | undefined;
      while ((event = this.endpoint.pollEvent()) !== undefined) {
        try {
          this.sink.onEvent(event);
        } catch (err) {
          // An application listener threw. Finish the turn (the timer must be re-armed), then surface it like EventEmitter would.
          rethrowLater(err);
        }
      }
    } finally {
      this.inTurn = false;
    }
    if (this.stopped) return;
    this.armTimer(nowMs);
    try {
      this.sink.onTurnEnd();
    } catch (err) {
      rethrowLater(err);
    }
  }

  private transmit(nowMs: number): void {
    const batch = this.unsent;
    let datagram: Uint8Array | undefined;
    if (this.crypto !== undefined) this.pollSealed(nowMs, this.crypto, batch);
    else {
      while (batch.length < MAX_SEND_BATCH && (datagram = this.endpoint.pollTransmit(nowMs)) !== undefined) {
        batch.push(datagram);
      }
    }
    if (batch.length === 0) return;
    let sent: number;
    try {
      sent = this.transport.send(batch);
    } catch (err) {
      // Only a closed transport throws here; nothing more can be sent.
      this.unsent = [];
      if (!(err instanceof ClosedError)) this.sink.onError(err as Error);
      return;
    }
    this.unsent = sent >= batch.length ? [] : batch.slice(sent);
    if (this.unsent.length === 0 && batch.length >= MAX_SEND_BATCH) {
      // The core had more than one batch ready: continue in a fresh turn rather than looping unboundedly here.
      this.defer(() => {
        if (!this.stopped) this.turn(this.scheduler.nowMs(), undefined);
      });
    }
  }

  /**
   * Drains the core (and a due announcement) into `batch`, sealed in one call.
   * Every datagram gets a fresh counter, repairs included: a repair's
   * plaintext is the original's, and reusing a nonce would leak the GHASH key.
   */
  private pollSealed(nowMs: number, crypto: GroupCrypto, batch: Uint8Array[]): void {
    const fresh: Uint8Array[] = [];
    let datagram: Uint8Array | undefined;
    if (this.announcer !== undefined && !this.sendStopped) {
      const announcement = this.announcer.poll(nowMs, crypto.keyId);
      if (announcement !== undefined) fresh.push(announcement);
    }
    while (batch.length + fresh.length < MAX_SEND_BATCH && (datagram = this.endpoint.pollTransmit(nowMs)) !== undefined) {
      fresh.push(datagram);
    }
    if (fresh.length === 0 || this.sendStopped) return;
    let sealed: Uint8Array[];
    try {
      sealed = crypto.seal(fresh);
    } catch (err) {
      if (!(err instanceof CounterExhaustedError)) throw err;
      // Never wrap the counter: stop sending for good and say so once.
      this.sendStopped = true;
      this.sink.onError(err);
      return;
    }
    for (const s of sealed) batch.push(s);
  }

  private armTimer(nowMs: number): void {
    let atMs = this.endpoint.pollTimeout() ?? Infinity;
    if (this.announcer !== undefined && !this.sendStopped) atMs = Math.min(atMs, this.announcer.nextMs);
    if (this.unsent.length > 0) atMs = Math.min(atMs, nowMs + SEND_RETRY_MS);
    if (atMs === this.timerAtMs) return;
    if (this.timer !== undefined) this.scheduler.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAtMs = atMs;
    if (atMs === Infinity) return;
    this.timer = this.scheduler.setTimer(this.onTimer, Math.max(0, atMs - nowMs));
  }
}

/** The header of one datagram from the addon's decode output (DECODED_WORDS u32 from `w`; see src/native.ts). */
function unpackHeader(words: Uint32Array, w: number, header: Header): void {
  const tf = words[w + 1]!;
  header.type = tf & 0xff;
  header.flags = (tf >>> 8) & 0xff;
  header.keyId = (tf >>> 16) & 0xff;
  header.streamId = words[w + 2]!;
  header.sessionHi = words[w + 3]!;
  header.sessionLo = words[w + 4]!;
  header.sequence = words[w + 5]! * 0x1_0000_0000 + words[w + 6]!;
  header.payloadLength = words[w + 7]!;
}

function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}

/** Datagram types a source sends: with trustedKeys, they count only from verified sessions. */
function isSourceType(type: number): boolean {
  return type === DatagramType.DATA || type === DatagramType.HEARTBEAT || type === DatagramType.NCF || type === DatagramType.CONTROL;
}
