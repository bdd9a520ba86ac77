/**
 * The contract between the sans-IO protocol core (src/protocol/endpoint.ts)
 * and the driver that binds it to a transport and a clock (src/api/driver.ts).
 *
 * The core never reads a clock and never touches a socket: time comes in as
 * `nowMs`, datagrams come in through `handleDatagram` and go out through
 * `pollTransmit`, timers are one absolute deadline from `pollTimeout`, and
 * everything the application should see comes out of `pollEvent`.
 */

import type { ReceivedBatch } from '../wire/batch';
import type { Header } from '../wire/header';
import type { RejectCounts } from '../wire/rejects';

/** Flow-control strategy, chosen by name (see docs/protocol.md). */
export type FlowControl = 'min' | 'max' | 'none';
/** Where a receiver starts in a source it has not heard before. */
export type LateJoin = 'next' | 'earliest';

/** Why a range of messages could not be delivered. */
export type LossReason =
  | 'window' // the range fell out of the sender's retransmission window
  | 'retries' // NAK retries exhausted
  | 'source-gone' // the source went silent or closed with the range missing
  | 'memory' // a per-source memory cap (reorder or reassembly bytes) was hit
  | 'flow-control'; // the sender dropped this receiver as too slow ('max' policy or timeout)

/** A sender as seen by a receiver: its session id (16 hex digits) and address. */
export interface SourceInfo {
  /** Session id of the sender, 16 lowercase hex digits; new on every restart. */
  id: string;
  address: string | undefined;
  port: number | undefined;
}

export interface MessageEvent {
  type: 'message';
  source: SourceInfo;
  streamId: number;
  seq: number;
  /** The message bytes; owned by the receiver of the event (a copy, or a view it may keep). */
  data: Buffer;
}

/**
 * The messages of one packed datagram delivered in order at once (the fast
 * path: the datagram arrived in order with nothing buffered): sequence numbers
 * `firstSeq … firstSeq + count − 1`. `payload` is a private copy of the
 * datagram's packed records (`count` × u16 length + bytes); read them with
 * `PackedView` (src/protocol/packed-view.ts). Equivalent to `count`
 * consecutive {@link MessageEvent}s.
 */
export interface MessagesEvent {
  type: 'messages';
  source: SourceInfo;
  streamId: number;
  firstSeq: number;
  count: number;
  payload: Buffer;
}

export interface LossEvent {
  type: 'loss';
  source: SourceInfo;
  streamId: number;
  /** First and last lost sequence numbers, inclusive. */
  fromSeq: number;
  toSeq: number;
  reason: LossReason;
}

/**
 * Why the core dropped a datagram whose header was valid: its payload does not
 * match its type's format (docs/protocol.md, "Payloads").
 */
export type InvalidReason =
  | 'datagram-length' // the datagram's length is not header + the header's payload length
  | 'data-packed' // packed DATA records do not exactly fill the payload
  | 'data-fragment' // a fragment header that does not fit its message
  | 'data-sequence' // DATA whose last sequence number would pass 2^53
  | 'fragment-mismatch' // a fragment that does not continue the message being reassembled
  | 'heartbeat'
  | 'nak'
  | 'ncf'
  | 'status';

/** Every {@link InvalidReason}, in the order of `ProtocolStats.invalidByReason`. */
export const INVALID_REASONS: readonly InvalidReason[] = [
  'datagram-length', 'data-packed', 'data-fragment', 'data-sequence', 'fragment-mismatch', 'heartbeat', 'nak', 'ncf', 'status',
];

/**
 * A limit that input from the network reached (docs/protocol.md, "Limits").
 * What each one drops is documented there; real traffic within the limits is
 * unaffected.
 */
