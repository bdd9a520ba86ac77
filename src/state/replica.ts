/**
 * replicate(): one replica of a named map on a channel. Writes apply here at
 * once and go out as deltas at the end of the turn; other replicas' deltas
 * merge by last-writer-wins (store.ts). Behind them, one replica cycles the
 * whole map in snapshot chunks at a bounded rate, so a replica that starts
 * late, or that finds it lost deltas (knowledge.ts), rebuilds from a cycle
 * while it applies the deltas that arrive meanwhile. Every replica says what
 * it holds in a summary each summaryMs; one that is not synced asks the
 * replica best placed to answer for a cycle (REQUEST names it, so N replicas
 * never all answer).
 *
 * Who cycles without being asked: the owner of a single-writer map; in a
 * multi-writer map, the synced replica with the lowest id among those heard.
 */

import { EventEmitter } from 'node:events';
import { AbortError, ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError, type Channel, type LossInfo, type MessageBatch, type Scheduler, type SourceInfo } from '../index';
import { checkKnown, choiceOption, describe, numberOption } from '../apps/options';
import { realScheduler } from '../apps/scheduler';
import {
  BUCKETS, decode, encodeChunk, encodeDelta, encodeRequest, encodeSummary, entryBytes, FLAG_BASELINE, FLAG_LAST, FLAG_VECTOR, vectorBytes, FLAG_OWNER, FLAG_READ_ONLY, FLAG_SYNCED, Type, type Stamp, type StateMessage,
  type Vector, type WireEntry,
} from './codec';
import { ReadOnlyError } from './errors';
import { coverage, covers, Knowledge } from './knowledge';
import { bucketOf, Hlc, Store, UNSET, type Entry } from './store';
import type { ChangeEvent, ReplicatedMap, ReplicatedMapStats, ReplicateOptions, ValueCodec } from './types';

export const DEFAULT_SNAPSHOT_BYTES_PER_SEC = 1024 * 1024;
export const DEFAULT_SNAPSHOT_INTERVAL_MS = 30_000;
export const DEFAULT_SUMMARY_MS = 1000;
export const DEFAULT_TOMBSTONE_MS = 3_600_000;
/** Longest key, UTF-8 bytes. */
export const MAX_KEY_BYTES = 4096;
/** Largest value, encoded bytes. */
export const MAX_VALUE_BYTES = 1024 * 1024;
/** Longest map name, UTF-8 bytes (the stream is `state/<name>`). */
export const MAX_NAME_BYTES = 200;
/** A snapshot chunk is cut at the first bucket boundary past this many bytes. */
const CHUNK_BYTES = 16 * 1024;
/** A delta is sent once it holds this many bytes (the rest of the turn's writes go in the next). */
const DELTA_BYTES = 64 * 1024;
const MAX_ENTRIES_PER_MESSAGE = 0xffff;
/** Most writers a summary or a cycle's vector names. */
const MAX_VECTOR = 4096;
/** A replica not heard for this many summary intervals is gone. */
const PEER_SILENCE_INTERVALS = 3;
/** A new replica waits this many summary intervals for others before it takes itself to be the first. */
const FIRST_WAIT_INTERVALS = 2;

const KNOWN_OPTIONS = ['codec', 'owner', 'readOnly', 'snapshotBytesPerSec', 'snapshotIntervalMs', 'summaryMs', 'tombstoneMs', 'signal'] as const;

export function streamOf(name: string): string {
  return `state/${name}`;
}

/**
 * Replicates the map `name` over `channel`: resolves once the replica is set up (not synced:
 * see `synced()`). The channel stays the caller's; the map reads it with a 'messages' listener.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming the bad argument; ClosedError for a closed channel.
 */
export async function replicate<V = unknown>(channel: Channel, name: string, options: ReplicateOptions = {}): Promise<ReplicatedMap<V>> {
  return replicateWith<V>(channel, name, options, realScheduler, () => Date.now());
}

