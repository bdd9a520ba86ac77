/**
 * The types a {@link Channel} hands out: messages, loss reports, events,
 * info and counters.
 */

import type { MessageBatch } from './message-batch';
import type { VerifierStats } from '../crypto/announce';
import type { CryptoStats } from '../crypto/group-crypto';
import type { RejectCounts } from '../wire/rejects';
import type { MembershipStats } from '../group/api';
import type { CloseOutcome, LimitReason, LossReason, ProtocolStats, SourceInfo, UnflushedReceiver } from '../protocol/api';

export type { UnflushedReceiver };
/**
 * What `close()` achieved over the whole session (docs/protocol.md, "Close"): receivers that acknowledged everything
 * (`flushed`), receivers given up before they did (`givenUp`, with why and how many sequence numbers they had not
 * acknowledged), and receivers that left first (`left`). `givenUpCount === 0` means every receiver this channel heard
 * got everything it sent.
 */
export type CloseResult = CloseOutcome;
import type { TransportKind, TransportStats } from '../transport/transport';

/** One received message. `data` is the receiver's own copy. */
export interface Message {
  data: Buffer;
  source: SourceInfo;
  /** Stream name: '' for the default stream, a name this channel knows, or `#<id>` for an id it never named. */
  stream: string;
  /** Sequence number of the message in its (source, stream). */
  seq: number;
}

/**
 * Why messages were not delivered: the protocol's reasons, plus
 * `'read-buffer'` when this channel's reader fell more than
 * `maxReadBufferBytes` behind and the channel dropped them itself.
 */
export type ChannelLossReason = LossReason | 'read-buffer';

export interface LossInfo {
  source: SourceInfo;
  stream: string;
  /** First and last undelivered sequence numbers, inclusive. */
  fromSeq: number;
  toSeq: number;
  reason: ChannelLossReason;
}

export type SourceGoneReason = 'timeout' | 'closed' | 'restarted' | 'memory';
/**
 * 'timeout': silent for receiverTimeoutMs; 'slow': fell out of the window under 'max'; 'left': it closed or left the group;
 * 'dead': the group declared it dead; 'linger': this channel was closing and the receiver made no progress for lingerMs;
 * 'ignored': it turned out to be a group member outside this channel's `paceTo` (its status came before its join).
 */
export type ReceiverDroppedReason = 'timeout' | 'slow' | 'left' | 'dead' | 'linger' | 'ignored';

/** Events of a {@link Channel}, with their arguments. */
export interface ChannelEvents {
  /**
   * The batch-level read API: received messages, a batch at a time (usually
   * one datagram's worth), in order per (source, stream). While at least one
   * 'messages' listener is attached, messages go to it INSTEAD of the
   * readable / async iterator, with no read buffer in between (the listener
   * runs in the receive turn; maxReadBufferBytes does not apply).
   */
  messages: [batch: MessageBatch];
  /** Messages that will never be delivered (exact range). Delivery goes on after them. */
  loss: [loss: LossInfo];
  /**
   * A sender this channel has not heard before (or a restarted one: new session id),
   * emitted just before its first message (or loss report): datagrams from a session
   * that never delivers anything (a stranger's noise) raise no event.
   */
  source: [source: SourceInfo];
  /** A source that had its 'source' event ended: it closed, timed out, or a new session from its address delivered ('restarted'). */
  'source-gone': [source: SourceInfo, reason: SourceGoneReason];
  /** A receiver became known to this channel's sender: it reported status for the first time, or (group members, 'min') it joined the group. */
  receiver: [receiver: SourceInfo];
  /**
   * A receiver stopped counting for flow control: silent ('timeout'), too slow ('slow'), gone ('left'), declared dead by
   * the group ('dead'), or given up by a close that saw it make no progress ('linger').
   */
  'receiver-dropped': [receiver: SourceInfo, reason: ReceiverDroppedReason];
  /** write() may be called again after it returned false. */
  drain: [];
  /**
   * A transport send error, or CounterExhaustedError when an encrypted sender used up its nonces (it then sends
   * nothing more). Rate-limited to one per ERROR_REPORT_INTERVAL_MS. Without a listener it becomes a process warning instead.
   */
  error: [err: Error];
  /**
   * A limit against hostile or overwhelming input was reached (docs/protocol.md,
   * "Limits"): the excess was dropped, counted in `stats().protocol.limited`.
   * At most one per second per reason.
   */
  warning: [warning: LimitWarning];
  /** The channel is closed: transport closed, no more events. */
  close: [];
}

/** A limit was reached; see the channel's 'warning' event. */
export interface LimitWarning {
  reason: LimitReason;
  /** What happened, for a log line. */
  message: string;
  /** Hits of this limit since the channel opened (= `stats().protocol.limited[reason]`). */
  count: number;
  /** Hits since the previous warning of this reason that were not reported one by one. */
  suppressed: number;
}

export interface ChannelInfo {
  /** Which transport is in use: 'native', 'dgram' or 'memory'. */
  transport: TransportKind;
  /** The group as given to open(), e.g. '239.255.0.1:5000'. */
  group: string;
  address: string;
  port: number;
  family: 4 | 6;
  /** Interface name the group was joined on, or undefined for the system default. */
  interface: string | undefined;
  /** This channel's session id (16 hex digits): how receivers identify it as a source. */
  sessionId: string;
}

/** Counters kept by the channel itself (the reading and writing ends). */
export interface ChannelCounters {
  messagesWritten: number;
  bytesWritten: number;
  /** write() calls that returned false. */
  writesBackPressured: number;
  /** Messages handed to the read side (after stream filtering). */
  messagesReceived: number;
  /** Messages on streams this channel is not subscribed to. */
  messagesFiltered: number;
  /** Received messages waiting for the reader. */
  readBufferedMessages: number;
  readBufferedBytes: number;
  /**
   * Messages dropped because the reader was more than maxReadBufferBytes behind (reported as loss 'read-buffer'). A
   * sender with 'min' flow control never lets it come to that: it waits for the reader (see maxReadBufferBytes).
   */
  readDropped: number;
  /** Datagrams waiting for the socket (would-block). */
  unsentDatagrams: number;
  /** Transport errors reported / suppressed by the rate limit. */
  errors: number;
  errorsSuppressed: number;
  /** Received batches on which the protocol core threw (a bug, never expected; each also reported through 'error'). */
  coreErrors: number;
}

export interface ChannelStats {
  protocol: ProtocolStats;
  transport: TransportStats;
  /** Received datagrams dropped before the protocol saw them (header check, encryption, authentication), by reason. */
  rejects: RejectCounts;
  /** Encryption counters of a channel opened with `key` (plus sender-authentication counters with `trustedKeys`); undefined without a key. */
  crypto: (CryptoStats & Partial<VerifierStats>) | undefined;
  channel: ChannelCounters;
  /** Membership counters; present when the channel is a group member (`channel.group`). */
  group?: MembershipStats;
}

/** Lifecycle of a {@link Channel}: 'open', then 'closing' during close(), then 'closed'. */
export type ChannelState = 'open' | 'closing' | 'closed';