export type LimitReason =
  | 'sources' // a datagram of a new source ignored: the source table is full of sources that delivered data
  | 'sources-evicted' // a source that never delivered a message forgotten to make room for a new one
  | 'streams' // a new stream of a source ignored: maxStreamsPerSource reached
  | 'receivers' // a STATUS of a new receiver ignored: maxReceivers reached
  | 'peers' // an overheard receiver not counted in a source's group size: MAX_PEERS_PER_SOURCE reached
  | 'gaps' // a stream's oldest gap given up (loss 'memory'): MAX_GAPS_PER_STREAM reached
  | 'source-reorder' // a source's oldest gap given up (loss 'memory'): maxReorderBytes reached
  | 'source-reassembly' // a message not reassembled (loss 'memory'): maxReassemblyBytes reached
  | 'total-reorder' // buffered data dropped or a gap given up: maxTotalReorderBytes reached
  | 'total-reassembly' // a message not reassembled (loss 'memory'): maxTotalReassemblyBytes reached
  | 'nak-rate' // a NAK dropped: its receiver sent more than maxNaksPerSecPerReceiver
  | 'repair-share' // a NAKed datagram not queued: its receiver session used up its share of the repair budget
  | 'repair-rate' // a repair waited for the repairRateBytesPerSec budget (new data went first)
  | 'repair-backlog'; // a NAKed datagram not queued for repair: REPAIR_BACKLOG_MS of repairs already queued

/** Every {@link LimitReason}, in the order of `ProtocolStats.limited`. */
export const LIMIT_REASONS: readonly LimitReason[] = [
  'sources', 'sources-evicted', 'streams', 'receivers', 'peers', 'gaps', 'source-reorder', 'source-reassembly',
  'total-reorder', 'total-reassembly', 'nak-rate', 'repair-share', 'repair-rate', 'repair-backlog',
];

/**
 * A limit was reached. Emitted at most once per second per reason
 * (LIMIT_WARNING_INTERVAL_MS); `count` is the total so far, `suppressed` the
 * hits since the previous warning of this reason that were not reported.
 */
export interface LimitWarningEvent {
  type: 'warning';
  reason: LimitReason;
  /** Hits of this limit since the endpoint started (= `stats().limited[reason]`). */
  count: number;
  /** Hits since the previous warning of this reason that produced no warning of their own. */
  suppressed: number;
}

export type ProtocolEvent =
  | MessageEvent
  | MessagesEvent
  | LimitWarningEvent
  | LossEvent
  | { type: 'source'; source: SourceInfo }
  | { type: 'source-gone'; source: SourceInfo; reason: 'timeout' | 'closed' | 'restarted' | 'memory' }
  | { type: 'receiver'; receiver: SourceInfo }
  | { type: 'receiver-dropped'; receiver: SourceInfo; reason: ReceiverDropReason }
  | { type: 'drain' };

/**
 * Why a sender stopped waiting for a receiver: 'timeout' (silent for
 * receiverTimeoutMs), 'slow' (fell out of the window under 'max'), 'left'
 * (it closed and said so, or left the group), 'dead' (the group membership
 * declared it dead), 'linger' (a closing sender saw no progress for lingerMs).
 */
export type ReceiverDropReason = 'timeout' | 'slow' | 'left' | 'dead' | 'linger' | 'ignored';

/** A receiver a sender stopped waiting for before it acknowledged everything. */
export interface UnflushedReceiver {
  receiver: SourceInfo;
  reason: ReceiverDropReason;
  /** Sequence numbers sent that it had not acknowledged when it was dropped (over all streams). */
  missing: number;
}

/**
 * What a graceful close achieved, over the whole session: which receivers
 * acknowledged everything this sender sent, which it gave up on, and which
 * left on their own first. Lists hold at most MAX_CLOSE_REPORT_RECEIVERS
 * receivers each; the counts are exact.
 */
export interface CloseOutcome {
  /** Receivers that acknowledged everything sent (still listening at the end, or gone after they had it all). */
  flushed: SourceInfo[];
  flushedCount: number;
  /** Receivers the sender gave up before they acknowledged everything (timeout, linger, slow, dead): possible loss. */
  givenUp: UnflushedReceiver[];
  givenUpCount: number;
  /** Receivers that said goodbye (or left the group) before acknowledging everything: their choice, not a delivery failure. */
  left: UnflushedReceiver[];
  leftCount: number;
  /** The most sequence numbers any given-up receiver had not acknowledged (0 when none was given up). */
  messagesPossiblyMissing: number;
  /** Datagrams still queued, never transmitted (only a close without linger leaves any). */
  datagramsUnsent: number;
  /** From close() to the end, ms (on the core's clock). */
  durationMs: number;
}

