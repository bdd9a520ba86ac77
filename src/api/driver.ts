/**
 * The driver: the one place that binds a sans-IO endpoint ({@link Endpoint}:
 * the protocol core, wrapped for membership and encryption as the channel
 * needs) to a {@link Transport} and a {@link Scheduler}. It knows nothing of
 * what the endpoint does.
 *
 * Each turn it reads the clock once, feeds the endpoint (a received batch, a
 * fired timer, or the messages written in this event-loop turn), then drains
 * it: every datagram from `pollTransmit()` goes out in ONE
 * `transport.send(batch)` call, every event from `pollEvent()` goes to the
 * sink, and the one timer is re-armed from `pollTimeout()`.
 *
 * A write on an idle channel (nothing waiting for the socket, not inside a
 * turn) is sent at once, alone: waiting for company only adds latency. Writes
 * after it in the same event-loop turn are packed: the first write of a turn
 * schedules one flush for the end of the turn (`setImmediate` on the real
 * clock, `setTimer(fn, 0)` on a virtual one, so the memory network drives
 * everything deterministically). The batch is thus whatever accumulated
 * while the previous send was being made (Aeron's answer to Nagle).
 *
 * A turn also runs the endpoint's timers that its input made due at once,
 * instead of leaving them to a timer that cannot fire in less than a
 * millisecond.
 */

import type { Scheduler, TimerHandle } from '../util/clock';
import { realScheduler } from '../util/clock';
import { ClosedError } from '../util/errors';
import type { Endpoint } from '../protocol/api';
import type { DatagramBatch, Transport } from '../transport/transport';

/** How long to wait before retrying datagrams the socket would not take (send buffer full), ms. */
export const SEND_RETRY_MS = 1;
/** Errors are reported at most once per this interval; the others are counted (`stats().channel.errorsSuppressed`). */
export const ERROR_REPORT_INTERVAL_MS = 1000;
/**
 * Most datagrams handed to one `transport.send()`. Bounds the memory held by
 * one turn; when a turn produces more, another turn follows at once.
 */
export const MAX_SEND_BATCH = 1024;

export interface DriverSink<E> {
  /** One endpoint event, in order. Called synchronously from the driver's turn; must not throw. */
  onEvent(event: E): void;
  /** Called at the end of every turn, after all events of the turn (the channel uses it to check close progress). */
  onTurnEnd(): void;
  /** An error to surface: a transport error (send failure other than would-block), the endpoint throwing on a received batch (a bug), or one given to {@link Driver.report}. At most one per ERROR_REPORT_INTERVAL_MS. */
  onError(err: Error): void;
}

export interface DriverOptions<E> {
  endpoint: Endpoint<E>;
  transport: Transport;
  scheduler: Scheduler;
  sink: DriverSink<E>;
}

export class Driver<E> {
  private readonly endpoint: Endpoint<E>;
  private readonly transport: Transport;
  private readonly scheduler: Scheduler;
  private readonly sink: DriverSink<E>;
  /** Received batches on which the endpoint threw (a bug; never expected): the channel's `coreErrors`. */
  coreErrors = 0;
  /** Errors passed to the sink, and errors counted but not passed (rate limit): the channel's `errors` and `errorsSuppressed`. */
  errors = 0;
  errorsSuppressed = 0;
  private lastErrorReportMs = -Infinity;

  /** Datagrams the transport would not take yet (would-block), oldest first. */
  private unsent: Uint8Array[] = [];
  private timer: TimerHandle | undefined;
  private timerAtMs = Infinity;
  /** The clock read for the current write turn, valid while a flush is scheduled. */
  private turnNowMs = 0;
  private flushScheduled = false;
  private inTurn = false;
  /** In {@link sendNow}, i.e. inside the application's write(). */
  private inSendNow = false;
  private stopped = false;
  private readonly defer: (fn: () => void) => void;

  constructor(options: DriverOptions<E>) {
    this.endpoint = options.endpoint;
    this.transport = options.transport;
    this.scheduler = options.scheduler;
    this.sink = options.sink;
    const scheduler = this.scheduler;
    this.defer = scheduler === realScheduler ? (fn) => void setImmediate(fn) : (fn) => void scheduler.setTimer(fn, 0);
  }

  /** Starts receiving; runs `init(nowMs)` against the endpoint (e.g. a group join), then the first turn, which arms the first timer. */
  start(init?: (nowMs: number) => void): void {
    this.transport.receive((batch) => this.onBatch(batch));
    this.transport.onError((err) => this.report(err));
    const nowMs = this.scheduler.nowMs();
    init?.(nowMs);
    this.turn(nowMs, undefined);
  }

  /** Surfaces `err` through the sink, at most once per ERROR_REPORT_INTERVAL_MS; the others are counted. */
  report(err: Error): void {
    const nowMs = this.scheduler.nowMs();
    if (nowMs - this.lastErrorReportMs < ERROR_REPORT_INTERVAL_MS) {
      this.errorsSuppressed++;
      return;
    }
    this.lastErrorReportMs = nowMs;
    this.errors++;
    // Never from inside write() (a send made at once): 'error' reaches the application after the call, as from a turn.
    if (this.inSendNow) process.nextTick(() => this.sink.onError(err));
    else this.sink.onError(err);
  }

