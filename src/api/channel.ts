/**
 * The public API: `await open({ group })` returns a {@link Channel} that
 * writes messages to a multicast group reliably and reads what every other
 * sender on the group writes, in order, exactly once (or with an exact loss
 * report). See docs/api.md.
 */

import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import type { ChannelCounters, ChannelEvents, ChannelInfo, ChannelState, ChannelStats, CloseResult, Message } from './channel-types';
import { realScheduler, type Scheduler } from '../util/clock';
import { AEAD_TAG_BYTES } from '../crypto/constants';
import { Announcer, SessionVerifier } from '../crypto/announce';
import { GroupCrypto } from '../crypto/group-crypto';
import { checkGroupKey, type GroupKeyInput } from '../crypto/key';
import { Driver } from './driver';
import { MessageBatch } from './message-batch';
import { AbortError, ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import { Group } from './group';
import { GroupedEndpoint } from '../group/grouped-endpoint';
import { createMembership } from '../group/membership';
import { resolveOptions, type OpenOptions, type ResolvedOptions } from './options';
import type { Endpoint, SourceInfo } from '../protocol/api';
import type { GroupedEvent } from '../group/grouped-endpoint';
import { describeLimit } from '../protocol/limits';
import { createEndpoint } from '../protocol/endpoint';
import { createRandom } from '../util/random';
import { DEFAULT_STREAM, StreamRegistry } from './streams';
import { createTransport } from '../transport/index';
import type { Transport } from '../transport/transport';
import { sessionIdHex } from '../wire/header';

export type { OpenOptions, TransportChoice, TuningOptions } from './options';
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

/** Transport errors are reported at most once per this interval; the others are counted (`stats().channel.errorsSuppressed`). */
export const ERROR_REPORT_INTERVAL_MS = 1000;

interface PendingLoss {
  source: SourceInfo;
  streamId: number;
  fromSeq: number;
  toSeq: number;
}

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
  private readonly endpoint: Endpoint<GroupedEvent>;
  private readonly transport: Transport;
  private readonly scheduler: Scheduler;
  private readonly driver: Driver;
  private readonly streams: StreamRegistry;
  private readonly subscribed = new Set<number>();
  /** False until subscribe()/unsubscribe() is first called: then only `subscribed` streams are delivered. */
  private filtering = false;
  private state: ChannelState = 'open';
  private closePromise: Promise<CloseResult> | undefined;
  /** Resolves the pending close() with the core's outcome. */
  private closeDone: ((result: CloseResult) => void) | undefined;
  private readonly drainWaiters: Array<() => void> = [];

  // Read side: our own queue in front of the Readable, so that memory is counted in bytes.
  private queue: (Message | undefined)[] = [];
  private queueHead = 0;
  private queueBytes = 0;
  private wantRead = false;
  private pumping = false;
  private readEnded = false;
  private nullPushed = false;
  private overflowing = false;
  private readonly pendingLoss = new Map<string, PendingLoss>();
  /** Half of maxReadBufferBytes: what receivers advertise as their read budget (docs/api.md, "Slow readers"). */
  private readonly readBudgetBytes: number;
  /** The application has started reading (the readable asked for data once): from then on its backlog paces 'min' senders. */
  private reading = false;
  /** The read backlog the core was last told of. */
  private backlogReported = 0;

  private lastErrorReportMs = -Infinity;
  private readonly counters: ChannelCounters = {
    messagesWritten: 0, bytesWritten: 0, writesBackPressured: 0, messagesReceived: 0, messagesFiltered: 0,
    readBufferedMessages: 0, readBufferedBytes: 0, readDropped: 0, unsentDatagrams: 0, errors: 0, errorsSuppressed: 0,
  };

  private readonly crypto: GroupCrypto | undefined;
  private readonly verifier: SessionVerifier | undefined;

  /** @internal use {@link open} */
  constructor(args: {
    options: ResolvedOptions; endpoint: Endpoint<GroupedEvent>; transport: Transport; scheduler: Scheduler; streams: StreamRegistry; sessionId: string;
    sessionHi: number; sessionLo: number;
  }) {
    super();
    this.options = args.options;
    this.endpoint = args.endpoint;
    this.group = this.endpoint instanceof GroupedEndpoint ? new Group(this.endpoint.membership, args.sessionId) : undefined;
    this.transport = args.transport;
    this.scheduler = args.scheduler;
    this.streams = args.streams;
    const t = this.transport.info;
    this.info = {
      transport: this.transport.kind,
      group: this.options.groupText,
      address: this.options.group.address,
      port: this.options.group.port,
      family: this.options.group.family,
      interface: t.interface ?? this.options.interfaceName,
      sessionId: args.sessionId,
    };
    this.readBudgetBytes = readBudgetOf(this.options);
    this.readable = new Readable({
      objectMode: true,
      highWaterMark: this.options.readHighWaterMark,
      read: () => {
        this.reading = true;
        this.wantRead = true;
        this.pump();
      },
    });
    const key = this.options.key;
    if (key !== undefined) {
      this.crypto = new GroupCrypto({ key, keyGraceMs: this.options.keyGraceMs });
      if (this.options.trustedKeys !== undefined) this.verifier = new SessionVerifier(this.options.trustedKeys, { sessionHi: args.sessionHi, sessionLo: args.sessionLo });
    }
    const signingKey = this.options.signingKey;
    this.driver = new Driver({
      endpoint: this.endpoint,
      transport: this.transport,
      scheduler: this.scheduler,
      ...(this.crypto !== undefined ? { crypto: this.crypto } : {}),
      ...(this.verifier !== undefined ? { verifier: this.verifier } : {}),
      ...(signingKey !== undefined ? { announcer: new Announcer(signingKey, args.sessionHi, args.sessionLo) } : {}),
      sink: {
        onEvent: (event) => this.onProtocolEvent(event),
        onTurnEnd: () => this.onTurnEnd(),
        onError: (err) => this.reportError(err),
      },
    });
    this.options.signal?.addEventListener('abort', this.onAbort, { once: true });
    // The first ANNOUNCE leaves in the driver's first turn.
    if (this.endpoint instanceof GroupedEndpoint) this.endpoint.join(this.scheduler.nowMs());
    this.driver.start();
  }

  /** 'open' until close() is called, 'closing' while it lingers, then 'closed'. */
  get status(): ChannelState {
    return this.state;
  }

  /**
   * Sends one message on `stream` (default ''). The bytes are copied before
   * write() returns; the message leaves at the end of this event-loop turn,
   * packed with the other messages written in the same turn.
   *
   * Returns false when the sender's window is full (the message IS accepted):
   * wait for 'drain' before writing more, or memory grows without bound.
   * @throws InvalidArgumentTypeError for data that is not a Buffer, Uint8Array or string;
   *   InvalidArgumentValueError for a message over maxMessageBytes or a stream name that collides;
   *   ClosedError after close(). Nothing is sent when it throws.
   */
  write(data: Buffer | Uint8Array | string, stream: string = DEFAULT_STREAM): boolean {
    if (this.state !== 'open') throw new ClosedError('channel');
    let bytes: Uint8Array;
    if (typeof data === 'string') bytes = Buffer.from(data, 'utf8');
    else if (data instanceof Uint8Array) bytes = data;
    else throw new InvalidArgumentTypeError(`data must be a Buffer, Uint8Array or string, got ${data === null ? 'null' : typeof data}`);
    if (bytes.length > this.options.maxMessageBytes) {
      throw new InvalidArgumentValueError(`data is ${bytes.length} bytes, more than maxMessageBytes (${this.options.maxMessageBytes})`);
    }
    const streamId = stream === DEFAULT_STREAM ? 0 : this.streams.idOf(stream);
    const ok = this.driver.send(streamId, bytes);
    this.counters.messagesWritten++;
    this.counters.bytesWritten += bytes.length;
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
          for (const c of chunks) ok = writeOne(c.chunk as Buffer);
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
    if (this.crypto === undefined) throw new InvalidArgumentValueError('rotateKey() needs a channel opened with options.key');
    this.driver.rotateKey(checked);
  }

  /**
   * Protocol, transport and channel counters, receive-path rejects by reason (header, encryption, authentication),
   * encryption counters (keyed channels) and membership counters (members), in one snapshot.
   */
  stats(): ChannelStats {
    return {
      protocol: this.endpoint.stats(),
      transport: this.transport.stats(),
      rejects: this.driver.rejectCounts(),
      crypto: this.crypto === undefined ? undefined : { ...this.crypto.stats(), ...(this.verifier?.stats() ?? {}) },
      channel: {
        ...this.counters,
        readBufferedMessages: this.queue.length - this.queueHead,
        readBufferedBytes: this.queueBytes,
        unsentDatagrams: this.driver.unsentCount,
      },
      ...(this.group ? { group: this.group.stats() } : {}),
    };
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
        this.driver.closeEndpoint(this.driver.isSendStopped);
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
        this.flushPendingLoss();
        this.readEnded = true;
        this.pump();
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
    this.close().catch((err: unknown) => this.reportError(err as Error));
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
    this.flushPendingLoss();
    this.reportBacklog();
    this.checkClose();
  }

  /**
   * Tells the core how much the reader holds unread (it advertises the rest
   * of the read budget to 'min' senders), when that changed by an eighth of
   * the budget or emptied: not per message.
   */
  private reportBacklog(): void {
    // A channel nobody reads from (no iterator, no 'data' listener) is not a reader to wait for: it drops at maxReadBufferBytes.
    const bytes = this.reading ? this.queueBytes : 0;
    if (bytes === this.backlogReported) return;
    if (bytes !== 0 && Math.abs(bytes - this.backlogReported) < this.readBudgetBytes / 8) return;
    this.backlogReported = bytes;
    this.driver.setReadBacklog(bytes);
  }

  private onProtocolEvent(event: GroupedEvent): void {
    switch (event.type) {
      case 'message': {
        if (this.filtering && !this.subscribed.has(event.streamId)) {
          this.counters.messagesFiltered++;
          return;
        }
        const stream = this.streams.nameOf(event.streamId);
        if (this.listenerCount('messages') > 0) this.deliverBatch(new MessageBatch(event.source, stream, event.seq, 1, event.data, false));
        else this.deliver({ data: event.data, source: event.source, stream, seq: event.seq }, event.streamId);
        return;
      }
      case 'messages': {
        if (this.filtering && !this.subscribed.has(event.streamId)) {
          this.counters.messagesFiltered += event.count;
          return;
        }
        const batch = new MessageBatch(event.source, this.streams.nameOf(event.streamId), event.firstSeq, event.count, event.payload, true);
        if (this.listenerCount('messages') > 0) this.deliverBatch(batch);
        else for (let i = 0; i < batch.count; i++) this.deliver(batch.message(i), event.streamId);
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

  private deliver(message: Message, streamId: number): void {
    if (this.readable.destroyed) {
      // Nobody can read any more; keep nothing.
      this.counters.readDropped++;
      return;
    }
    const max = this.options.maxReadBufferBytes;
    if (this.overflowing && this.queueBytes <= max / 2) this.overflowing = false;
    if (this.overflowing || this.queueBytes + message.data.length > max) {
      // The reader is far behind: drop rather than grow without bound or stall the protocol (which would stall every receiver).
      this.overflowing = true;
      this.counters.readDropped++;
      this.recordDrop(message, streamId);
      return;
    }
    this.counters.messagesReceived++;
    this.queue.push(message);
    this.queueBytes += message.data.length;
    if (this.wantRead) this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.wantRead && this.queueHead < this.queue.length) {
        const m = this.queue[this.queueHead]!;
        this.queue[this.queueHead++] = undefined;
        this.queueBytes -= m.data.length;
        this.wantRead = this.readable.push(m);
      }
      if (this.queueHead === this.queue.length) {
        this.queue.length = 0;
        this.queueHead = 0;
      } else if (this.queueHead > 1024 && this.queueHead * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.queueHead);
        this.queueHead = 0;
      }
      if (this.readEnded && this.queueHead === this.queue.length && !this.nullPushed && !this.readable.destroyed) {
        this.nullPushed = true;
        this.readable.push(null);
      }
    } finally {
      this.pumping = false;
    }
    if (this.state !== 'closed') this.reportBacklog();
  }

  private recordDrop(message: Message, streamId: number): void {
    const key = `${message.source.id}/${streamId}`;
    const pending = this.pendingLoss.get(key);
    if (pending === undefined) this.pendingLoss.set(key, { source: message.source, streamId, fromSeq: message.seq, toSeq: message.seq });
    else pending.toSeq = message.seq;
  }

  /** Reports the read-buffer drops of this turn, one loss event per (source, stream). */
  private flushPendingLoss(): void {
    if (this.pendingLoss.size === 0) return;
    const all = [...this.pendingLoss.values()];
    this.pendingLoss.clear();
    for (const p of all) {
      this.emit('loss', { source: p.source, stream: this.streams.nameOf(p.streamId), fromSeq: p.fromSeq, toSeq: p.toSeq, reason: 'read-buffer' });
    }
  }

  // ---- errors --------------------------------------------------------------

  private reportError(err: Error): void {
    const nowMs = this.scheduler.nowMs();
    if (nowMs - this.lastErrorReportMs < ERROR_REPORT_INTERVAL_MS) {
      this.counters.errorsSuppressed++;
      return;
    }
    this.lastErrorReportMs = nowMs;
    this.counters.errors++;
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
export async function open(options: OpenOptions): Promise<Channel> {
  const resolved = resolveOptions(options);
  const signal = resolved.signal;
  throwIfAborted(signal);

  const streams = new StreamRegistry();
  for (const [name, id] of resolved.streams) {
    if (id === undefined) streams.idOf(name, 'options.streams');
    else streams.declare(name, id, 'options.streams');
  }

  let sessionHi: number;
  let sessionLo: number;
  let random: () => number;
  if (resolved.seed !== undefined) {
    const rng = createRandom(resolved.seed);
    sessionHi = rng.nextUint32();
    sessionLo = rng.nextUint32();
    random = () => rng.next();
    if (resolved.key !== undefined) {
      // The session id is half the AES-GCM nonce: two processes with one seed must never share it.
      const bytes = randomBytes(8);
      sessionHi = bytes.readUInt32BE(0);
      sessionLo = bytes.readUInt32BE(4);
    }
  } else {
    const bytes = randomBytes(8);
    sessionHi = bytes.readUInt32BE(0);
    sessionLo = bytes.readUInt32BE(4);
    random = Math.random;
  }
  const reliable = createEndpoint(
    {
      sessionHi,
      sessionLo,
      // A sealed datagram carries a 16-byte tag more than the core's.
      maxDatagramBytes: resolved.key === undefined ? resolved.maxDatagramBytes : resolved.maxDatagramBytes - AEAD_TAG_BYTES,
      windowBytes: resolved.windowBytes,
      windowMessages: resolved.windowMessages,
      rateBytesPerSec: resolved.rateBytesPerSec,
      ...(resolved.sendQueueBytes !== undefined ? { sendQueueBytes: resolved.sendQueueBytes } : {}),
      flowControl: resolved.flowControl,
      lateJoin: resolved.lateJoin,
      maxMessageBytes: resolved.maxMessageBytes,
      maxReorderBytes: resolved.maxReorderBytes,
      maxReassemblyBytes: resolved.maxReassemblyBytes,
      random,
      lingerMs: resolved.lingerMs,
      closeQuietMs: resolved.closeQuietMs,
      readBudgetBytes: readBudgetOf(resolved),
      openedAtMs: resolved.transport === 'memory' ? resolved.network!.nowMs() : realScheduler.nowMs(),
      // Sealed datagrams carry the seal's counter in the CRC field: computing the CRC would be wasted.
      checksum: resolved.key === undefined,
    },
    resolved.tuning,
  );
  const member = resolved.member;
  const endpoint: Endpoint<GroupedEvent> = member === undefined
    ? reliable
    : new GroupedEndpoint(reliable, createMembership({ sessionHi, sessionLo, name: member.name, metadata: member.metadata, random, maxDatagramBytes: resolved.maxDatagramBytes }, member.tuning));

  let transport: Transport;
  let scheduler: Scheduler;
  if (resolved.transport === 'memory') {
    transport = resolved.network!.createTransport(resolved.host!, resolved.transportOptions);
    scheduler = resolved.network!;
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
  return new Channel({ options: resolved, endpoint, transport, scheduler, streams, sessionId: sessionIdHex(sessionHi, sessionLo), sessionHi, sessionLo });
}

/** What a receiver advertises as its read budget: half of maxReadBufferBytes (the other half absorbs several sources and in-flight data). */
function readBudgetOf(options: ResolvedOptions): number {
  return Math.max(1, Math.floor(options.maxReadBufferBytes / 2));
}

/** The outcome of a close that could not run (the driver had stopped: the counter of an encrypted sender ran out, or the transport failed). */
function emptyCloseResult(): CloseResult {
  return { flushed: [], flushedCount: 0, givenUp: [], givenUpCount: 0, left: [], leftCount: 0, messagesPossiblyMissing: 0, datagramsUnsent: 0, durationMs: 0 };
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AbortError(undefined, { cause: signal.reason });
}
