/**
 * The public API: `await open({ group })` returns a {@link Channel} that
 * writes messages to a multicast group reliably and reads what every other
 * sender on the group writes, in order, exactly once (or with an exact loss
 * report). See docs/api.md.
 */

import { EventEmitter } from 'node:events';
import type { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import type { ChannelCounters, ChannelEvents, ChannelInfo, ChannelState, ChannelStats, CloseResult, Message } from './channel-types';
import { realScheduler, type Scheduler } from '../util/clock';
import { Counters } from '../util/counters';
import type { SealedEndpoint } from '../crypto/sealed-endpoint';
import { checkGroupKey, type GroupKeyInput } from '../crypto/key';
import { composeEndpoint, type ChannelEndpointEvent } from './compose';
import { Driver } from './driver';
import { MessageBatch } from './message-batch';
import { AbortError, ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import { Group } from './group';
import type { GroupedEvent } from '../group/grouped-endpoint';
import { resolveOptions, type OpenOptions, type ResolvedOptions, type TestHooks } from './options';
import type { Endpoint, HealthReader } from '../protocol/api';
import { Rates, receiverStatuses, sourceStatuses, type ReceiverStatus, type SourceStatus } from './health';
import { describeLimit } from '../protocol/limits';
import { ReadQueue } from './read-queue';
import { DEFAULT_STREAM, StreamRegistry } from './streams';
import { createTransport } from '../transport/index';
import type { Transport } from '../transport/transport';
import { sessionIdHex } from '../wire/header';

export type { OpenOptions, TestHooks, TransportChoice, TuningOptions } from './options';
export type {
  ChannelCounters, ChannelEvents, ChannelInfo, ChannelLossReason, ChannelState, ChannelStats, CloseResult, LimitWarning, LossInfo, Message,
  ReceiverDroppedReason, SourceGoneReason, UnflushedReceiver,
} from './channel-types';
export type { SourceInfo, LossReason, FlowControl, LateJoin, LimitReason, InvalidReason } from '../protocol/api';
export { Group } from './group';
export type { GroupEvents } from './group';
export type { ChangesOptions, GroupChange } from './group-changes';
export type { MemberOptions } from './member-options';
export type { MemberFilter, MemberInfo, MemberState, MembershipEvent, MembershipEventType, MembershipStats, MembershipTuning, ScaledTimers } from '../group/api';

export { ERROR_REPORT_INTERVAL_MS } from './driver';

/**
 * A reliable multicast channel. Create it with {@link open}.
 *
 * Writing: {@link write} (false = back-pressure; wait for 'drain') or
 * {@link writer} (a Writable). Reading: `for await (const msg of channel)` or
 * {@link readable}. Closing: {@link close} or `await using`.
 */
export class Channel extends EventEmitter<ChannelEvents> implements AsyncIterable<Message>, AsyncDisposable {
  /**
   * Received messages as an object-mode Readable of {@link Message}. One reader: the async iterator reads from it too.
   * While a 'messages' listener is attached, new messages go to that listener instead (see {@link ChannelEvents}).
   */
  readonly readable: Readable;
  readonly info: ChannelInfo;
  /**
   * The group membership: defined when the channel was opened with the
   * `member` option (it joined at open and leaves at close), else undefined.
   */
  readonly group: Group | undefined;

  private readonly options: ResolvedOptions;
  private readonly endpoint: Endpoint<ChannelEndpointEvent>;
  private readonly sealed: SealedEndpoint<GroupedEvent> | undefined;
  private readonly transport: Transport;
  private readonly driver: Driver<ChannelEndpointEvent>;
  private readonly streams: StreamRegistry;
  private readonly subscribed = new Set<number>();
  /** False until subscribe()/unsubscribe() is first called: then only `subscribed` streams are delivered. */
  private filtering = false;
  private state: ChannelState = 'open';
  private closePromise: Promise<CloseResult> | undefined;
  /** Resolves the pending close() with the core's outcome. */
  private closeDone: ((result: CloseResult) => void) | undefined;
  private readonly drainWaiters: Array<() => void> = [];
  private readonly reads: ReadQueue;
  /** The channel's counters registry: `stats()` is a snapshot of it. */
  private readonly registry: Counters;
  private readonly health: HealthReader;
  private readonly scheduler: Scheduler;
  private readonly sourceRates = new Rates();
  private readonly receiverRates = new Rates();
  /** This channel's own section of it. */
  private readonly counters: ChannelCounters;

  /** @internal use {@link open} */
  constructor(args: { options: ResolvedOptions; transport: Transport; scheduler: Scheduler; streams: StreamRegistry; registry: Counters }) {
    super();
    this.options = args.options;
    this.transport = args.transport;
    this.streams = args.streams;
    this.registry = args.registry;
    const composed = composeEndpoint(this.options, this.registry);
    this.endpoint = composed.endpoint;
    this.sealed = composed.sealed;
    this.health = composed.health;
    this.scheduler = args.scheduler;
    const sessionId = sessionIdHex(composed.sessionHi, composed.sessionLo);
    this.group = composed.membership === undefined ? undefined : new Group(composed.membership, sessionId);
    const t = this.transport.info;
    this.info = {
      transport: this.transport.kind,
      group: this.options.groupText,
      address: this.options.group.address,
      port: this.options.group.port,
      family: this.options.group.family,
      interface: t.interface ?? this.options.interfaceName,
      sessionId,
    };
    this.counters = this.registry.add('channel', {
      messagesWritten: 0, bytesWritten: 0, writesBackPressured: 0, messagesReceived: 0, messagesFiltered: 0,
      readBufferedMessages: 0, readBufferedBytes: 0, readDropped: 0, unsentDatagrams: 0, errors: 0, errorsSuppressed: 0, coreErrors: 0,
    }, (c) => {
      c.readBufferedMessages = this.reads.bufferedMessages;
      c.readBufferedBytes = this.reads.bufferedBytes;
      c.unsentDatagrams = this.driver.unsentCount;
      c.coreErrors = this.driver.coreErrors;
      c.errors = this.driver.errors;
      c.errorsSuppressed = this.driver.errorsSuppressed;
    });
    this.registry.addReader('transport', () => this.transport.stats());
    this.reads = new ReadQueue({
      highWaterMark: this.options.readHighWaterMark,
      maxBytes: this.options.maxReadBufferBytes,
      counters: this.counters,
      nameOf: (id) => this.streams.nameOf(id),
      onLoss: (loss) => this.emit('loss', loss),
      onBacklog: (bytes) => this.driver.apply((nowMs) => this.endpoint.setReadBacklog(nowMs, bytes)),
    });
    this.readable = this.reads.readable;
    this.driver = new Driver({
      endpoint: this.endpoint,
      transport: this.transport,
      scheduler: args.scheduler,
      sink: {
        onEvent: (event) => this.onProtocolEvent(event),
        onTurnEnd: () => this.onTurnEnd(),
        onError: (err) => this.surfaceError(err),
      },
    });
    this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
    // The first ANNOUNCE leaves in the driver's first turn.
    this.driver.start((nowMs) => composed.join(nowMs));
  }

  /** 'open' until close() is called, 'closing' while it lingers, then 'closed'. */
  get status(): ChannelState {
    return this.state;
  }

  /**
   * Sends one message on `stream` (default ''). The bytes are copied before
   * write() returns. On an idle channel the message leaves at once; the
   * messages written after it in the same event-loop turn leave at its end,
   * packed together.
   *
   * Returns false when the sender's window is full (the message IS accepted):
   * wait for 'drain' before writing more, or memory grows without bound.
   * @throws InvalidArgumentTypeError for data that is not a Buffer, Uint8Array or string;
   *   InvalidArgumentValueError for a message over maxMessageBytes or a stream name that collides;
   *   ClosedError after close(). Nothing is sent when it throws.
   */
  write(data: Buffer | Uint8Array | string, stream: string = DEFAULT_STREAM): boolean {
    if (this.state !== 'open') throw new ClosedError('channel');
    const bytes = messageBytes(data);
    // The size (maxMessageBytes) is the core's check, made once there (src/protocol/sender.ts).
    const streamId = stream === DEFAULT_STREAM ? 0 : this.streams.idOf(stream);
    const ok = this.driver.send(streamId, bytes);
    this.counters.messagesWritten++;
    this.counters.bytesWritten += bytes.length;
    if (!ok) this.counters.writesBackPressured++;
    return ok;
  }

  /**
   * Sends each of `messages` as one message on `stream`, in order: the
   * batch crosses into the channel once, and on an idle channel leaves at
   * once, packed. Every message is checked before any is sent, so a bad one
   * sends none. Same return value as {@link write}: false when the sender's
   * window is full (every message IS accepted): wait for 'drain'.
   * @throws InvalidArgumentTypeError when `messages` is not an array, or one is not a Buffer, Uint8Array or string (named by index);
   *   InvalidArgumentValueError for a message over maxMessageBytes (named by index) or a stream name that collides;
   *   ClosedError after close(). Nothing is sent when it throws.
   */
  writeMany(messages: readonly (Buffer | Uint8Array | string)[], stream: string = DEFAULT_STREAM): boolean {
    if (this.state !== 'open') throw new ClosedError('channel');
    if (!Array.isArray(messages)) throw new InvalidArgumentTypeError(`messages must be an array, got ${messages === null ? 'null' : typeof messages}`);
    const n = messages.length;
    const list: Uint8Array[] = new Array<Uint8Array>(n);
    const max = this.options.maxMessageBytes;
    let bytes = 0;
    for (let i = 0; i < n; i++) {
      const b = messageBytes(messages[i], i);
      if (b.length > max) throw new InvalidArgumentValueError(`messages[${i}] of ${b.length} bytes exceeds maxMessageBytes (${max})`);
      list[i] = b;
      bytes += b.length;
    }
    const streamId = stream === DEFAULT_STREAM ? 0 : this.streams.idOf(stream);
    const ok = this.driver.sendMany(streamId, list);
    this.counters.messagesWritten += n;
    this.counters.bytesWritten += bytes;
    if (!ok) this.counters.writesBackPressured++;
    return ok;
  }

  /**
   * A Writable whose every write() is one message on `stream`, with real
   * back-pressure (its callback waits for 'drain'). Ending it does not close
   * the channel. Writing to it after the channel closed fails with ClosedError.
   */
  writer(stream: string = DEFAULT_STREAM): Writable {
    if (stream !== DEFAULT_STREAM) this.streams.idOf(stream); // collisions fail here, not on the first write
    const writeOne = (chunk: Buffer): boolean => this.write(chunk, stream);
    return new Writable({
      objectMode: false,
      decodeStrings: true,
      write: (chunk: Buffer, _encoding, callback) => {
        let ok: boolean;
        try {
          ok = writeOne(chunk);
        } catch (err) {
          callback(err as Error);
          return;
        }
        if (ok) callback();
        else this.waitForDrain(callback);
      },
      writev: (chunks, callback) => {
        let ok = true;
        try {
          ok = this.writeMany(chunks.map((c) => c.chunk as Buffer), stream);
        } catch (err) {
          callback(err as Error);
          return;
        }
        if (ok) callback();
        else this.waitForDrain(callback);
      },
    });
  }

  /**
   * Delivers only these streams from now on (the first call turns filtering
   * on; until then every stream is delivered). Registers the name.
   * @throws InvalidArgumentValueError when the name collides with another name in use.
   */
  subscribe(stream: string): this {
    this.subscribed.add(stream === DEFAULT_STREAM ? 0 : this.streams.idOf(stream));
    this.filtering = true;
    return this;
  }

  /** Whether messages of `stream` are delivered: subscribed, or no filtering yet (every stream is). */
  isSubscribed(stream: string): boolean {
    return !this.filtering || this.subscribed.has(stream === DEFAULT_STREAM ? 0 : this.streams.idOf(stream));
  }

  /** Stops delivering `stream`. With filtering on and nothing subscribed, nothing is delivered. */
  unsubscribe(stream: string): this {
    this.subscribed.delete(stream === DEFAULT_STREAM ? 0 : this.streams.idOf(stream));
    this.filtering = true;
    return this;
  }

  [Symbol.asyncIterator](): AsyncIterator<Message> {
    // Breaking out of a for-await loop must not destroy the channel's readable.
    return this.readable.iterator({ destroyOnReturn: false }) as AsyncIterator<Message>;
  }

  /**
   * Switches an encrypted channel to a new group key: what it sends from now
   * on is sealed with `key` (id 1..255, not the current id); what it receives
   * under the previous key is still accepted for `keyGraceMs`. Call it on every
   * member (docs/security.md, "Key rotation").
   * @throws InvalidArgumentTypeError / InvalidArgumentValueError for a bad key or
   *   the current id, or a channel opened without `key`; ClosedError after close(). Nothing changes when it throws.
   */
  rotateKey(key: GroupKeyInput): void {
    if (this.state !== 'open') throw new ClosedError('channel');
    const checked = checkGroupKey(key, 'key');
    const sealed = this.sealed;
    if (sealed === undefined) throw new InvalidArgumentValueError('rotateKey() needs a channel opened with options.key');
    this.driver.apply((nowMs) => sealed.rotateKey(nowMs, checked));
  }

  /**
   * Protocol, transport and channel counters, receive-path rejects by reason (header, encryption, authentication),
   * encryption counters (keyed channels) and membership counters (members), in one snapshot.
   */
  stats(): ChannelStats {
    const s = this.registry.snapshot() as unknown as ChannelStats;
    s.crypto ??= undefined;
    return s;
  }

  /**
   * Repair health per source this channel receives from (docs/api.md, "Health"): rates, gaps open, NAKs sent,
   * repairs received, losses, reorder bytes, repair latency, and the socket's kernel drops. Rates are per second
   * since the previous call at least a second ago. Empty after close.
   */
  sources(): SourceStatus[] {
    const nowMs = this.scheduler.nowMs();
    return sourceStatuses(this.health.sourceHealth(nowMs), nowMs, this.sourceRates, this.group?.members(), this.transport.stats().kernelDrops);
  }

  /**
   * Repair health per receiver (docs/api.md, "Health"): for this channel's own sends, every receiver it heard — how
   * far behind it is (messages and bytes), NAKs received and repairs sent for it, its own report (from its STATUS),
   * whether it holds the flow-control window, live or dropped and why (dropped ones stay a minute). On a `passive`
   * channel, also every receiver of every source it overhears (`sourceId` says which).
   */
  receivers(): ReceiverStatus[] {
    const nowMs = this.scheduler.nowMs();
    return receiverStatuses(this.health.receiverHealth(nowMs), nowMs, this.receiverRates, this.group?.members());
  }

  /**
   * Closes gracefully (docs/protocol.md, "Close"): stops accepting writes,
   * transmits everything written (at the rate limit, however long that
   * takes), announces the end of the session, and keeps repairing until
   * every receiver it knows has acknowledged everything and nobody has asked
   * for anything for `closeQuietMs` — a receiver that keeps making progress
   * keeps it serving; one that makes none for `lingerMs` (or is silent for
   * receiverTimeoutMs) is given up. Then it closes the transport. Resolves
   * with what the close achieved: which receivers got everything and which
   * were given up ({@link CloseResult}; `givenUpCount > 0` means some
   * receiver may miss messages). Messages already received stay readable;
   * the readable then ends. Idempotent: every call returns the same promise.
   */
  close(): Promise<CloseResult> {
    this.closePromise ??= this.runClose();
    return this.closePromise;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  private async runClose(): Promise<CloseResult> {
    this.state = 'closing';
    this.options.signal?.removeEventListener('abort', this.onAbort);
    // Writers waiting for 'drain' get their callback; their next write fails with ClosedError.
    this.releaseDrainWaiters();
    let result: CloseResult | undefined;
    try {
      // The core runs the close (docs/protocol.md, "Close"): it transmits what is queued, announces the end,
      // repairs for whoever still asks, and says when it is over; the driver keeps turning until then.
      result = await new Promise<CloseResult>((resolve) => {
        this.closeDone = resolve;
        this.driver.closeEndpoint(false);
        this.checkClose();
      });
    } finally {
      this.closeDone = undefined;
      this.driver.stop();
      try {
        await this.transport.close();
      } finally {
        this.state = 'closed';
        this.group?.end();
        this.reads.end();
        this.emit('close');
      }
    }
    return result;
  }

  /** Resolves close() once the core's close has ended and its last datagram has left (or the driver stopped). */
  private checkClose(): void {
    const done = this.closeDone;
    if (done === undefined) return;
    const outcome = this.endpoint.closeOutcome();
    if (this.driver.isStopped) done(outcome ?? emptyCloseResult());
    else if (outcome !== undefined && this.driver.unsentCount === 0) done(outcome);
  }

  private readonly onAbort = (): void => {
    this.close().catch((err: unknown) => this.driver.report(err as Error));
  };

  private waitForDrain(callback: () => void): void {
    if (this.state !== 'open') callback();
    else this.drainWaiters.push(callback);
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters.splice(0);
    for (const w of waiters) w();
  }

  private onTurnEnd(): void {
    this.reads.endOfTurn();
    this.checkClose();
  }

  private onProtocolEvent(event: ChannelEndpointEvent): void {
    switch (event.type) {
      case 'message': {
        if (this.filtering && !this.subscribed.has(event.streamId)) {
          this.counters.messagesFiltered++;
          return;
        }
        const stream = this.streams.nameOf(event.streamId);
        if (this.listenerCount('messages') > 0) this.deliverBatch(new MessageBatch(event.source, stream, event.seq, 1, event.data, false));
        else this.reads.deliver({ data: event.data, source: event.source, stream, seq: event.seq }, event.streamId);
        return;
      }
      case 'messages': {
        if (this.filtering && !this.subscribed.has(event.streamId)) {
          this.counters.messagesFiltered += event.count;
          return;
        }
        const batch = new MessageBatch(event.source, this.streams.nameOf(event.streamId), event.firstSeq, event.count, event.payload, true);
        if (this.listenerCount('messages') > 0) this.deliverBatch(batch);
        else for (let i = 0; i < batch.count; i++) this.reads.deliver(batch.message(i), event.streamId);
        return;
      }
      case 'loss':
        if (this.filtering && !this.subscribed.has(event.streamId)) return;
        this.emit('loss', { source: event.source, stream: this.streams.nameOf(event.streamId), fromSeq: event.fromSeq, toSeq: event.toSeq, reason: event.reason });
        return;
      case 'source':
        this.emit('source', event.source);
        return;
      case 'source-gone':
        this.emit('source-gone', event.source, event.reason);
        return;
      case 'receiver':
        this.emit('receiver', event.receiver);
        return;
      case 'receiver-dropped':
        this.emit('receiver-dropped', event.receiver, event.reason);
        return;
      case 'drain':
        this.releaseDrainWaiters();
        this.emit('drain');
        return;
      case 'member':
        this.group?.dispatch(event.change);
        return;
      case 'send-stopped':
        // The datagram counter of this encrypted sender ran out: nothing more can be sent (receiving goes on).
        this.driver.report(event.error);
        return;
      case 'warning':
        this.emit('warning', { reason: event.reason, message: describeLimit(event.reason), count: event.count, suppressed: event.suppressed });
        return;
    }
  }

  // ---- read side ---------------------------------------------------------

  /** Batch API: straight to the 'messages' listeners, no queue (they run now, in this turn). */
  private deliverBatch(batch: MessageBatch): void {
    this.counters.messagesReceived += batch.count;
    this.emit('messages', batch);
  }

  // ---- errors --------------------------------------------------------------

  /** An error the driver let through its rate limit. */
  private surfaceError(err: Error): void {
    if (this.listenerCount('error') > 0) this.emit('error', err);
    // An unhandled 'error' would kill the process over a transient send failure; warn instead.
    else process.emitWarning(`blipcast channel ${this.info.group}: ${err.message}`, { type: 'Warning', code: 'BLIPCAST_SEND_ERROR' });
  }
}

/**
 * Opens a channel on a multicast group. All options are validated first:
 * when one is bad, open() rejects with a typed error and nothing is opened.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError (naming the option),
 *   NotMulticastError, UnknownInterfaceError, TransportUnavailableError,
 *   SystemError (socket failures), AbortError (options.signal aborted; whatever was opened is closed).
 */
export async function open(options: OpenOptions & TestHooks): Promise<Channel> {
  const resolved = resolveOptions(options);
  const signal = resolved.signal;
  throwIfAborted(signal);

  const streams = new StreamRegistry();
  for (const [name, id] of resolved.streams) {
    if (id === undefined) streams.idOf(name, 'options.streams');
    else streams.declare(name, id, 'options.streams');
  }

  let transport: Transport;
  let scheduler: Scheduler;
  if (resolved.transport === 'memory') {
    transport = resolved.network!.createTransport(resolved.host!, resolved.transportOptions);
    scheduler = resolved.network!.hostScheduler(resolved.host!); // the host's clock: a crash or pause of the host stops its timers
  } else {
    transport = await createTransport({ ...resolved.transportOptions, kind: resolved.transport });
    scheduler = realScheduler;
  }
  try {
    if (resolved.wrapTransport) transport = resolved.wrapTransport(transport);
    throwIfAborted(signal);
  } catch (err) {
    await transport.close();
    throw err;
  }
  return new Channel({ options: resolved, transport, scheduler, streams, registry: new Counters() });
}

/** The outcome of a close that could not run (the driver had stopped: the counter of an encrypted sender ran out, or the transport failed). */
function emptyCloseResult(): CloseResult {
  return { flushed: [], flushedCount: 0, givenUp: [], givenUpCount: 0, left: [], leftCount: 0, messagesPossiblyMissing: 0, datagramsUnsent: 0, durationMs: 0 };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}

/**
 * The bytes of one message written: a string as UTF-8, a Buffer or Uint8Array
 * as it is. `index` names it within a writeMany() batch in the error.
 * @throws InvalidArgumentTypeError for anything else.
 */
function messageBytes(data: unknown, index?: number): Uint8Array {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (data instanceof Uint8Array) return data;
  const name = index === undefined ? 'data' : `messages[${index}]`;
  throw new InvalidArgumentTypeError(`${name} must be a Buffer, Uint8Array or string, got ${data === null ? 'null' : typeof data}`);
}
