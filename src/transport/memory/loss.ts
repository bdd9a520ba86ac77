/**
 * Loss injection as a transport decorator (after Aeron's loss generator):
 * wraps any transport, real or simulated, and drops received datagrams at
 * random, from a seeded generator, before they reach the handler. The same
 * seed and the same arrival order drop the same datagrams, so end-to-end loss
 * on real sockets is repeatable.
 */

import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../util/errors';
import { createRandom, type Random } from '../../util/random';
import type { DatagramBatch, ReceiveHandler, RemoteInfo, Transport, TransportInfo, TransportKind, TransportStats } from '../transport';

export interface LossOptions {
  /** Probability that each received datagram is dropped, 0..1. */
  lossRate: number;
  /** Seed of the drop decisions. Default 1. */
  seed?: number | string;
}

/** What the decorator did. */
export interface LossStats {
  /** Datagrams that reached the decorator. */
  seen: number;
  /** Datagrams it dropped. */
  dropped: number;
}

/** A transport that loses a fraction of what it receives. */
export interface LossyTransport extends Transport {
  /** The decorated transport. */
  readonly inner: Transport;
  lossStats(): LossStats;
}

/**
 * Wraps `transport` so that each received datagram is dropped with
 * probability `lossRate`. Sending, stats and close pass through unchanged
 * (the inner stats count what the socket received, before the drops).
 */
export function withLoss(transport: Transport, options: LossOptions): LossyTransport {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentTypeError('loss options must be an object');
  const { lossRate } = options;
  if (typeof lossRate !== 'number' || !(lossRate >= 0 && lossRate <= 1)) throw new InvalidArgumentValueError(`lossRate must be a number in 0..1, got ${String(lossRate)}`);
  return new LossyTransportImpl(transport, lossRate, createRandom(options.seed ?? 1));
}

/** A subset of another batch, by index; no bytes are copied. */
class FilteredBatch implements DatagramBatch {
  count = 0;
  inner: DatagramBatch | undefined;
  index = new Uint32Array(64);
  offsets = new Uint32Array(64);
  lengths = new Uint32Array(64);

  get buffer(): Buffer {
    return this.inner!.buffer;
  }

  get shared(): boolean {
    return this.inner!.shared;
  }

  reserve(n: number): void {
    if (n <= this.index.length) return;
    let size = this.index.length;
    while (size < n) size *= 2;
    this.index = new Uint32Array(size);
    this.offsets = new Uint32Array(size);
    this.lengths = new Uint32Array(size);
  }

  source(i: number): RemoteInfo {
    return this.inner!.source(this.index[i]!);
  }

  destination(i: number): string | undefined {
    return this.inner!.destination(this.index[i]!);
  }

  datagram(i: number): Buffer {
    return this.inner!.datagram(this.index[i]!);
  }
}

class LossyTransportImpl implements LossyTransport {
  readonly inner: Transport;
  private readonly lossRate: number;
  private readonly random: Random;
  private readonly filtered = new FilteredBatch();
  private readonly counts: LossStats = { seen: 0, dropped: 0 };

  constructor(inner: Transport, lossRate: number, random: Random) {
    this.inner = inner;
    this.lossRate = lossRate;
    this.random = random;
  }

  get kind(): TransportKind {
    return this.inner.kind;
  }

  get info(): TransportInfo {
    return this.inner.info;
  }

  receive(handler: ReceiveHandler): void {
    this.inner.receive((batch) => {
      const filtered = this.filtered;
      filtered.reserve(batch.count);
      let kept = 0;
      for (let i = 0; i < batch.count; i++) {
        if (this.random.chance(this.lossRate)) continue;
        filtered.index[kept] = i;
        filtered.offsets[kept] = batch.offsets[i]!;
        filtered.lengths[kept] = batch.lengths[i]!;
        kept++;
      }
      this.counts.seen += batch.count;
      this.counts.dropped += batch.count - kept;
      if (kept === 0) return;
      filtered.count = kept;
      filtered.inner = batch;
      try {
        handler(filtered);
      } finally {
        filtered.inner = undefined;
      }
    });
  }

  send(datagrams: readonly Uint8Array[]): number {
    return this.inner.send(datagrams);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  stats(): TransportStats {
    return this.inner.stats();
  }

  onError(listener: (err: Error) => void): void {
    this.inner.onError(listener);
  }

  lossStats(): LossStats {
    return { ...this.counts };
  }
}