  /**
   * Queues one message. The first of an event-loop turn leaves at once when
   * nothing waits for the socket; the others leave in the flush at the end of
   * the turn, packed together.
   * Returns the endpoint's answer: false = window full, wait for 'drain'.
   * @throws ClosedError after {@link stop}; whatever the endpoint's send throws.
   */
  send(streamId: number, data: Uint8Array): boolean {
    if (this.stopped) throw new ClosedError('channel');
    const idle = this.beginWrite();
    const accepted = this.endpoint.send(this.turnNowMs, streamId, data);
    if (idle) this.sendNow(this.turnNowMs);
    return accepted;
  }

  /**
   * Queues `list` in order, as {@link send} each would; on an idle channel
   * they are packed and sent at once, together. Returns the endpoint's answer
   * for the last one (true for an empty list).
   * @throws ClosedError after {@link stop}; whatever the endpoint's send throws (the messages before it are queued).
   */
  sendMany(streamId: number, list: readonly Uint8Array[]): boolean {
    if (this.stopped) throw new ClosedError('channel');
    if (list.length === 0) return true;
    const idle = this.beginWrite();
    const nowMs = this.turnNowMs;
    let accepted = true;
    for (let i = 0; i < list.length; i++) accepted = this.endpoint.send(nowMs, streamId, list[i]!);
    if (idle) this.sendNow(nowMs);
    return accepted;
  }

  /** Starts the endpoint's graceful close (`immediate`: ends it at once) and sends what it produces; the turns go on until the close is over. */
  closeEndpoint(immediate: boolean): void {
    if (this.stopped) return;
    const nowMs = this.scheduler.nowMs();
    this.endpoint.flush(nowMs);
    this.endpoint.close(nowMs, immediate);
    this.turn(nowMs, undefined);
  }

  /**
   * Runs `fn(nowMs)` against the endpoint (a change the channel makes: read
   * backlog, key rotation), then a turn to send and arm what it made due.
   * Inside a turn the turn in progress does that.
   */
  apply(fn: (nowMs: number) => void): void {
    if (this.stopped) return;
    const nowMs = this.scheduler.nowMs();
    fn(nowMs);
    if (!this.inTurn) this.turn(nowMs, undefined);
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

  /** Datagrams waiting for the socket to accept them. */
  get unsentCount(): number {
    return this.unsent.length;
  }

  /**
   * Called before a write is queued. The first write of an event-loop turn
   * reads the clock and schedules the flush at the turn's end, which packs the
   * turn's later writes. Returns whether the channel is idle (the turn's first
   * write, not inside a turn, nothing waiting for the socket): then what is
   * written now goes at once, since waiting for company only adds latency.
   */
  private beginWrite(): boolean {
    if (this.flushScheduled) return false;
    this.flushScheduled = true;
    this.turnNowMs = this.scheduler.nowMs();
    this.defer(this.onFlush);
    return !this.inTurn && this.unsent.length === 0;
  }

  /**
   * Flushes and transmits at once, outside a turn: the send half of a turn.
   * Events stay queued for the flush turn already scheduled, so no listener
   * runs inside write().
   */
  private sendNow(nowMs: number): void {
    this.inTurn = true;
    this.inSendNow = true;
    try {
      this.endpoint.flush(nowMs);
      this.transmit(nowMs);
    } finally {
      this.inTurn = false;
      this.inSendNow = false;
    }
    if (!this.stopped) this.armTimer(nowMs);
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
    try {
      this.endpoint.handleBatch(nowMs, batch);
    } catch (err) {
      // The endpoint must not throw on network input; if it does, count it, report it, and go on.
      this.coreErrors++;
      this.report(new Error('protocol core threw on a received batch', { cause: err }));
    }
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
      // What the input made due already goes in this send, not a timer later (≥ 1 ms on the real clock).
      if (input !== 'timeout' && (this.endpoint.pollTimeout() ?? Infinity) <= nowMs) this.endpoint.handleTimeout(nowMs);
      this.transmit(nowMs);
      let event: E | undefined;
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
    while (batch.length < MAX_SEND_BATCH && (datagram = this.endpoint.pollTransmit(nowMs)) !== undefined) batch.push(datagram);
    if (batch.length === 0) return;
    let sent: number;
    try {
      sent = this.transport.send(batch);
    } catch (err) {
      // Only a closed transport throws here; nothing more can be sent.
      this.unsent = [];
      if (!(err instanceof ClosedError)) this.report(err as Error);
      return;
    }
    this.unsent = sent >= batch.length ? [] : batch.slice(sent);
    if (this.unsent.length === 0 && batch.length >= MAX_SEND_BATCH) {
      // The endpoint had more than one batch ready: continue in a fresh turn rather than looping unboundedly here.
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