/** replicate() on `scheduler`'s timers and `wallMs`'s clock (tests: the memory network's virtual time). Not exported from `blipcast/state`. */
export async function replicateWith<V = unknown>(channel: Channel, name: string, options: ReplicateOptions, scheduler: Scheduler, wallMs: () => number): Promise<ReplicatedMap<V>> {
  if (typeof channel !== 'object' || channel === null || typeof (channel as Partial<Channel>).write !== 'function') {
    throw new InvalidArgumentTypeError(`channel must be a Channel from open(), got ${describe(channel)}`);
  }
  if (typeof name !== 'string') throw new InvalidArgumentTypeError(`name must be a string, got ${describe(name)}`);
  if (name === '' || Buffer.byteLength(name) > MAX_NAME_BYTES) throw new InvalidArgumentValueError(`name must be 1..${MAX_NAME_BYTES} UTF-8 bytes, got '${name.slice(0, 40)}'`);
  checkKnown(options, KNOWN_OPTIONS);
  const codec = choiceOption<ValueCodec>(options, 'codec', ['json', 'buffer']) ?? 'json';
  const owner = booleanOption(options, 'owner') ?? false;
  const readOnly = booleanOption(options, 'readOnly') ?? false;
  if (owner && readOnly) throw new InvalidArgumentValueError('options.owner and options.readOnly exclude each other');
  const settings: Settings = {
    codec, owner, readOnly,
    snapshotBytesPerSec: numberOption(options, 'snapshotBytesPerSec', 1024, 1e12) ?? DEFAULT_SNAPSHOT_BYTES_PER_SEC,
    snapshotIntervalMs: numberOption(options, 'snapshotIntervalMs', 0, 86_400_000) ?? DEFAULT_SNAPSHOT_INTERVAL_MS,
    summaryMs: numberOption(options, 'summaryMs', 10, 3_600_000) ?? DEFAULT_SUMMARY_MS,
    tombstoneMs: numberOption(options, 'tombstoneMs', 0, 2 ** 40) ?? DEFAULT_TOMBSTONE_MS,
  };
  const signal = options.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentTypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
  if (channel.status !== 'open') throw new ClosedError('channel');
  const map = new Replica<V>(channel, name, settings, scheduler, wallMs);
  if (signal !== undefined) {
    if (signal.aborted) void map.close();
    else signal.addEventListener('abort', () => void map.close(), { once: true });
  }
  return map;
}

function booleanOption(options: Record<string, unknown>, name: string): boolean | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new InvalidArgumentTypeError(`options.${name} must be a boolean, got ${describe(v)}`);
  return v;
}

interface Settings {
  codec: ValueCodec;
  owner: boolean;
  readOnly: boolean;
  snapshotBytesPerSec: number;
  snapshotIntervalMs: number;
  summaryMs: number;
  tombstoneMs: number;
}

interface Waiter {
  /** 'settled': synced, and every replica heard is synced and holds the same content. */
  until: 'synced' | 'settled';
  resolve: () => void;
  reject: (e: Error) => void;
  off: () => void;
}

interface Peer {
  lastHeardMs: number;
  digest: string;
  /** It has had a complete picture (its snapshot gives one). */
  baseline: boolean;
  /** It never answers a REQUEST. */
  readOnly: boolean;
  synced: boolean;
  owner: boolean;
  vector: Vector;
}

/** A snapshot cycle this replica is sending. */
interface Cycle {
  number: number;
  base: Vector;
  /** Keys in bucket order, as they were when the cycle began. */
  keys: string[];
  buckets: Uint16Array;
  pos: number;
  index: number;
  /** Whether every chunk carries the vector (it is small enough). */
  vectorInEvery: boolean;
  /** Replicas that asked before it began: it serves them whole. */
  askers: Set<string>;
  /** Started for askers (not the background cycle): it ends early once they all say they are synced. */
  requested: boolean;
}

