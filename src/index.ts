/**
 * blipcast — reliable IP multicast for Node.js.
 *
 * Start with {@link open}: it returns a {@link Channel} you write to, read from
 * (`for await`), observe (`loss`, `source`, … events, `stats()`) and close.
 * Also here: the typed errors, the transports ({@link createTransport}) and
 * the simulated {@link MemoryNetwork} to test an application without a
 * network. The sans-IO protocol core has its own documented entry,
 * `blipcast/core`; `blipcast/internal` holds what tests and tools reach for
 * and may change in any release.
 *
 * @packageDocumentation
 */

import { open as openChannel, type Channel } from './api/channel';
import type { OpenOptions } from './api/options';

export { Channel, Group } from './api/channel';

/**
 * Opens a channel on a multicast group. All options are validated first:
 * when one is bad, open() rejects with a typed error and nothing is opened.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError (naming the option),
 *   NotMulticastError, UnknownInterfaceError, TransportUnavailableError,
 *   SystemError (socket failures), AbortError (options.signal aborted; whatever was opened is closed).
 */
export function open(options: OpenOptions): Promise<Channel> {
  return openChannel(options);
}
export { MessageBatch } from './api/message-batch';
/** The receive buffer open() asks for on a real socket (the kernel may grant less), and the default multicast TTL. */
export { DEFAULT_RECV_BUFFER_BYTES } from './api/options';
export { DEFAULT_TTL } from './transport/options';
export type {
  ChangesOptions, GroupChange, GroupEvents, MemberFilter, MemberInfo, MemberOptions, MemberState, MembershipEvent, MembershipEventType,
  MembershipStats, MembershipTuning, ScaledTimers,
} from './api/channel';
export { DEFAULT_MAX_BUFFERED_CHANGES } from './api/group-changes';
export type {
  ChannelCounters, ChannelEvents, ChannelState, ChannelInfo, ChannelLossReason, ChannelStats, CloseResult, LimitWarning, LossInfo, Message,
  ReceiverDroppedReason, SourceGoneReason, UnflushedReceiver,
} from './api/channel';
export type { OpenOptions, TransportChoice, TuningOptions } from './api/options';
export type { ReceiverStatus, SourceStatus } from './api/health';
export type { ReceiverReport } from './protocol/api';
export type { CloseOutcome, FlowControl, InvalidReason, LateJoin, LimitReason, LossReason, ProtocolStats, ReceiverDropReason, SourceInfo } from './protocol/api';
export { INVALID_REASONS, LIMIT_REASONS } from './protocol/api';
export type { NakBackoff, ProtocolTuning } from './protocol/tuning';
export type { RejectCounts } from './wire/rejects';
export { parseKeyBytes } from './crypto/key';
export type { GroupKey, GroupKeyInput } from './crypto/key';
export type { CryptoStats } from './crypto/group-crypto';
export type { SigningKeyInput, VerifierStats } from './crypto/announce';
export type { RejectName, SealedRejectName } from './wire/rejects';

export {
  AbortError, BlipcastError, ClosedError, CounterExhaustedError, InvalidArgumentTypeError, InvalidArgumentValueError, NotMulticastError,
  SystemError, TransportUnavailableError, UnknownInterfaceError, UnsupportedError,
} from './util/errors';

export { isMulticast, parseGroup } from './transport/address';
export type { Family, GroupAddress } from './transport/address';

export { createTransport, DEFAULT_PAUSE_BUFFER_BYTES, MemoryHost, MemoryNetwork, MemoryTransport, withLoss, TRANSPORT_ENV } from './transport/index';
export type {
  CreateTransportOptions, DatagramBatch, LinkConditions, LinkStats, LossOptions, LossStats, LossyTransport,
  MemoryHostOptions, MemoryNetworkOptions, ReceiveHandler, RemoteInfo, Transport, TransportInfo, TransportKind,
  TransportOptions, TransportStats,
} from './transport/index';

export type { Scheduler, TimerHandle } from './util/clock';
