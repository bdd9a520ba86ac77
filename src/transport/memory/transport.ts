/**
 * A transport on the simulated network: same interface as a socket, but
 * sends go to {@link MemoryNetwork.transmit} and receives come from the
 * network's event queue, one batch per instant.
 */

import { ClosedError } from '../../util/errors';
import type { CheckedTransportOptions } from '../options';
import { emptyTransportStats, type DatagramBatch, type ReceiveHandler, type RemoteInfo, type Transport, type TransportInfo, type TransportStats } from '../transport';
import type { Delivery, MemoryHost, MemoryNetwork } from './network';

/** Linux's default socket receive buffer (`net.core.rmem_default`): what the transport of a paused host holds when it asked for no `recvBufferBytes`. */
export const DEFAULT_PAUSE_BUFFER_BYTES = 212_992;

/** One sent datagram: a read-only slice of a slab shared by every receiver. */
export interface SentDatagram {
  readonly chunk: Buffer;
  readonly offset: number;
  readonly length: number;
  readonly from: MemoryTransport;
}

/** The reusable receive batch. Views the shared slab when the whole batch lies in one slab (the usual case), else a private copy. */
class MemoryBatch implements DatagramBatch {
  /** Views of slabs every receiver of a datagram shares. */
  readonly shared = true;
  count = 0;
  buffer: Buffer = Buffer.alloc(0);
  offsets = new Uint32Array(64);
  lengths = new Uint32Array(64);
  sources: SentDatagram[] = [];
  private scratch: Buffer = Buffer.alloc(0);
  private readonly group: string;

  constructor(group: string) {
    this.group = group;
  }

  reserve(n: number): void {
    if (n <= this.offsets.length) return;
    let size = this.offsets.length;
    while (size < n) size *= 2;
    this.offsets = new Uint32Array(size);
    this.lengths = new Uint32Array(size);
  }

  /** Copies datagrams from several slabs into one private buffer (rare: only when a batch straddles slabs). */
  gather(): void {
    let total = 0;
    for (let i = 0; i < this.count; i++) total += this.lengths[i]!;
    if (this.scratch.length < total) this.scratch = Buffer.allocUnsafe(Math.max(total, 2 * this.scratch.length));
    let at = 0;
    for (let i = 0; i < this.count; i++) {
      const d = this.sources[i]!;
      d.chunk.copy(this.scratch, at, d.offset, d.offset + d.length);
      this.offsets[i] = at;
      at += d.length;
    }
    this.buffer = this.scratch;
  }

  source(i: number): RemoteInfo {
    const from = this.sources[i]!.from;
    const family = from.options.family;
    return { address: family === 4 ? from.host.address : from.host.address6, port: from.localPort, family };
  }

  destination(): string | undefined {
    return this.group;
  }

  datagram(i: number): Buffer {
    const offset = this.offsets[i]!;
    return this.buffer.subarray(offset, offset + this.lengths[i]!);
  }
}

export class MemoryTransport implements Transport {
  readonly kind = 'memory' as const;
  readonly info: TransportInfo;
  readonly host: MemoryHost;
  /** Port the transport's datagrams come from (what receivers see as the source port). */
  readonly localPort: number;
  /** @internal */
  readonly options: CheckedTransportOptions;
  /** @internal */
  readonly groupKey: string;
  /** @internal the delivery most recently scheduled to this transport (fast path of batching) */
  lastPending: Delivery | undefined;
  /** @internal deliveries scheduled to this transport and not yet run, by due time */
  readonly pendingByTime = new Map<number, Delivery>();
  private readonly network: MemoryNetwork;
  private readonly counters: TransportStats = emptyTransportStats();
  private readonly batch: MemoryBatch;
  private handler: ReceiveHandler | undefined;
  private closed = false;
  /** Its host crashed while it was open: it neither sends nor receives, silently. */
  private crashed = false;
  /** Datagrams that arrived while the host was paused (its socket buffer), and their bytes. */
  private held: SentDatagram[] = [];
  private heldBytes = 0;

