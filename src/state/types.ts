/**
 * The public types of `blipcast/state`: the replicated map, its options, its
 * change events and its counters.
 */

/** How values travel: 'json' (any JSON value; the default) or 'buffer' (bytes as they are). */
export type ValueCodec = 'json' | 'buffer';

export interface ReplicateOptions {
  /** 'json' (default): values are JSON values. 'buffer': values are Buffers (a Uint8Array or string is taken as its bytes). */
  codec?: ValueCodec;
  /**
   * Single-writer mode: this replica is the map's only writer (grapevine's
   * publisher). Its writes need no clocks; every other replica that hears it
   * becomes read-only and ignores writes from anybody else.
   */
  owner?: boolean;
  /** This replica never writes: set() and delete() throw ReadOnlyError. */
  readOnly?: boolean;
  /** Most bytes per second the snapshot cycle sends (default 1 MiB/s). */
  snapshotBytesPerSec?: number;
  /** Least time between the starts of two background snapshot cycles, ms (default 30,000). A cycle a replica asks for starts at once. */
  snapshotIntervalMs?: number;
  /** How often a replica says what it holds (a summary), ms (default 1000). */
  summaryMs?: number;
  /** How long a delete's tombstone is kept before it is collected, ms (default 1 hour). */
  tombstoneMs?: number;
  /** Closes the map (not the channel) when it aborts. */
  signal?: AbortSignal;
}

/** One change of one key, as applied to this replica. */
export interface ChangeEvent<V = unknown> {
  key: string;
  /** The new value; undefined when the key was deleted. */
  value: V | undefined;
  /** The value before; undefined when the key had none. */
  previous: V | undefined;
  /** Session id of the replica that wrote it (this replica's own for a local write). */
  origin: string;
}

export interface ReplicatedMapStats {
  /** Live entries (= size). */
  entries: number;
  /** Deleted keys whose tombstones are still kept. */
  tombstones: number;
  synced: boolean;
  /** Other replicas heard from in the last three summary intervals. */
  replicas: number;
  /** Local set() and delete() calls. */
  writes: number;
  /** Delta messages sent (one carries all the writes of one event-loop turn). */
  deltasSent: number;
  /** Changes received from other replicas that were applied (won against what this replica had). */
  changesApplied: number;
  /** Changes received that lost to a newer write this replica already had (or repeated one). */
  changesStale: number;
  /** Snapshot cycles this replica started, and the chunks and bytes it sent in them. */
  snapshotsSent: number;
  snapshotChunksSent: number;
  snapshotBytesSent: number;
  /** Snapshot chunks received, and complete snapshots assembled from them. */
  snapshotChunksReceived: number;
  snapshotsCompleted: number;
  /** Requests for a snapshot this replica sent, and those it answered. */
  syncRequestsSent: number;
  syncRequestsAnswered: number;
  /** Times this replica went from synced to not synced: it found deltas it lacks (lost), or a new owner replaced the map. */
  resyncs: number;
  /** Writes refused as another writer's on an owned map (single-writer mode). */
  writesIgnored: number;
  /** Tombstones collected. */
  tombstonesCollected: number;
  /** Messages on the map's stream that could not be decoded. */
  invalidMessages: number;
  /** channel.write() threw or returned false (the map does not wait for 'drain'). */
  sendErrors: number;
  backPressured: number;
}

export interface ReplicatedMap<V = unknown> {
  /** The map's name (its stream is `state/<name>`). */
  readonly name: string;
  /** This replica's id: its channel's session id. */
  readonly id: string;
  get(key: string): V | undefined;
  has(key: string): boolean;
  /** [key, value] pairs of the live entries, in no particular order. */
  entries(): IterableIterator<[string, V]>;
  keys(): IterableIterator<string>;
  readonly size: number;
  /**
   * Sets `key` here at once and sends the change to the group (with the
   * other writes of this turn, in one message).
   * @throws ReadOnlyError on a read-only replica; InvalidArgumentTypeError / InvalidArgumentValueError for a bad key
   *   or value (nothing changed); ClosedError after close().
   */
  set(key: string, value: V): this;
  /** Deletes `key` (leaving a tombstone); returns whether it had a value. Throws as set() does. */
  delete(key: string): boolean;
  /** True once this replica holds everything the group has written that it has heard of (docs/state.md, "Synced"). */
  readonly isSynced: boolean;
  /**
   * Resolves once this replica is synced (at once when it is).
   * Rejects with ClosedError when the map closes, AbortError when `signal` aborts.
   */
  synced(options?: { signal?: AbortSignal }): Promise<void>;
  /** Synced, and every replica heard is synced and holds the same content (the digest of its last summary equals this one's). */
  readonly isSettled: boolean;
  /**
   * Resolves once this replica is synced and every replica it hears (one that said so in the last three summary
   * intervals) is synced and holds the same content: the group agrees, within one summary interval after writes
   * stop. Writes that never stop, or a replica that cannot get synced, keep it waiting: use a signal. Rejects as
   * synced() does.
   */
  settled(options?: { signal?: AbortSignal }): Promise<void>;
  /** A hash of the whole content (keys and values, not how they were written): 16 hex digits, equal on every replica once writes stop and they are synced. */
  digest(): string;
  stats(): ReplicatedMapStats;
  on(event: 'change', listener: (change: ChangeEvent<V>) => void): this;
  on(event: 'synced', listener: () => void): this;
  /** Lost deltas were found and the replica is rebuilding from a snapshot (isSynced is false until 'synced'). */
  on(event: 'unsynced', listener: () => void): this;
  on(event: 'close', listener: () => void): this;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  off(event: 'change' | 'synced' | 'unsynced' | 'close', listener: (...args: any[]) => void): this;
  once(event: 'change', listener: (change: ChangeEvent<V>) => void): this;
  once(event: 'synced' | 'unsynced' | 'close', listener: () => void): this;
  /** Stops the map: its timers, its reading of the channel. Does not close the channel. */
  close(): Promise<void>;
}
