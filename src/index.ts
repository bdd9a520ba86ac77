/**
 * blipcast — reliable IP multicast for Node.js.
 *
 * Start with {@link open}: it returns a {@link Channel} you write to, read from
 * (`for await`), observe (`loss`, `source`, … events, `stats()`) and close.
 * Lower layers are exported for tools and tests: the transports
 * ({@link createTransport}, the simulated {@link MemoryNetwork}) and the wire
 * header codec.
 *
 * @packageDocumentation
 */

export { open, Channel, Group } from './api/channel';
export { MessageBatch } from './api/message-batch';
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
export type { CloseOutcome, FlowControl, InvalidReason, LateJoin, LimitReason, LossReason, ProtocolStats, ReceiverDropReason, SourceInfo } from './protocol/api';
export { INVALID_REASONS, LIMIT_REASONS } from './protocol/api';
export type { NakBackoff, ProtocolTuning } from './protocol/tuning';
export type { RejectCounts } from './wire/rejects';
export type { GroupKey, GroupKeyInput } from './crypto/key';
export type { CryptoStats } from './crypto/group-crypto';
export type { SigningKeyInput, VerifierStats } from './crypto/announce';
export { SealedReject, SEALED_REJECT_BASE, SEALED_REJECT_NAMES } from './wire/rejects';
export type { SealedRejectName } from './wire/rejects';

export {
  BlipcastError, ClosedError, CounterExhaustedError, InvalidArgumentTypeError, InvalidArgumentValueError, NotMulticastError,
  SystemError, TransportUnavailableError, UnknownInterfaceError, UnsupportedError,
} from './util/errors';

export { isMulticast, parseGroup } from './transport/address';
export type { Family, GroupAddress } from './transport/address';

export { createTransport, MemoryHost, MemoryNetwork, MemoryTransport, withLoss, TRANSPORT_ENV } from './transport/index';
export type {
  CreateTransportOptions, DatagramBatch, LinkConditions, LinkStats, LossOptions, LossStats, LossyTransport,
  MemoryHostOptions, MemoryNetworkOptions, ReceiveHandler, RemoteInfo, Transport, TransportInfo, TransportKind,
  TransportOptions, TransportStats,
} from './transport/index';

export type { Scheduler, TimerHandle } from './util/clock';

export { DatagramType, emptyHeader, encodeDatagram, HEADER_BYTES, MAGIC, VERSION } from './wire/header';
export { decodeHeader, decodeHeaderInto } from './wire/decode';
export { Reject, REJECT_NAMES } from './wire/rejects';
export type { DecodeResult } from './wire/decode';
export type { Header } from './wire/header';
export type { RejectName } from './wire/rejects';
export { crc32c } from './wire/crc32c';
