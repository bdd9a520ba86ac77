/**
 * The sender's datagrams in send order, in two parts: the transmit queue
 * (closed datagrams not yet transmitted, e.g. held back by the rate limit or
 * by flow control) and the retransmission window (transmitted datagrams kept
 * for repair). Entries are kept as complete datagrams so a repair resends
 * exactly what was sent (with the REPAIR flag).
 *
 * The two are bounded apart: the window by `maxBytes` / `maxMessages`
 * (sequence numbers) of *transmitted* data, the queue by the sender
 * (write() returns false). Queued data never pushes transmitted data out of
 * the window: a datagram is transmitted only when the window has room for it
 * ({@link SendWindow.roomFor}), and the oldest transmitted entry is evicted to
 * make that room only when flow control releases it.
 */

import { Fifo } from '../util/fifo';

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
  /** Who asked for its last repair (the asker's NAK budget): that receiver asking again is a retry the linger must not swallow. */
  lastRepairAsker: object | undefined;
  /** Bytes its stream had transmitted before this entry (set when it is transmitted): flow control measures receivers' outstanding bytes with it. */
  streamOffset: number;
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
  /** Datagram bytes of this stream transmitted so far (each datagram counted once, repairs not). */
  sentBytes = 0;
  readonly entries = new Fifo<WindowEntry>();

  constructor(readonly streamId: number) {}

  /**
   * Bytes of this stream transmitted from sequence `seq` on: what a receiver
   * whose next needed sequence is `seq` has outstanding (the datagram holding
   * `seq` counted whole). Below the window's trail: everything in the window.
   */
  bytesFrom(seq: number): number {
    if (seq >= this.sentNextSeq) return 0;
    const n = this.entries.length;
    if (n === 0) return 0;
    if (seq < this.trailSeq) return this.sentBytes - this.entries.at(0).streamOffset;
    const hit = this.find(seq);
    return hit === undefined ? 0 : this.sentBytes - hit.entry.streamOffset;
  }

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
  /** Transmitted datagrams held for repair: bytes and sequence numbers (bounded by maxBytes / maxMessages). */
  bytes = 0;
  messages = 0;
  /** Datagrams queued but not yet transmitted: bytes and sequence numbers (bounded by the sender's queue bounds). */
  queuedBytes = 0;
  queuedMessages = 0;
  /** Datagram bytes transmitted over all streams (never decreases): flow control's transmit limit is on this scale. */
  sentTotalBytes = 0;

  constructor(private readonly maxBytes: number, private readonly maxMessages: number) {}

  stream(streamId: number): StreamSendState {
    let s = this.streams.get(streamId);
    if (!s) {
      s = new StreamSendState(streamId);
      this.streams.set(streamId, s);
    }
    return s;
  }

  /** Appends a closed datagram to the transmit queue. */
  append(entry: WindowEntry): void {
    const s = this.stream(entry.streamId);
    if (s.entries.length === 0) s.trailSeq = entry.firstSeq;
    s.entries.push(entry);
    this.all.push(entry);
    this.queuedBytes += entry.datagram.length;
    this.queuedMessages += entry.count;
  }

  /** The next entry to transmit for the first time, without removing it. */
  peekUnsent(): WindowEntry | undefined {
    return this.unsent < this.all.length ? this.all.at(this.unsent) : undefined;
  }

  /** Marks the entry returned by peekUnsent() as transmitted: it moves from the queue into the window. */
  markSent(nowMs: number): WindowEntry {
    const e = this.all.at(this.unsent++);
    e.sent = true;
    const len = e.datagram.length;
    this.queuedBytes -= len;
    this.queuedMessages -= e.count;
    this.bytes += len;
    this.messages += e.count;
    this.sentTotalBytes += len;
    const s = this.streams.get(e.streamId)!;
    e.streamOffset = s.sentBytes;
    s.sentBytes += len;
    s.sentNextSeq = e.firstSeq + e.count;
    if (Number.isNaN(s.firstSentMs)) s.firstSentMs = nowMs;
    return e;
  }

  /** Datagrams queued, not yet transmitted. */
  queuedCount(): number {
    return this.all.length - this.unsent;
  }

  hasUnsent(): boolean {
    return this.unsent < this.all.length;
  }

  /** Whether the window can take `e` without passing a bound (an empty window takes anything: one message may be larger than it). */
  roomFor(e: WindowEntry): boolean {
    return this.unsent === 0 || (this.bytes + e.datagram.length <= this.maxBytes && this.messages + e.count <= this.maxMessages);
  }

  /**
   * Evicts oldest transmitted entries while the window plus `need` (the entry
   * about to be transmitted, if any) is over a bound and `limit` (flow
   * control) allows. Returns how many entries were evicted.
   */
  evict(limit: ReleaseLimit, need?: WindowEntry): number {
    let n = 0;
    const needBytes = need === undefined ? 0 : need.datagram.length;
    const needMessages = need === undefined ? 0 : need.count;
    // One cached limit per call: nearly every run of entries belongs to one stream.
    let limStream = -1;
    let lim = 0;
    while ((this.bytes + needBytes > this.maxBytes || this.messages + needMessages > this.maxMessages) && this.unsent > 0) {
      const e = this.all.peek()!;
      if (e.streamId !== limStream) {
        limStream = e.streamId;
        lim = limit(e.streamId);
      }
      if (e.firstSeq + e.count > lim) break;
      this.all.shift();
      this.unsent--;
      const s = this.streams.get(e.streamId)!;
      s.entries.shift();
      const next = s.entries.peek();
      s.trailSeq = next ? next.firstSeq : s.nextSeq;
      e.evicted = true;
      this.bytes -= e.datagram.length;
      this.messages -= e.count;
      n++;
    }
    return n;
  }
}
