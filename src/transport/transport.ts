/**
 * The one transport interface. Three implementations: `native` (the addon:
 * recvmmsg/sendmmsg over uv_poll), `dgram` (node:dgram, the fallback) and
 * `memory` (a simulated network with a virtual clock). The protocol above sees
 * only this interface; the same test suite runs on all three.
 */

import type { ReceivedBatch } from '../wire/batch';

export type TransportKind = 'native' | 'dgram' | 'memory';

/** Options common to every transport. Validated by the implementation; bad input throws a typed error. */
export interface TransportOptions {
  /** Multicast group address (IPv4 224.0.0.0/4 or IPv6 ff00::/8). */
  group: string;
  /** UDP port, 1–65535. */
  port: number;
  /**
   * Interface to send on and join the group on, by address (`'127.0.0.1'`) or
   * by name (`'lo'`). Default: the system's default multicast interface.
   * For IPv6 give a name (or an address of that interface).
   */
  interface?: string;
  /** Multicast TTL / hop limit, 0–255. Default 1 (link-local). */
  ttl?: number;
  /** Whether this host's own sockets receive what this socket sends. Default true. */
  loopback?: boolean;
  /** Source-specific multicast: accept the group only from this source address. */
  source?: string;
  /** Requested kernel receive buffer (SO_RCVBUF). The granted size is in {@link TransportInfo}. */
  recvBufferBytes?: number;
  /** Requested kernel send buffer (SO_SNDBUF). */
  sendBufferBytes?: number;
  /** Largest datagram to receive; longer ones are truncated and counted. Default 65536. */
  maxDatagramBytes?: number;
}

/** What a transport actually got from the system. */
export interface TransportInfo {
  kind: TransportKind;
  family: 4 | 6;
  group: string;
  /** The local port (useful when the group port was shared). */
  port: number;
  /** Interface name the group was joined on, or undefined for the system default. */
  interface: string | undefined;
  /** Receive buffer size the kernel granted, bytes (as getsockopt reports it), or undefined where unknown. */
  recvBufferBytes: number | undefined;
  sendBufferBytes: number | undefined;
}

/** Counters kept by every transport. */
export interface TransportStats {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  /** Receive callbacks (batches) delivered to the handler. */
  batches: number;
  /** Datagrams the kernel dropped because the socket buffer was full (SO_RXQ_OVFL), where known. */
  kernelDrops: number;
  /** Datagrams longer than maxDatagramBytes, truncated and not delivered. */
  truncated: number;
  /** Sends that failed with an error other than would-block. */
  sendErrors: number;
  /** Datagrams not sent because the socket would block (send buffer full). */
  sendWouldBlock: number;
}

/** Where a datagram came from. */
export interface RemoteInfo {
  address: string;
  port: number;
  family: 4 | 6;
}

/**
 * A batch of received datagrams, laid out in one buffer. Valid only during the
 * receive handler: the memory is reused for the next batch, so copy what you keep.
 */
export interface DatagramBatch extends ReceivedBatch {
  /** Memory holding every datagram of the batch. */
  readonly buffer: Buffer;
  /** Sender of datagram i (decoded lazily). */
  source(i: number): RemoteInfo;
  /** Destination (group) address of datagram i from IP_PKTINFO, or undefined where the transport cannot tell. */
  destination(i: number): string | undefined;
  /** View of datagram i, no copy. */
  datagram(i: number): Buffer;
}

export type ReceiveHandler = (batch: DatagramBatch) => void;

/** Events a transport reports outside the data path. */
export interface TransportEvents {
  /** A send failed with something other than would-block (rate-limited by the caller if needed). */
  onError?: (err: Error) => void;
}

export interface Transport {
  readonly kind: TransportKind;
  readonly info: TransportInfo;
  /**
   * Starts delivering received datagrams to `handler`, one call per batch.
   * Calling it again replaces the handler. No call happens after {@link close}.
   */
  receive(handler: ReceiveHandler): void;
  /**
   * Sends each datagram to the group. Synchronous, never throws for network
   * conditions: returns how many of `datagrams` (a prefix) were handed to the
   * kernel. Fewer than `datagrams.length` means the send buffer is full
   * (would-block); try the rest later. Other send errors go to `onError` and
   * count as sent-and-lost. Throws {@link ClosedError} after close.
   */
  send(datagrams: readonly Uint8Array[]): number;
  /** Leaves the group, stops receiving and closes the socket. Idempotent. No handler call after it resolves or during it. */
  close(): Promise<void>;
  stats(): TransportStats;
  /** Sets/replaces the error listener. */
  onError(listener: (err: Error) => void): void;
}

export function emptyTransportStats(): TransportStats {
  return { datagramsSent: 0, bytesSent: 0, datagramsReceived: 0, bytesReceived: 0, batches: 0, kernelDrops: 0, truncated: 0, sendErrors: 0, sendWouldBlock: 0 };
}