/**
 * A receiver's own account of how it fares with one source, as its STATUS
 * reports carry it (docs/protocol.md, "STATUS"). Counters are cumulative
 * (saturating at 2^32 − 1).
 */
export interface ReceiverReport {
  naksSent: number;
  repairsReceived: number;
  messagesLost: number;
  /** Datagrams its socket's kernel buffer dropped (its whole socket). */
  kernelDrops: number;
  reorderBytes: number;
  gapsOpen: number;
  /** Smoothed gap-to-repair time, ms; undefined before its first repair. */
  repairLatencyMs: number | undefined;
  /** Bytes of received messages its application had not read yet (all sources): a slow reader shows here, not in its acknowledgements. */
  readBacklogBytes: number;
}

/** The receiving side's view of one source (Endpoint health: `sourceHealth`). Counters are cumulative. */
export interface SourceHealth {
  source: SourceInfo;
  /** Something of it reached the application (it had its 'source' event). */
  established: boolean;
  /** The source said it is closing. */
  closed: boolean;
  datagrams: number;
  /** DATA payload bytes received (repairs and duplicates included). */
  bytes: number;
  messages: number;
  /** Over its streams: the sum of one past the highest sequence known to exist, and of one past the last delivered. */
  headSeq: number;
  deliveredSeq: number;
  gapsOpen: number;
  /** Sequence numbers missing in those gaps. */
  missing: number;
  naksSent: number;
  repairsReceived: number;
  lossesDeclared: number;
  messagesLost: number;
  reorderBytes: number;
  reassemblyBytes: number;
  /** Smoothed gap-to-repair time, ms; undefined before the first repair. */
  repairLatencyMs: number | undefined;
  /** Receivers of it this endpoint knows of (itself included): what its NAK back-off scales with. */
  groupSize: number;
  lastHeardMs: number;
  /** When it was first heard: the counters count from here. */
  firstHeardMs: number;
}

/**
 * One receiver as seen by this endpoint (Endpoint health: `receiverHealth`):
 * a receiver of this endpoint's own sends (`source` is this endpoint), or, on
 * a passive endpoint, any receiver it overhears (`source` is whom it reports on).
 */
export interface ReceiverHealth {
  receiver: SourceInfo;
  /** Session id of the source this record is about. */
  sourceId: string;
  /** Sum over streams of one past the highest sequence it acknowledged. */
  ackSeq: number;
  /** Sequence numbers sent (or, observed: known to exist) that it has not acknowledged. */
  lagMessages: number;
  /** Bytes of those (its own sends only: the window knows them); undefined when observed. */
  lagBytes: number | undefined;
  /** NAKs received from it (observed: overheard). */
  naks: number;
  /** Repair datagrams queued in answer to its NAKs (own sends only; undefined when observed). */
  repairsSent: number | undefined;
  /** Its own report, from its latest STATUS with a health report. */
  report: ReceiverReport | undefined;
  lastHeardMs: number;
  /** When this endpoint first heard of it: `naks` and `repairsSent` count from here. */
  firstHeardMs: number;
  /** Flow control ('min') is waiting for it now: the slowest receiver the sender paces to. */
  holdsWindow: boolean;
  /** A group member (its liveness is the membership's). */
  member: boolean;
  state: 'live' | 'dropped';
  /** Why it was dropped (state 'dropped'). */
  dropReason: ReceiverDropReason | undefined;
}

/** What an endpoint tells about the health of its sources and receivers (EndpointImpl; the channel reads it). */
export interface HealthReader {
  sourceHealth(nowMs: number): SourceHealth[];
  receiverHealth(nowMs: number): ReceiverHealth[];
}

