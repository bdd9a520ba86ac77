/**
 * `blipcast/core` — the sans-IO reliable-multicast core, for those who bring
 * their own I/O (another runtime, a simulator, a custom socket). The core
 * never reads a clock and never touches a socket: feed it received batches
 * (`handleBatch(nowMs, batch)`) and fired timers (`handleTimeout(nowMs)`),
 * and drain `pollTransmit(nowMs)` (datagrams to send), `pollEvent()`
 * (messages, losses, sources, …) and `pollTimeout()` (the one deadline to
 * arm). docs/protocol.md describes the wire format and every timer; the
 * channel (`open()` in `blipcast`) is this core driven by a socket and
 * Node's timers. Stable like the main entry.
 *
 * @packageDocumentation
 */

export { createEndpoint, DEFAULT_TUNING } from './protocol/endpoint';
export type {
  CloseOutcome, Endpoint, EndpointConfig, FlowControl, HealthReader, InvalidReason, LateJoin, LimitReason, LimitWarningEvent, LossEvent, LossReason,
  MessageEvent, MessagesEvent, ProtocolEvent, ProtocolStats, ReceiverDropReason, ReceiverHealth, ReceiverReport, SourceHealth, SourceInfo, UnflushedReceiver,
} from './protocol/api';
export { INVALID_REASONS, LIMIT_REASONS } from './protocol/api';
export type { NakBackoff, ProtocolTuning } from './protocol/tuning';
export type { ReceivedBatch } from './wire/batch';
export { decodeHeader } from './wire/decode';
export type { DecodeResult } from './wire/decode';
export { DatagramType, encodeDatagram, HEADER_BYTES } from './wire/header';
export type { Header } from './wire/header';
export { createRejectCounts, REJECT_NAMES, SEALED_REJECT_NAMES } from './wire/rejects';
export type { RejectCounts, RejectName, SealedRejectName } from './wire/rejects';
