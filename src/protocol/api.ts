/**
 * The contract between the sans-IO protocol core (src/protocol/endpoint.ts)
 * and the driver that binds it to a transport and a clock (src/driver.ts).
 *
 * The core never reads a clock and never touches a socket: time comes in as
 * `nowMs`, datagrams come in through `handleDatagram` and go out through
 * `pollTransmit`, timers are one absolute deadline from `pollTimeout`, and
 * everything the application should see comes out of `pollEvent`.
 */

import type { MembershipEvent } from '../group/api';
import type { Header } from '../wire/header';

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
 * {@link PackedView} (src/protocol/packed-view.ts). Equivalent to `count`
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

export type ProtocolEvent =
  | MessageEvent
  | MessagesEvent
  | LossEvent
  | { type: 'source'; source: SourceInfo }
  | { type: 'source-gone'; source: SourceInfo; reason: 'timeout' | 'closed' | 'restarted' | 'memory' }
  | { type: 'receiver'; receiver: SourceInfo }
  | { type: 'receiver-dropped'; receiver: SourceInfo; reason: ReceiverDropReason }
  | { type: 'drain' }
  /** A group-membership change (only from an endpoint that is a group member: src/group/grouped-endpoint.ts). */
  | { type: 'member'; change: MembershipEvent };

/**
 * Why a sender stopped waiting for a receiver: 'timeout' (silent for
 * receiverTimeoutMs), 'slow' (fell out of the window under 'max'), 'left'
 * (it closed and said so, or left the group), 'dead' (the group membership
 * declared it dead).
 */
export type ReceiverDropReason = 'timeout' | 'slow' | 'left' | 'dead';

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
}

export interface Endpoint {
  /**
   * Queues one message on a stream (packed with others sent before the next
   * flush, fragmented if larger than a datagram). Returns false when the
   * window is now full — the message IS accepted; the caller should wait for
   * a 'drain' event before sending more (Writable semantics).
   */
  send(nowMs: number, streamId: number, data: Uint8Array): boolean;
  /** Closes the datagram being packed so pollTransmit returns it (end of an event-loop turn). */
  flush(nowMs: number): void;
  /** Feeds one received datagram whose header was already decoded and verified. `datagram` is a view valid only during the call. */
  handleDatagram(nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number } | undefined): void;
  /** Runs whatever timers are due at `nowMs`. Extra calls are harmless. */
  handleTimeout(nowMs: number): void;
  /** Next datagram to send, or undefined. The core never modifies the returned bytes afterwards, so the driver may hold them until the socket takes them. */
  pollTransmit(nowMs: number): Uint8Array | undefined;
  /** Absolute time (ms) of the next timer, or undefined when none is armed. */
  pollTimeout(): number | undefined;
  /** Next event for the application, or undefined. */
  pollEvent(): ProtocolEvent | undefined;
  /** True when everything sent has been acknowledged by every known receiver (or there are none) — used by close() linger. */
  isFlushed(): boolean;
  /** Starts a graceful close: announces the end of this session so receivers stop waiting. */
  close(nowMs: number): void;
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
  /** Datagrams dropped by the core after the header check (bad payload, own datagrams excluded). */
  invalid: number;
  sources: number;
  receivers: number;
}