  /** @internal use {@link MemoryNetwork.createTransport} */
  constructor(network: MemoryNetwork, host: MemoryHost, options: CheckedTransportOptions, interfaceName: string | undefined, localPort: number) {
    this.network = network;
    this.host = host;
    this.options = options;
    this.localPort = localPort;
    this.groupKey = `${options.group}|${options.port}`;
    this.batch = new MemoryBatch(options.group);
    this.info = {
      kind: 'memory',
      family: options.family,
      group: options.group,
      port: options.port,
      interface: interfaceName,
      recvBufferBytes: options.recvBufferBytes,
      sendBufferBytes: options.sendBufferBytes,
    };
  }

  receive(handler: ReceiveHandler): void {
    if (this.closed) return;
    this.handler = handler;
  }

  /** Never would-block: the simulated network takes everything; loss happens on the links. */
  send(datagrams: readonly Uint8Array[]): number {
    if (this.crashed) return datagrams.length; // the process is dead: nothing leaves it
    if (this.closed) throw new ClosedError('memory transport');
    const counters = this.counters;
    for (let i = 0; i < datagrams.length; i++) {
      const datagram = datagrams[i]!;
      counters.datagramsSent++;
      counters.bytesSent += datagram.length;
      this.network.transmit(this, datagram);
    }
    return datagrams.length;
  }

  close(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      this.handler = undefined;
      this.network.leave(this);
      this.pendingByTime.clear();
      this.lastPending = undefined;
    }
    return Promise.resolve();
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  /** @internal its host crashed: stop dead, leave the group's routing (no goodbye) */
  crash(): void {
    this.crashed = true;
    this.closed = true;
    this.handler = undefined;
    this.network.leave(this);
    this.pendingByTime.clear();
    this.lastPending = undefined;
    this.held = [];
    this.heldBytes = 0;
  }

  /** @internal the datagrams held while the host was paused, in arrival order; the buffer empties */
  takeHeld(): SentDatagram[] {
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    return held;
  }

  /** Accepted for the interface; nothing on the simulated network fails to send, so it is never called. */
  onError(_listener: (err: Error) => void): void {}

  /**
   * @internal Delivers the datagrams of one event as one batch. Datagrams
   * longer than maxDatagramBytes count as truncated; with recvBufferBytes
   * set, a batch holding more payload than that overflows and the rest count
   * as kernel drops (a crude model of a full socket buffer).
   */
  deliver(delivery: Delivery): void {
    if (delivery.indexed && this.pendingByTime.get(delivery.atMs) === delivery) this.pendingByTime.delete(delivery.atMs);
    if (this.lastPending === delivery) this.lastPending = undefined;
    if (this.closed) return;
    const datagrams = delivery.datagrams;
    const counters = this.counters;
    if (this.host.pausedUntilMs !== undefined) {
      const limitBytes = this.options.recvBufferBytes ?? DEFAULT_PAUSE_BUFFER_BYTES;
      for (let i = 0; i < datagrams.length; i++) {
        const d = datagrams[i]!;
        if (this.heldBytes + d.length > limitBytes) counters.kernelDrops++;
        else {
          this.held.push(d);
          this.heldBytes += d.length;
        }
      }
      return;
    }
    const maxBytes = this.options.maxDatagramBytes;
    const bufferBytes = this.options.recvBufferBytes ?? Infinity;
    const batch = this.batch;
    batch.reserve(datagrams.length);
    const offsets = batch.offsets;
    const lengths = batch.lengths;
    const sources = batch.sources;
    let count = 0;
    let bytes = 0;
    let chunk: Buffer | undefined;
    let oneChunk = true;
    for (let i = 0; i < datagrams.length; i++) {
      const d = datagrams[i]!;
      if (d.length > maxBytes) {
        counters.truncated++;
        continue;
      }
      if (bytes + d.length > bufferBytes) {
        counters.kernelDrops++;
        continue;
      }
      bytes += d.length;
      offsets[count] = d.offset;
      lengths[count] = d.length;
      sources[count] = d;
      count++;
      if (chunk === undefined) chunk = d.chunk;
      else if (d.chunk !== chunk) oneChunk = false;
    }
    if (count === 0) return;
    counters.datagramsReceived += count;
    counters.bytesReceived += bytes;
    batch.count = count;
    if (oneChunk) batch.buffer = chunk!;
    else batch.gather();
    const handler = this.handler;
    if (handler === undefined) return;
    counters.batches++;
    try {
      handler(batch);
    } finally {
      batch.count = 0;
    }
  }
}
