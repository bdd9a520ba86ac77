/**
 * The sender's retransmission window: whole datagrams in send order, bounded
 * in bytes and in messages (sequence numbers). Entries are kept as complete
 * datagrams so a repair resends exactly what was sent (with the REPAIR flag).
 *
 * The oldest entry is evicted only when the window is over a bound, the entry
 * has been transmitted, and flow control releases it; otherwise the window
 * stays over its bound and {@link SendWindow.isFull} tells send() to return false.
 */

export interface WindowEntry {
  readonly streamId: number;
  readonly firstSeq: number;
  /** Sequence numbers carried (packed messages, or 1 for a fragment). */
  readonly count: number;
  /** The complete datagram, header included, without the REPAIR flag. */
  readonly datagram: Buffer;
  sent: boolean;
  evicted: boolean;
  repairQueued: boolean;
  /** Last time this entry was sent as a repair (for the linger). */
  lastRepairMs: number;
}

/** A FIFO with O(1) shift and index access, compacted now and then. */
class Fifo<T> {
  items: T[] = [];
  head = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  at(i: number): T {
    return this.items[this.head + i]!;
  }
  first(): T | undefined {
    return this.items[this.head];
  }
  push(v: T): void {
    this.items.push(v);
  }
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const v = this.items[this.head]!;
    (this.items as (T | undefined)[])[this.head] = undefined;
    this.head++;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return v;
  }
}

/** Per-stream send state. */
export class StreamSendState {
  /** Next sequence number to assign. */
  nextSeq = 0;
  /** One past the highest sequence transmitted (what heartbeats advertise as lead + 1). */
  sentNextSeq = 0;
  /** Oldest sequence still in the window (what heartbeats advertise as trail). */
  trailSeq = 0;
  /** When the stream's first datagram was transmitted (heartbeats advertise its age), or NaN. */
  firstSentMs = Number.NaN;
  readonly entries = new Fifo<WindowEntry>();

  constructor(readonly streamId: number) {}

  /** The entry holding `seq`, or undefined when it is outside the window. */
  find(seq: number): { entry: WindowEntry; index: number } | undefined {
    const n = this.entries.length;
    if (n === 0 || seq < this.trailSeq) return undefined;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (this.entries.at(mid).firstSeq <= seq) lo = mid;
      else hi = mid - 1;
    }
    const entry = this.entries.at(lo);
    if (seq >= entry.firstSeq + entry.count) return undefined;
    return { entry, index: lo };
  }
}

/** Returns the sequence below which entries of a stream may be released (Infinity = no constraint). */
export type ReleaseLimit = (streamId: number) => number;

export class SendWindow {
  readonly streams = new Map<number, StreamSendState>();
  private readonly all = new Fifo<WindowEntry>();
  /** Index (into `all`, from its head) of the first entry not yet transmitted. */
  private unsent = 0;
  bytes = 0;
  messages = 0;

  constructor(private readonly maxBytes: number, private readonly maxMessages: number) {}

  stream(streamId: number): StreamSendState {
    let s = this.streams.get(streamId);
    if (!s) {
      s = new StreamSendState(streamId);
      this.streams.set(streamId, s);
    }
    return s;
  }

  /** Appends a closed datagram (not yet transmitted). */
  append(entry: WindowEntry): void {
    const s = this.stream(entry.streamId);
    if (s.entries.length === 0) s.trailSeq = entry.firstSeq;
    s.entries.push(entry);
    this.all.push(entry);
    this.bytes += entry.datagram.length;
    this.messages += entry.count;
  }

  /** The next entry to transmit for the first time, without removing it. */
  peekUnsent(): WindowEntry | undefined {
    return this.unsent < this.all.length ? this.all.at(this.unsent) : undefined;
  }

  /** Marks the entry returned by peekUnsent() as transmitted. */
  markSent(nowMs: number): WindowEntry {
    const e = this.all.at(this.unsent++);
    e.sent = true;
    const s = this.streams.get(e.streamId)!;
    s.sentNextSeq = e.firstSeq + e.count;
    if (Number.isNaN(s.firstSentMs)) s.firstSentMs = nowMs;
    return e;
  }

  hasUnsent(): boolean {
    return this.unsent < this.all.length;
  }

  isOverBound(): boolean {
    return this.bytes > this.maxBytes || this.messages > this.maxMessages;
  }

  /**
   * Evicts oldest transmitted entries while the window plus `headroomBytes`
   * (what is being packed) is over a bound and `limit` (flow control) allows.
   * Returns how many entries were evicted.
   */
  evict(limit: ReleaseLimit, headroomBytes = 0): number {
    let n = 0;
    // One cached limit per call: nearly every run of entries belongs to one stream.
    let limStream = -1;
    let lim = 0;
    while ((this.bytes + headroomBytes > this.maxBytes || this.messages > this.maxMessages) && this.unsent > 0) {
      const e = this.all.first()!;
      if (e.streamId !== limStream) {
        limStream = e.streamId;
        lim = limit(e.streamId);
      }
      if (e.firstSeq + e.count > lim) break;
      this.all.shift();
      this.unsent--;
      const s = this.streams.get(e.streamId)!;
      s.entries.shift();
      const next = s.entries.first();
      s.trailSeq = next ? next.firstSeq : s.nextSeq;
      e.evicted = true;
      this.bytes -= e.datagram.length;
      this.messages -= e.count;
      n++;
    }
    return n;
  }
}