class Replica<V> extends EventEmitter implements ReplicatedMap<V> {
  readonly id: string;
  private readonly stream: string;
  private readonly store = new Store();
  private readonly knowledge: Knowledge;
  private readonly hlc: Hlc;
  private readonly peers = new Map<string, Peer>();
  private readonly counters: Omit<ReplicatedMapStats, 'entries' | 'tombstones' | 'synced' | 'replicas'>;
  private readonly startedMs: number;
  /** Writes of this turn, not sent yet. */
  private pending: WireEntry[] = [];
  private pendingBytes = 0;
  private flushQueued = false;
  private dseq = 0;
  /** Owner mode: the stamp counter. */
  private ownerCount = 0;
  /** Single-writer map: the owner's id, once known (this replica's when it is the owner). */
  private ownerId: string | undefined;
  /** A complete picture was reached once: the first replica, the owner, or a complete snapshot. */
  private baseline: boolean;
  private syncedNow = false;
  private waiters: Waiter[] = [];
  private cycle: Cycle | undefined;
  private cycleNumber = 0;
  private lastCycleStartMs = -Infinity;
  /** A request asked for a newer base than the cycle being sent: start another after it. */
  private cycleAgain = false;
  private cycleTimer: unknown;
  private soonTimer: unknown;
  private lastRequestMs = -Infinity;
  /** Replicas that asked for a cycle since the current one began. */
  private pendingAskers = new Set<string>();
  private summaryTimer: unknown;
  private closedPromise: Promise<void> | undefined;
  private closing = false;
  private readonly onMessages = (batch: MessageBatch): void => this.receive(batch);
  private readonly onLoss = (loss: LossInfo): void => this.lost(loss);
  private readonly onSourceGone = (source: SourceInfo): void => this.sourceGone(source.id);
  private readonly onClose = (): void => void this.close();
  private readonly onDrain = (): void => {
    if (this.cycle !== undefined && this.cycleTimer === undefined) this.sendChunk();
  };

  constructor(
    private readonly channel: Channel,
    readonly name: string,
    private readonly settings: Settings,
    private readonly scheduler: Scheduler,
    private readonly wallMs: () => number,
  ) {
    super();
    this.id = channel.info.sessionId;
    this.stream = streamOf(name);
    this.knowledge = new Knowledge(this.id, () => scheduler.nowMs());
    this.hlc = new Hlc(wallMs);
    this.startedMs = scheduler.nowMs();
    this.baseline = settings.owner;
    if (settings.owner) this.ownerId = this.id;
    this.counters = {
      writes: 0, deltasSent: 0, changesApplied: 0, changesStale: 0, snapshotsSent: 0, snapshotChunksSent: 0, snapshotBytesSent: 0,
      snapshotChunksReceived: 0, snapshotsCompleted: 0, syncRequestsSent: 0, syncRequestsAnswered: 0, resyncs: 0, writesIgnored: 0,
      tombstonesCollected: 0, invalidMessages: 0, sendErrors: 0, backPressured: 0,
    };
    if (!channel.isSubscribed(this.stream)) channel.subscribe(this.stream);
    channel.on('messages', this.onMessages);
    channel.on('loss', this.onLoss);
    channel.on('source-gone', this.onSourceGone);
    channel.on('close', this.onClose);
    channel.on('drain', this.onDrain);
    // Say so at once, before any write of this replica: the others learn it is a writer before its first delta.
    this.sendSummary();
    this.summaryTimer = scheduler.setTimer(() => this.tick(), settings.summaryMs);
  }

  // ---- reading ----

  get size(): number {
    return this.store.size;
  }

  get isSynced(): boolean {
    return this.syncedNow;
  }

  get(key: string): V | undefined {
    const e = this.store.entries.get(key);
    return e === undefined || e.bytes === undefined ? undefined : this.decodedValue(e);
  }

  has(key: string): boolean {
    return this.store.entries.get(key)?.bytes !== undefined;
  }

  *entries(): IterableIterator<[string, V]> {
    for (const [key, e] of this.store.entries) if (e.bytes !== undefined) yield [key, this.decodedValue(e)];
  }

  *keys(): IterableIterator<string> {
    for (const [key, e] of this.store.entries) if (e.bytes !== undefined) yield key;
  }

  digest(): string {
    return this.store.digest();
  }

  stats(): ReplicatedMapStats {
    return { entries: this.store.size, tombstones: this.store.tombstones, synced: this.syncedNow, replicas: this.peers.size, ...this.counters };
  }

  synced(options?: { signal?: AbortSignal }): Promise<void> {
    return this.wait('synced', options);
  }

  settled(options?: { signal?: AbortSignal }): Promise<void> {
    return this.wait('settled', options);
  }

  /** Synced, and every replica heard is synced and holds what this one does (by the digest of its last summary). */
  get isSettled(): boolean {
    if (!this.syncedNow) return false;
    const digest = this.store.digest();
    for (const p of this.peers.values()) if (!p.synced || p.digest !== digest) return false;
    return true;
  }

