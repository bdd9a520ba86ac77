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
 * Writes made in the same event-loop turn are packed: the first write of a
 * turn schedules one flush for the end of the turn (`setImmediate` on the real
 * clock, `setTimer(fn, 0)` on a virtual one, so the memory network drives
 * everything deterministically).
 */

import type { Scheduler, TimerHandle } from './clock';
import { realScheduler } from './clock';
import { ClosedError } from './errors';
import type { Endpoint, ProtocolEvent } from './protocol/api';
import type { DatagramBatch, Transport } from './transport/transport';
import { loadNative, type NativeAddon } from './native';
import { decodeHeaderInto, emptyHeader, Reject, REJECT_NAMES, type RejectName } from './wire/header';

/** How long to wait before retrying datagrams the socket would not take (send buffer full), ms. */
export const SEND_RETRY_MS = 1;
/**
 * Most datagrams handed to one `transport.send()`. Bounds the memory held by
 * one turn; when a turn produces more, another turn follows at once.
 */
export const MAX_SEND_BATCH = 1024;

export type RejectCounts = Record<RejectName, number>;

export interface DriverSink {
  /** One protocol event, in order. Called synchronously from the driver's turn; must not throw. */
  onEvent(event: ProtocolEvent): void;
  /** Called at the end of every turn, after all events of the turn (the channel uses it to check close progress). */
  onTurnEnd(): void;
  /** A transport error (send failure other than would-block). Not rate-limited here. */
  onError(err: Error): void;
}

export interface DriverOptions {
  endpoint: Endpoint;
  transport: Transport;
  scheduler: Scheduler;
  sink: DriverSink;
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
  private readonly endpoint: Endpoint;
  private readonly transport: Transport;
  private readonly scheduler: Scheduler;
  private readonly sink: DriverSink;
  private readonly header = emptyHeader();
  /** Native decode output, DECODED_WORDS u32 per datagram, grown to the largest batch seen. */
  private decoded = new Uint32Array(0);
  /** The sender of the datagram being handled, decoded only if the core asks (new source or receiver). */
  private readonly from = new LazySource();
  private readonly rejects: number[] = new Array<number>(REJECT_NAMES.length).fill(0);
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

  /** Starts the core's graceful close (end-of-session announcement) and sends what it produces. */
  closeEndpoint(): void {
    if (this.stopped) return;
    const nowMs = this.scheduler.nowMs();
    this.endpoint.flush(nowMs);
    this.endpoint.close(nowMs);
    this.turn(nowMs, undefined);
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

  /** Datagrams rejected by the header check, by reason. */
  rejectCounts(): RejectCounts {
    const out = {} as RejectCounts;
    for (let i = 1; i < REJECT_NAMES.length; i++) out[REJECT_NAMES[i] as RejectName] = this.rejects[i]!;
    return out;
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
        if (code === Reject.OK) {
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
      } else {
        code = decodeHeaderInto(buffer, offset, length, header);
      }
      if (code !== Reject.OK) {
        this.rejects[code] = (this.rejects[code] ?? 0) + 1;
        continue;
      }
      from.index = i;
      try {
        this.endpoint.handleDatagram(nowMs, buffer.subarray(offset, offset + length), header, from);
      } catch (err) {
        // The core must not throw on network input; if it does, count it, report it, and go on.
        this.coreErrors++;
        this.sink.onError(new Error('protocol core threw on a received datagram', { cause: err }));
      }
    }
    from.batch = undefined;
    this.turn(nowMs, undefined);
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
      let event: ProtocolEvent | undefined;
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
    while (batch.length < MAX_SEND_BATCH && (datagram = this.endpoint.pollTransmit(nowMs)) !== undefined) {
      batch.push(datagram);
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

  private armTimer(nowMs: number): void {
    let atMs = this.endpoint.pollTimeout() ?? Infinity;
    if (this.unsent.length > 0) atMs = Math.min(atMs, nowMs + SEND_RETRY_MS);
    if (atMs === this.timerAtMs) return;
    if (this.timer !== undefined) this.scheduler.clearTimer(this.timer);
    this.timer = undefined;
    this.timerAtMs = atMs;
    if (atMs === Infinity) return;
    this.timer = this.scheduler.setTimer(this.onTimer, Math.max(0, atMs - nowMs));
  }
}

function rethrowLater(err: unknown): void {
  process.nextTick(() => {
    throw err;
  });
}