/** Everything the core needs to know; the driver fills defaults (src/constants.ts). */
export interface EndpointConfig {
  /** 64-bit random session id, as two u32 halves. */
  sessionHi: number;
  sessionLo: number;
  /** Largest datagram the core emits, header included (default suits a 1500-byte link). */
  maxDatagramBytes: number;
  /** Retransmission window bounds: the sender keeps at most this many bytes / messages for repair. */
  windowBytes: number;
  windowMessages: number;
  /** Optional sender rate limit, bytes per second (undefined = unlimited). */
  rateBytesPerSec: number | undefined;
  flowControl: FlowControl;
  lateJoin: LateJoin;
  /** Largest message accepted by send(), bytes. */
  maxMessageBytes: number;
  /** Per-source receive caps. */
  maxReorderBytes: number;
  maxReassemblyBytes: number;
  /** Uniform random number in [0, 1), injected so tests are deterministic. */
  random: () => number;
  /**
   * When the endpoint started listening, on the driver's clock (ms). Late join
   * 'next' delivers a stream from its first message when the stream began after
   * this. Default: the first `nowMs` the endpoint is given.
   */
  openedAtMs?: number;
  /**
   * Graceful close (docs/protocol.md, "Close"): how long the sender keeps
   * serving while no receiver makes progress, ms (Infinity: as long as it
   * takes; 0: end at once). Default DEFAULT_LINGER_MS.
   */
  lingerMs?: number;
  /**
   * Graceful close: after everything is acknowledged by every known receiver,
   * the sender still serves until no NAK or news status has reached it for
   * this long (a receiver stalled across the end of the stream is unknown to
   * it). Default CLOSE_QUIET_MS; never longer than lingerMs.
   */
  closeQuietMs?: number;
  /**
   * Bound of the transmit queue (written, not yet transmitted), bytes:
   * send() returns false beyond it. Default: a quarter of windowBytes, or
   * one second at rateBytesPerSec if that is less (at least 64 KiB).
   */
  sendQueueBytes?: number;
  /**
   * Received bytes the application may hold unread before this receiver
   * advertises no free space (so a 'min' sender waits for the reader).
   * Default Infinity (the application reads synchronously).
   */
  readBudgetBytes?: number;
  /**
   * Whether the datagrams this endpoint sends carry the header CRC32C
   * (default true). False leaves the CRC field 0 and saves computing it: only
   * for datagrams that are sealed before they are sent (a channel with a
   * `key`), as the seal writes its counter into that field and the AEAD tag
   * protects the whole datagram.
   */
  checksum?: boolean;
  /** The counters section where {@link Endpoint.handleBatch} counts the datagrams it drops before the core (the channel's `stats().rejects`). Default: one of its own. */
  rejects?: RejectCounts;
  /**
   * A passive endpoint never speaks as a receiver: no STATUS, no NAK (so no
   * sender paces to it or repairs for it), and it records the STATUS and NAKs
   * of the receivers it overhears (`receiverHealth`). Default false.
   */
  passive?: boolean;
  /** Datagrams the socket's kernel buffer dropped so far (read when a STATUS health report is built). Default: unknown (0). */
  kernelDrops?: () => number;
}

/**
 * The sans-IO core's contract. `E` is the event type: the core's
 * {@link ProtocolEvent}; a wrapper may add its own (the grouped endpoint adds
 * membership changes, src/group/grouped-endpoint.ts).
 */
