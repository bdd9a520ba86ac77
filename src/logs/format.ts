/**
 * What log senders (blipcast/pino, blipcast/winston) and log collectors
 * (`blipcast collect logs`, createLogCollector) agree on. The shared contract
 * of the logging app: how a sender makes itself known, which stream carries
 * the records, and the lines blipcast itself adds to a log.
 *
 * - One message = one log record: the record's JSON text as the logger wrote
 *   it, without the trailing newline. Nothing is added on the wire.
 * - A sender joins the group as a member (`open({ member })`) with
 *   {@link logSourceMember}: name (default: the main script's name), and
 *   metadata `role`, `host`, `pid`. A collector learns them from the group and
 *   adds them to each line as the `source` field.
 * - Collectors join with role {@link LOG_COLLECTOR_ROLE}; senders wait for the
 *   collectors they know when they close (bounded by `lingerMs`).
 * - Collectors multicast their ledger heads on {@link ledgerStream} (a few
 *   hundred bytes a second), and every sender writes on the log stream. A
 *   sender never reads: it should deliver nothing (`channel.unsubscribe(stream)`
 *   right after open(), as `blipcast send` does), so that neither the other
 *   senders' records nor the heads are queued for a reader that never comes.
 * - A collector's line for a record is the record's JSON object with
 *   `"source":` {@link LogSource} and `"seq":` spliced in before its closing
 *   brace; a record that is not a JSON object becomes a {@link RecordLine}
 *   (docs/logging.md, "Lines").
 * - Lines blipcast adds are JSON objects with a `blipcast` field naming the
 *   kind: `dropped` (a sender's buffer overflowed), `loss` (a collector could
 *   not get records), `divergence` (two collectors disagree about what a
 *   source said).
 */

import { hostname } from 'node:os';
import { basename, extname } from 'node:path';
import type { MemberInfo, MemberOptions } from '../index';

/** The stream log records go on when none is named. */
export const DEFAULT_LOG_STREAM = 'logs';
/** Member metadata `role` of a log sender. */
export const LOG_SOURCE_ROLE = 'log-source';
/** Member metadata `role` of a log collector. */
export const LOG_COLLECTOR_ROLE = 'log-collector';

/**
 * The `paceTo` of every channel of the logging app: senders (and collectors, for their ledger heads) pace to the
 * collectors only. The other services logging to the same group hear each other's records too, but a service
 * that stalls (GC pause, SIGSTOP, a debugger) must not hold back anyone else's logs.
 */
export function isLogCollector(member: MemberInfo): boolean {
  return member.metadata.role === LOG_COLLECTOR_ROLE;
}

/** The collectors' control stream (ledger chain heads) of a log stream. */
export function ledgerStream(logStream: string): string {
  return `${logStream}.ledger`;
}

/** The default member name of a log sender: the main script's name without extension (`api` for `node dist/api.js`), else the host name. */
export function defaultSourceName(): string {
  const script = process.argv[1];
  if (script === undefined || script === '') return hostname();
  const name = basename(script, extname(script));
  return name === '' ? hostname() : name;
}

/** The `member` option of a logging app's channel: its role, this host and pid. */
export function logMember(role: typeof LOG_SOURCE_ROLE | typeof LOG_COLLECTOR_ROLE, name: string): MemberOptions {
  return { name, metadata: { role, host: hostname(), pid: String(process.pid) } };
}

/** The `member` option of a log sender's channel. */
export function logSourceMember(name: string = defaultSourceName()): MemberOptions {
  return logMember(LOG_SOURCE_ROLE, name);
}

/** Who said a line, as a collector writes it in each line's `source` field. */
export interface LogSource {
  /** The sender's session id (16 hex digits; new on every start). */
  session: string;
  /** Member name; the session id when the sender never made itself known. */
  name: string;
  host: string | undefined;
  pid: number | undefined;
  /** `address:port` the records came from. */
  address: string | undefined;
}

/** `{"blipcast":"dropped",…}`: written by a sender (pino level 40) when its bounded buffer overflowed; the count is exact. */
export interface DroppedLine {
  blipcast: 'dropped';
  level: 40;
  time: number;
  /** Records dropped since the previous such line. */
  dropped: number;
  msg: string;
}

/** The line a sender writes after it had to drop `dropped` records. */
export function droppedLine(dropped: number, nowMs: number = Date.now()): string {
  const line: DroppedLine = { blipcast: 'dropped', level: 40, time: nowMs, dropped, msg: `blipcast: ${dropped} log record(s) dropped: the send buffer was full` };
  return JSON.stringify(line);
}

/** `{"blipcast":"loss",…}`: a collector could not get records `fromSeq..toSeq` (inclusive) of the line's source. */
export interface LossLine {
  blipcast: 'loss';
  fromSeq: number;
  toSeq: number;
  /** Sequence numbers in the range (a record split into f datagram fragments uses f of them). */
  count: number;
  /** The channel's loss reason (`window`, `retries`, `source-gone`, …) or the collector's own: `collector-restart`, `collector-backlog`. */
  reason: string;
  /** When the collector learnt of it, ms since the epoch. */
  time: number;
  source: LogSource;
}

/** `{"blipcast":"divergence",…}`: two collectors hold different chain heads for the same block of a source's records. */
export interface DivergenceLine {
  blipcast: 'divergence';
  /** The ledger block `fromSeq..toSeq` (`blockSeqs` sequence numbers, see docs/logging.md). */
  block: number;
  fromSeq: number;
  toSeq: number;
  /** This collector's view of the block: its chain head (sha256, hex), records and last seq. */
  head: string;
  count: number;
  lastSeq: number;
  /** The other collector's view. */
  peer: { collector: string; name: string | undefined; host: string | undefined; pid: number | undefined; head: string; count: number; lastSeq: number };
  time: number;
  source: LogSource;
}

/** `{"blipcast":"record",…}`: a record that is not a JSON object, kept as a string (`text`: its bytes as UTF-8). */
export interface RecordLine {
  blipcast: 'record';
  text: string;
  source: LogSource;
  seq: number;
}

/** Loss reason of a collector that restarted and found a source's records beyond its checkpoint no longer held by the sender. */
export const LOSS_COLLECTOR_RESTART = 'collector-restart';
/** Loss reason of a collector whose files fell too far behind (records dropped rather than held without bound). */
export const LOSS_COLLECTOR_BACKLOG = 'collector-backlog';
