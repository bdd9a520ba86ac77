/** Options, counters, events and defaults of the log collector (collector.ts). */

import type { Channel, GroupKeyInput, OpenOptions, Scheduler } from '../index';
import type { DivergenceLine, LossLine } from './format';

/**
 * How long records of a session not yet known as a member wait for its join before they are written with what is known.
 * 5 s: a sender announces itself every second, so a join survives four lost announces (2 s lost s2's name for 7,000
 * records in one lab run at 5 % loss: two announces in a row dropped).
 */
export const DEFAULT_HOLD_MS = 5000;
/** Bytes of such records held over all sessions; beyond, the longest-held sessions are written with what is known. */
export const DEFAULT_HOLD_BYTES = 16 * 1024 * 1024;
/** How often written positions are checkpointed (a kill loses at most this much checkpoint, never a line: the tails say the rest). */
export const DEFAULT_CHECKPOINT_INTERVAL_MS = 1000;
/** How often the ledger's newly closed block heads are sent to the other collectors. */
export const DEFAULT_LEDGER_INTERVAL_MS = 1000;
/** Bytes written to files but not yet on disk beyond which records are dropped (and reported as a `collector-backlog` loss line). */
export const DEFAULT_MAX_BACKLOG_BYTES = 64 * 1024 * 1024;
/** Members remembered after they left (a source's records may still be held or redelivered after its leave). */
export const MAX_REMEMBERED_MEMBERS = 8192;
/** Ended sources remembered (their position, so that a source heard again continues where it stood). */
export const MAX_ENDED_SOURCES = 1024;
/** A collector's member name when none is given. */
export const DEFAULT_COLLECTOR_NAME = 'log-collector';
/** A closing collector sends only its last ledger heads: it need not wait long for them (linger, then quiet). */
export const COLLECTOR_LINGER_MS = 1000;
export const COLLECTOR_CLOSE_QUIET_MS = 200;

export interface LogCollectorOptions {
  /** `'239.255.0.1:5000'`. */
  group: string;
  /** Directory of the files (created if missing). One collector per directory. */
  dir: string;
  interface?: string;
  ttl?: number;
  /** The log stream. Default {@link DEFAULT_LOG_STREAM}. */
  stream?: string;
  /** The group key, when the group is encrypted. */
  key?: GroupKeyInput;
  /** Where to start in a sender already running: `'next'` (default) or `'earliest'` (everything it still holds; use it for a restart). */
  from?: 'next' | 'earliest';
  /** Rotation: `'10M'` (size, units B K M G), `'1h'` (interval, units s m h d), or both `'10M,1h'`. Default: none. */
  rotate?: string;
  /** Member name. Default `log-collector`. */
  name?: string;
  holdMs?: number;
  holdBytes?: number;
  checkpointIntervalMs?: number;
  ledgerIntervalMs?: number;
  /** Sequence numbers per ledger block; every collector of a group must use the same. Default 1024. */
  ledgerBlockSeqs?: number;
  maxBacklogBytes?: number;
  /** More open() options (transport, maxDatagramBytes, …). `maxDatagramBytes` is also taken as the senders', to count a record's sequence numbers. */
  channel?: Partial<OpenOptions>;
  /** The open() to use (tests: blipcast/internal's, with its hooks). */
  openChannel?: (options: OpenOptions) => Promise<Channel>;
  /** Timers (tests: a MemoryNetwork). Default: the real clock. */
  scheduler?: Scheduler;
}

/** The collector's own counters (`blipcast collect logs --stats`). */
export interface LogCollectorCounters {
  /** Record lines written, and bytes of every line written. */
  records: number;
  bytes: number;
  /** Sources with state now (a file open or records held). */
  sources: number;
  /** Loss lines written, and the sequence numbers they cover. */
  losses: number;
  lostSeqs: number;
  divergences: number;
  /** Files opened (one per source and run) and rotated. */
  files: number;
  /** Records held now, waiting for their source's join. */
  held: number;
  /** Records received again after a restart and not written (already in the files). */
  skipped: number;
  /** Records that were not a JSON object (written as `{"blipcast":"record",…}`). */
  nonObject: number;
  ledgerHeadsSent: number;
  ledgerHeadsReceived: number;
  /** Ledger messages of other collectors that did not parse or used another block size. */
  ledgerRejected: number;
  checkpoints: number;
  errors: number;
}

export interface LogCollectorEvents {
  /** A file or checkpoint could not be written (the collector goes on). */
  warning: [err: Error];
  divergence: [line: DivergenceLine];
  loss: [line: LossLine];
}