export interface Endpoint<E = ProtocolEvent> {
  /**
   * Queues one message on a stream (packed with others sent before the next
   * flush, fragmented if larger than a datagram). Returns false when the
   * window is now full — the message IS accepted; the caller should wait for
   * a 'drain' event before sending more (Writable semantics).
   */
  send(nowMs: number, streamId: number, data: Uint8Array): boolean;
  /** Closes the datagram being packed so pollTransmit returns it (end of an event-loop turn). */
  flush(nowMs: number): void;
  /**
   * Feeds a receive batch: every datagram's header is checked and decoded
   * (src/wire/decode.ts), rejects are counted in the `rejects` section (see
   * {@link EndpointConfig.rejects}), the rest handled as by {@link handleDatagram}.
   * The batch is read during the call only.
   */
  handleBatch(nowMs: number, batch: ReceivedBatch): void;
  /** Feeds one received datagram whose header was already decoded and verified. `datagram` is a view valid only during the call. */
  handleDatagram(nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number } | undefined): void;
  /** Runs whatever timers are due at `nowMs`. Extra calls are harmless. */
  handleTimeout(nowMs: number): void;
  /** Next datagram to send, or undefined. The core never modifies the returned bytes afterwards, so the driver may hold them until the socket takes them. */
  pollTransmit(nowMs: number): Uint8Array | undefined;
  /** Absolute time (ms) of the next timer, or undefined when none is armed. */
  pollTimeout(): number | undefined;
  /** Next event for the application, or undefined. */
  pollEvent(): E | undefined;
  /** True when everything sent has been transmitted and acknowledged by every known receiver (or there are none). */
  isFlushed(): boolean;
  /**
   * Starts a graceful close (docs/protocol.md, "Close"): no more send();
   * everything queued is transmitted (at the rate limit, however long that
   * takes), the end of the session is announced, and the sender keeps
   * repairing until it is confident no listening receiver still needs it, or
   * gives receivers up (lingerMs without progress, receiverTimeoutMs of
   * silence). `immediate` ends at once. Progress shows in
   * {@link closeOutcome}; keep driving the endpoint until it is defined.
   */
  close(nowMs: number, immediate?: boolean): void;
  /** Undefined until a close started by {@link close} has ended (its last datagram is queued for pollTransmit); then what it achieved. */
  closeOutcome(): CloseOutcome | undefined;
  /**
   * The application holds `bytes` of received messages unread (in the
   * channel's read queue): receivers advertise readBudgetBytes minus that as
   * free space, so a 'min' sender does not transmit faster than the reader
   * reads. A reader catching up from a full budget reports at once.
   */
  setReadBacklog(nowMs: number, bytes: number): void;
  /** Counters; see ProtocolStats. */
  stats(): ProtocolStats;
  /**
   * The group membership learnt of a member (a receiver of this sender
   * once it hears it). Under 'min' the sender then waits for it: nothing sent
   * from now on leaves the window before the member acknowledges it, and its
   * liveness is the membership's (receiverTimeoutMs no longer applies to it)
   * until {@link dropReceiver}. No-op under 'max' and 'none'.
   */
  expectReceiver(nowMs: number, receiver: SourceInfo): void;
  /**
   * The group membership declared receiver `id` dead or gone: stop pacing to
   * it and stop waiting for it at once (event 'receiver-dropped' with this
   * reason, then 'drain' if the window frees). No-op for an unknown receiver.
   */
  dropReceiver(nowMs: number, id: string, reason: 'dead' | 'left'): void;
  /**
   * The group membership learnt of a member this sender does not pace to (the
   * channel's `paceTo`): its status reports are ignored from now on, so it
   * never holds the window or a close. A receiver it already counted (its
   * status came before its join) is dropped ('receiver-dropped', 'ignored'),
   * without counting as given up. {@link dropReceiver} forgets the mark.
   */
  ignoreReceiver(nowMs: number, id: string): void;
}

/** One registry of counters (all cumulative). */
export interface ProtocolStats {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  messagesSent: number;
  messagesDelivered: number;
  naksSent: number;
  naksReceived: number;
  naksSuppressed: number;
  ncfsSent: number;
  repairsSent: number;
  repairsReceived: number;
  duplicates: number;
  reordered: number;
  lossesDeclared: number;
  messagesLost: number;
  heartbeatsSent: number;
  statusSent: number;
  /** Datagrams dropped by the core after the header check (bad payload, own datagrams excluded): the sum of `invalidByReason`. */
  invalid: number;
  /** `invalid`, by reason. */
  invalidByReason: Record<InvalidReason, number>;
  /** Hits of each limit against hostile (or overwhelming) input; see {@link LimitReason}. */
  limited: Record<LimitReason, number>;
  /** Gauge: tracked sources (at most `maxSources`). */
  sources: number;
  /** Gauge: tracked receivers (at most `maxReceivers`). */
  receivers: number;
  /** Gauge: out-of-order bytes buffered over all sources, overhead included (at most about `maxTotalReorderBytes`). */
  reorderBytes: number;
  /** Gauge: bytes of messages being reassembled over all sources (at most `maxTotalReassemblyBytes`). */
  reassemblyBytes: number;
}