  private wait(until: Waiter['until'], options: { signal?: AbortSignal } | undefined): Promise<void> {
    if (this.closing) return Promise.reject(new ClosedError('map'));
    const signal = options?.signal;
    if (signal !== undefined && !(signal instanceof AbortSignal)) throw new InvalidArgumentTypeError(`options.signal must be an AbortSignal, got ${describe(signal)}`);
    if (signal?.aborted === true) return Promise.reject(new AbortError(undefined, { cause: signal.reason }));
    if (until === 'synced' ? this.syncedNow : this.isSettled) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new AbortError(undefined, { cause: signal?.reason }));
      };
      const waiter: Waiter = { until, resolve, reject, off: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private decodedValue(e: Entry): V {
    if (e.decoded === UNSET) e.decoded = this.settings.codec === 'json' ? JSON.parse(e.bytes!.toString('utf8')) : e.bytes;
    return e.decoded as V;
  }

  // ---- writing ----

  set(key: string, value: V): this {
    this.checkWrite(key);
    let bytes: Buffer;
    let decoded: unknown = value;
    if (this.settings.codec === 'json') {
      let json: string | undefined;
      try {
        json = JSON.stringify(value);
      } catch (err) {
        throw new InvalidArgumentValueError(`value of '${key}' cannot be JSON: ${(err as Error).message}`);
      }
      if (json === undefined) throw new InvalidArgumentValueError(`value of '${key}' cannot be JSON: ${describe(value)}`);
      bytes = Buffer.from(json, 'utf8');
      // What other replicas decode, not the caller's object (which it may change later).
      if (typeof value === 'object' && value !== null) decoded = JSON.parse(json);
    } else {
      if (typeof value === 'string') bytes = Buffer.from(value, 'utf8');
      else if (value instanceof Uint8Array) bytes = Buffer.from(value);
      else throw new InvalidArgumentTypeError(`value of '${key}' must be a Buffer, Uint8Array or string with codec 'buffer', got ${describe(value)}`);
      decoded = bytes;
    }
    if (bytes.length > MAX_VALUE_BYTES) throw new InvalidArgumentValueError(`value of '${key}' is ${bytes.length} bytes, more than ${MAX_VALUE_BYTES}`);
    this.write(key, bytes, decoded);
    return this;
  }

  delete(key: string): boolean {
    this.checkWrite(key);
    const had = this.has(key);
    // Always a write, even of a key this replica holds no value for: it must win over the older writes still on their way.
    this.write(key, undefined, undefined);
    return had;
  }

  private checkWrite(key: string): void {
    if (this.closing) throw new ClosedError('map');
    if (typeof key !== 'string') throw new InvalidArgumentTypeError(`key must be a string, got ${describe(key)}`);
    if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new InvalidArgumentValueError(`key must be at most ${MAX_KEY_BYTES} UTF-8 bytes, got ${Buffer.byteLength(key)}`);
    if (this.settings.readOnly) throw new ReadOnlyError(this.name, 'readOnly');
    if (this.ownerId !== undefined && this.ownerId !== this.id) throw new ReadOnlyError(this.name, 'owned', this.ownerId);
  }

  private write(key: string, bytes: Buffer | undefined, decoded: unknown): void {
    const stamp: Stamp = this.settings.owner ? { t: ++this.ownerCount, c: 0, writer: this.id } : this.hlc.next(this.id);
    const expires = bytes === undefined ? this.tombstoneExpiry(stamp) : Infinity;
    this.counters.writes++;
    const applied = this.store.merge(key, stamp, bytes, decoded, expires);
    if (applied !== undefined) this.changed(key, applied.before, applied.after);
    const size = entryBytes(key, bytes, false);
    if (this.pendingBytes + size > DELTA_BYTES || this.pending.length >= MAX_ENTRIES_PER_MESSAGE) this.flush();
    this.pending.push({ key, stamp, value: bytes });
    this.pendingBytes += size;
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.pending.length === 0) return;
    const entries = this.pending;
    const size = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    this.dseq++;
    this.knowledge.sent(this.dseq);
    this.counters.deltasSent++;
    this.send(encodeDelta(this.dseq, this.settings.owner ? FLAG_OWNER : 0, entries, size));
  }

  private send(bytes: Buffer): boolean {
    if (this.channel.status !== 'open') return false;
    try {
      const ok = this.channel.write(bytes, this.stream);
      if (!ok) this.counters.backPressured++;
      return ok;
    } catch {
      this.counters.sendErrors++;
      return true;
    }
  }

  private tombstoneExpiry(stamp: Stamp): number {
    // Multi-writer stamps are wall-clock times every replica agrees on (within clock skew); an owner's are counts.
    return (this.ownerId === undefined ? stamp.t : this.wallMs()) + this.settings.tombstoneMs;
  }

  private changed(key: string, before: Entry | undefined, after: Entry): void {
    if (this.listenerCount('change') === 0) return;
    if (before?.bytes === undefined && after.bytes === undefined) return;
    const change: ChangeEvent<V> = {
      key,
      value: after.bytes === undefined ? undefined : this.decodedValue(after),
      previous: before?.bytes === undefined ? undefined : this.decodedValue(before),
      origin: after.stamp.writer,
    };
    this.emit('change', change);
  }

  // ---- receiving ----

  private receive(batch: MessageBatch): void {
    if (batch.stream !== this.stream || this.closing) return;
    const from = batch.source.id;
    for (let i = 0; i < batch.count; i++) {
      const m = decode(batch.data(i), from);
      if (m === undefined) this.counters.invalidMessages++;
      else this.dispatch(from, m);
    }
    this.updateSynced();
  }

  private dispatch(from: string, m: StateMessage): void {
    switch (m.type) {
      case Type.Delta:
        return this.onDelta(from, m.dseq, m.flags, m.entries);
      case Type.Chunk:
        return this.onChunk(from, m);
      case Type.Summary:
        return this.onSummary(from, m.flags, m.dseq, m.digest, m.vector);
      case Type.Request:
        if (m.target === this.id) this.onRequest(from, m.needs);
        return;
    }
  }

  /** Whether writes from `from` count: on a map with an owner, only the owner's. */
  private accepts(from: string, flags: number): boolean {
    if ((flags & FLAG_OWNER) !== 0) this.ownerSeen(from);
    if (this.ownerId === undefined || this.ownerId === from) return true;
    return false;
  }

  private onDelta(from: string, dseq: number, flags: number, entries: WireEntry[]): void {
    if (!this.accepts(from, flags)) {
      this.counters.writesIgnored += entries.length;
      return;
    }
    this.knowledge.delta(from, dseq);
    this.mergeAll(entries); // even a delta a snapshot already covered: merging is idempotent
  }

  private mergeAll(entries: WireEntry[]): void {
    for (const e of entries) {
      if (this.ownerId === undefined) this.hlc.observe(e.stamp);
      const expires = e.value === undefined ? this.tombstoneExpiry(e.stamp) : Infinity;
      if (e.value === undefined && expires <= this.wallMs() && !this.store.entries.has(e.key)) {
        this.counters.changesStale++; // an expired delete of a key this replica never had: nothing to keep
        continue;
      }
      const applied = this.store.merge(e.key, e.stamp, e.value, UNSET, expires);
      if (applied === undefined) this.counters.changesStale++;
      else {
        this.counters.changesApplied++;
        this.changed(e.key, applied.before, applied.after);
      }
    }
  }

  private onChunk(from: string, m: Extract<StateMessage, { type: Type.Chunk }>): void {
    if (!this.accepts(from, m.flags)) return;
    this.counters.snapshotChunksReceived++;
    this.mergeAll(m.entries);
    if (this.syncedNow) return;
    const base = this.knowledge.chunk(from, m.cycle, m.index, m.from, m.to, m.vector, this.knowledge.needs());
    if (base === undefined) return;
    this.counters.snapshotsCompleted++;
    this.knowledge.snapshot(base);
    // Only a sender that had a complete picture gives one: two newcomers must not make each other synced with nothing.
    if ((m.flags & FLAG_BASELINE) !== 0) this.baseline = true;
  }

  private onSummary(from: string, flags: number, dseq: number, digest: string, vector: Vector): void {
    const owner = (flags & FLAG_OWNER) !== 0;
    if (owner) this.ownerSeen(from);
    const isNew = !this.peers.has(from);
    this.peers.set(from, {
      lastHeardMs: this.scheduler.nowMs(), digest, synced: (flags & FLAG_SYNCED) !== 0, baseline: (flags & FLAG_BASELINE) !== 0, readOnly: (flags & FLAG_READ_ONLY) !== 0, owner, vector,
    });
    // A newcomer learns at once who holds the map (not at the next summary), and asks at once.
    if (isNew && this.syncedNow) this.summarySoon();
    if (!this.syncedNow && this.scheduler.nowMs() - this.lastRequestMs >= this.settings.summaryMs) queueMicrotask(() => this.requestSync());
    if (this.ownerId !== undefined && from !== this.ownerId) return; // a reader of an owned map: nothing it says is a write
    if (dseq > 0) this.knowledge.claimed(from, dseq);
    // A writer that is not heard itself any more (gone) can only be caught up with through others: what they hold of it, this replica must too.
    for (const [w, d] of vector) {
      if (w === this.id || this.peers.has(w)) continue;
      this.knowledge.claimed(w, d);
    }
  }

  /**
   * A REQUEST names this replica. Idle: a cycle starts at once. Cycling: a replica that asked before the cycle began
   * is served by it, unless it needs a newer vector; one that asks in mid-cycle missed its start, and takes the rest
   * of this cycle and the start of another, which begins right after this one.
   */
  private onRequest(from: string, needs: Vector): void {
    if (!this.answers()) return;
    this.pendingAskers.add(from);
    const peer = this.peers.get(from);
    if (peer !== undefined) peer.synced = false; // it says so by asking (its last summary may be older)
    if (this.cycle === undefined) {
      this.counters.syncRequestsAnswered++;
      this.startCycle();
    } else if (!this.cycle.askers.has(from) || !covers(this.cycle.base, needs)) {
      this.cycleAgain = true;
    }
  }

  private ownerSeen(id: string): void {
    if (this.ownerId === id) return;
    if (this.settings.owner) return; // another owner: it is a misconfiguration; this one goes on as the writer
    const first = this.ownerId === undefined;
    this.ownerId = id;
    if (!first || this.store.entries.size > 0) {
      // A new owner (the old one restarted): its map is the truth. Start over from its snapshot.
      for (const [key, e] of [...this.store.entries]) {
        this.store.entries.delete(key);
        if (e.bytes !== undefined) this.changed(key, e, { stamp: e.stamp, bytes: undefined, decoded: undefined, expiresAt: 0 });
      }
      this.store.clear();
      this.knowledge.reset();
      this.baseline = false;
    }
  }

  private lost(loss: LossInfo): void {
    if (loss.stream !== this.stream) return;
    this.knowledge.dropAssembly(loss.source.id);
    // The lost messages may be deltas: the next delta or summary of that writer shows which (a gap in dseq).
  }

  private sourceGone(id: string): void {
    this.peers.delete(id);
    this.knowledge.dropAssembly(id);
  }

  // ---- synced ----

  private updateSynced(): void {
    const now = this.baseline && this.knowledge.complete;
    if (now !== this.syncedNow) {
      this.syncedNow = now;
      if (now) this.emit('synced');
      else {
        this.counters.resyncs++;
        this.emit('unsynced');
      }
    }
    if (this.waiters.length > 0 && now) {
      const settled = this.isSettled;
      const done = this.waiters.filter((w) => w.until === 'synced' || settled);
      if (done.length === 0) return;
      this.waiters = this.waiters.filter((w) => !done.includes(w));
      for (const w of done) {
        w.off();
        w.resolve();
      }
    }
  }

  // ---- the timers: summary, requests, tombstones, the background cycle ----

  private tick(): void {
    this.summaryTimer = undefined;
    if (this.closing) return;
    const now = this.scheduler.nowMs();
    for (const [id, p] of this.peers) if (now - p.lastHeardMs > PEER_SILENCE_INTERVALS * this.settings.summaryMs) this.peers.delete(id);
    if (!this.baseline && now - this.startedMs >= FIRST_WAIT_INTERVALS * this.settings.summaryMs && this.isFirst()) {
      this.baseline = true; // nobody else holds the map: this replica's content is all there is
    }
    this.updateSynced();
    this.sendSummary();
    if (!this.syncedNow) this.requestSync();
    this.knowledge.prune(this.settings.tombstoneMs, (w) => this.peers.has(w));
    const collected = this.store.collect(this.wallMs());
    this.counters.tombstonesCollected += collected;
    if (this.cycle === undefined && this.isBackgroundCycler() && now - this.lastCycleStartMs >= this.settings.snapshotIntervalMs) this.startCycle();
    this.summaryTimer = this.scheduler.setTimer(() => this.tick(), this.settings.summaryMs);
  }

  private summarySoon(): void {
    if (this.soonTimer !== undefined || this.closing) return;
    this.soonTimer = this.scheduler.setTimer(() => {
      this.soonTimer = undefined;
      if (!this.closing) this.sendSummary();
    }, 0);
  }

  /**
   * Whether this replica, without a baseline after the first wait, is to take its own content as the map's: no
   * replica heard has a baseline to give, and of those that could give one (they answer requests), it has the lowest
   * id — the others then sync from it. One that never answers (read-only, or a reader of an owned map) decides for
   * itself alone.
   */
  private isFirst(): boolean {
    for (const [id, p] of this.peers) {
      if (this.ownerId !== undefined && id !== this.ownerId) continue; // on an owned map only the owner's picture counts
      if (p.baseline && !p.readOnly) return false;
    }
    if (!this.answers()) return true;
    for (const [id, p] of this.peers) if (!p.readOnly && id < this.id) return false;
    return true;
  }

  /** Whether this replica answers REQUESTs (sends snapshots). */
  private answers(): boolean {
    return !this.settings.readOnly && (this.ownerId === undefined || this.ownerId === this.id);
  }

  private flags(): number {
    let flags = 0;
    if (this.syncedNow) flags |= FLAG_SYNCED;
    if (this.settings.owner) flags |= FLAG_OWNER;
    if (this.baseline) flags |= FLAG_BASELINE;
    return flags;
  }

  private sendSummary(): void {
    let flags = this.flags();
    if (!this.answers()) flags |= FLAG_READ_ONLY;
    this.send(encodeSummary(flags, this.dseq, this.store.size, this.store.digest(), this.knowledge.vector(MAX_VECTOR)));
  }

  private isBackgroundCycler(): boolean {
    if (this.settings.readOnly) return false;
    if (this.ownerId !== undefined) return this.ownerId === this.id;
    if (!this.syncedNow) return false;
    for (const [id, p] of this.peers) if (p.synced && !p.owner && !p.readOnly && id < this.id) return false;
    return true;
  }

  /** Asks the replica best placed to send what this one lacks for a snapshot cycle. */
  private requestSync(): void {
    if (this.syncedNow || this.closing) return;
    const needs = this.knowledge.needs();
    let best: string | undefined;
    let bestScore = -1;
    for (const [id, p] of this.peers) {
      if (p.readOnly) continue;
      if (this.ownerId !== undefined && id !== this.ownerId) continue;
      if (this.ownerId === undefined && p.owner) continue;
      // Most needs covered first, then one with a baseline (only its snapshot gives one), then a synced one, then the lowest id.
      const score = coverage(p.vector, needs) * 8 + (p.baseline ? 4 : 0) + (p.synced ? 2 : 0);
      if (score > bestScore || (score === bestScore && best !== undefined && id < best)) {
        best = id;
        bestScore = score;
      }
    }
    if (best === undefined) return;
    this.counters.syncRequestsSent++;
    this.lastRequestMs = this.scheduler.nowMs();
    this.send(encodeRequest(best, needs));
  }

  private startCycle(): void {
    if (this.closing) return;
    this.lastCycleStartMs = this.scheduler.nowMs();
    this.cycleAgain = false;
    const keys = [...this.store.entries.keys()];
    const buckets = new Uint16Array(keys.length);
    for (let i = 0; i < keys.length; i++) buckets[i] = bucketOf(keys[i]!);
    // Counting sort by bucket: O(n + buckets).
    const counts = new Uint32Array(BUCKETS + 1);
    for (let i = 0; i < keys.length; i++) counts[buckets[i]! + 1]!++;
    for (let b = 0; b < BUCKETS; b++) counts[b + 1]! += counts[b]!;
    const sortedKeys = new Array<string>(keys.length);
    const sortedBuckets = new Uint16Array(keys.length);
    for (let i = 0; i < keys.length; i++) {
      const at = counts[buckets[i]!]!++;
      sortedKeys[at] = keys[i]!;
      sortedBuckets[at] = buckets[i]!;
    }
    const base = this.knowledge.vector(MAX_VECTOR);
    if (this.dseq > 0) base.set(this.id, this.dseq);
    this.cycle = {
      number: ++this.cycleNumber >>> 0, base, keys: sortedKeys, buckets: sortedBuckets, pos: 0, index: 0,
      vectorInEvery: vectorBytes(base) <= 1024, askers: this.pendingAskers, requested: this.pendingAskers.size > 0,
    };
    this.pendingAskers = new Set();
    this.counters.snapshotsSent++;
    this.sendChunk();
  }

  /** Sends the cycle's next chunk, then waits what its bytes take at snapshotBytesPerSec. */
  private sendChunk(): void {
    this.cycleTimer = undefined;
    const c = this.cycle;
    if (c === undefined || this.closing) return;
    if (c.requested && [...c.askers].every((id) => this.peers.get(id)?.synced !== false)) {
      // Everyone it was for is synced (or gone): the rest of the map would be sent for nobody.
      this.cycle = undefined;
      if (this.cycleAgain) this.againSoon(0);
      return;
    }
    const from = c.pos === 0 ? 0 : c.buckets[c.pos]!;
    const entries: WireEntry[] = [];
    let size = 0;
    let pos = c.pos;
    let to: number = BUCKETS;
    while (pos < c.keys.length) {
      const bucket = c.buckets[pos]!;
      if (size >= CHUNK_BYTES || entries.length >= MAX_ENTRIES_PER_MESSAGE - 1024) {
        to = bucket; // cut at a bucket boundary: this chunk covers [from, bucket)
        break;
      }
      // The whole bucket goes in this chunk.
      while (pos < c.keys.length && c.buckets[pos] === bucket) {
        const key = c.keys[pos++]!;
        const e = this.store.entries.get(key);
        if (e === undefined) continue; // collected since the cycle began
        entries.push(this.store.wireEntry(key, e));
        size += entryBytes(key, e.bytes, true);
      }
    }
    const last = pos >= c.keys.length;
    if (last) to = BUCKETS;
    const flags = this.flags() | (last ? FLAG_LAST : 0) | (c.vectorInEvery ? FLAG_VECTOR : 0);
    const bytes = encodeChunk(c.number, c.index, flags, from, to, c.index === 0 || c.vectorInEvery ? c.base : undefined, entries, size);
    c.index++;
    c.pos = pos;
    this.counters.snapshotChunksSent++;
    this.counters.snapshotBytesSent += bytes.length;
    const ok = this.send(bytes);
    if (last) {
      this.cycle = undefined;
      if (this.cycleAgain) this.againSoon((bytes.length / this.settings.snapshotBytesPerSec) * 1000);
      return;
    }
    if (!ok) {
      // onDrain sends the next
      return;
    }
    this.cycleTimer = this.scheduler.setTimer(() => this.sendChunk(), (bytes.length / this.settings.snapshotBytesPerSec) * 1000);
  }

  /** Starts the cycle asked for during the last one, after `delayMs`, unless everyone who asked is synced by then. */
  private againSoon(delayMs: number): void {
    this.cycleAgain = false;
    this.cycleTimer = this.scheduler.setTimer(() => {
      this.cycleTimer = undefined;
      for (const id of this.pendingAskers) if (this.peers.get(id)?.synced !== false) this.pendingAskers.delete(id);
      if (this.pendingAskers.size === 0 || this.cycle !== undefined) return;
      this.counters.syncRequestsAnswered++;
      this.startCycle();
    }, delayMs);
  }

  // ---- closing ----

  close(): Promise<void> {
    this.closedPromise ??= (async () => {
      if (!this.closing) {
        this.flush();
        this.closing = true;
      }
      if (this.summaryTimer !== undefined) this.scheduler.clearTimer(this.summaryTimer as never);
      if (this.cycleTimer !== undefined) this.scheduler.clearTimer(this.cycleTimer as never);
      if (this.soonTimer !== undefined) this.scheduler.clearTimer(this.soonTimer as never);
      this.summaryTimer = this.cycleTimer = this.soonTimer = undefined;
      this.cycle = undefined;
      this.channel.off('messages', this.onMessages);
      this.channel.off('loss', this.onLoss);
      this.channel.off('source-gone', this.onSourceGone);
      this.channel.off('close', this.onClose);
      this.channel.off('drain', this.onDrain);
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) {
        w.off();
        w.reject(new ClosedError('map'));
      }
      this.emit('close');
    })();
    return this.closedPromise;
  }
}

