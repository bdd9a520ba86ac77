/**
 * Faults users meet, as transport decorators for Channel tests on the memory
 * network (`wrapTransport`): a process that stops running for a while (GC
 * pause, SIGSTOP, a starved container), and bursts of consecutive datagrams
 * lost (a switch queue overflowing).
 */

import type { DatagramBatch, ReceiveHandler, RemoteInfo, Transport, TransportInfo, TransportKind, TransportStats } from '../../src/transport/transport';
import { createRandom } from '../../src/util/random';

/** One received batch copied out of the transport's reused buffers. */
class HeldBatch implements DatagramBatch {
  readonly shared = false;
  readonly buffer: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  readonly count: number;
  private readonly sources: RemoteInfo[];
  private readonly destinations: (string | undefined)[];

  constructor(batch: DatagramBatch) {
    this.count = batch.count;
    this.offsets = new Uint32Array(batch.count);
    this.lengths = new Uint32Array(batch.count);
    let total = 0;
    for (let i = 0; i < batch.count; i++) total += batch.lengths[i]!;
    this.buffer = Buffer.alloc(total);
    this.sources = [];
    this.destinations = [];
    let at = 0;
    for (let i = 0; i < batch.count; i++) {
      const o = batch.offsets[i]!;
      const n = batch.lengths[i]!;
      batch.buffer.copy(this.buffer, at, o, o + n);
      this.offsets[i] = at;
      this.lengths[i] = n;
      at += n;
      this.sources.push({ ...batch.source(i) });
      this.destinations.push(batch.destination(i));
    }
  }

  source(i: number): RemoteInfo {
    return this.sources[i]!;
  }

  destination(i: number): string | undefined {
    return this.destinations[i];
  }

  datagram(i: number): Buffer {
    return this.buffer.subarray(this.offsets[i]!, this.offsets[i]! + this.lengths[i]!);
  }
}

/** Passes everything through; subclasses override receive or send. */
class Decorator implements Transport {
  constructor(readonly inner: Transport) {}
  get kind(): TransportKind {
    return this.inner.kind;
  }
  get info(): TransportInfo {
    return this.inner.info;
  }
  receive(handler: ReceiveHandler): void {
    this.inner.receive(handler);
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
}

/**
 * A process that is not running: while paused, what arrives waits (as in a
 * socket buffer, up to `bufferBytes`, beyond which it is dropped as the
 * kernel would) and nothing is sent; on resume the waiting datagrams are
 * handed over in order. Timers of the paused channel still run on the
 * virtual clock, but whatever they would send is suppressed, so to the rest
 * of the group the process is silent.
 */
export class PausableTransport extends Decorator {
  private paused = false;
  private held: HeldBatch[] = [];
  private heldBytes = 0;
  private handler: ReceiveHandler | undefined;
  /** Datagrams dropped because the pause "socket buffer" was full. */
  overflowed = 0;

  constructor(inner: Transport, private readonly bufferBytes = 8 * 1024 * 1024) {
    super(inner);
  }

  pause(): void {
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    for (const batch of held) this.handler?.(batch);
  }

  override receive(handler: ReceiveHandler): void {
    this.handler = handler;
    this.inner.receive((batch) => {
      if (!this.paused) {
        handler(batch);
        return;
      }
      const copy = new HeldBatch(batch);
      if (this.heldBytes + copy.buffer.length > this.bufferBytes) {
        this.overflowed += batch.count;
        return;
      }
      this.heldBytes += copy.buffer.length;
      this.held.push(copy);
    });
  }

  override send(datagrams: readonly Uint8Array[]): number {
    return this.paused ? datagrams.length : this.inner.send(datagrams);
  }
}

/**
 * Loses bursts: each received datagram starts a burst with probability
 * `burstRate`, and a burst drops that datagram and the next `burstLength − 1`.
 * Seeded, so a run replays.
 */
export class BurstLossTransport extends Decorator {
  private left = 0;
  private readonly random;
  dropped = 0;

  constructor(inner: Transport, private readonly burstRate: number, private readonly burstLength: number, seed: number | string) {
    super(inner);
    this.random = createRandom(seed);
  }

  override receive(handler: ReceiveHandler): void {
    this.inner.receive((batch) => {
      // Datagram by datagram, so that a burst can span batches.
      for (let i = 0; i < batch.count; i++) {
        if (this.left === 0 && this.random.chance(this.burstRate)) this.left = this.burstLength;
        if (this.left > 0) {
          this.left--;
          this.dropped++;
          continue;
        }
        handler(new HeldBatch(sliceOne(batch, i)));
      }
    });
  }
}

/** Datagram `i` of `batch` as a batch of one (a view, copied by HeldBatch). */
function sliceOne(batch: DatagramBatch, i: number): DatagramBatch {
  return {
    buffer: batch.buffer,
    offsets: Uint32Array.of(batch.offsets[i]!),
    lengths: Uint32Array.of(batch.lengths[i]!),
    count: 1,
    shared: batch.shared,
    source: () => batch.source(i),
    destination: () => batch.destination(i),
    datagram: () => batch.datagram(i),
  };
}
