/**
 * Receive state of one source (a sender session heard on the group) and of
 * each of its streams: where delivery stands, what is missing, what is
 * buffered, and the ordered delivery of messages and loss events.
 *
 * Per stream, every sequence number from the join point on ends up exactly
 * once either in a 'message' event (as part of its message) or in a 'loss'
 * event, in sequence order.
 */

import { BUFFERED_ITEM_OVERHEAD_BYTES, MAX_GAPS_PER_STREAM } from '../constants';
import { HEADER_BYTES, type Header } from '../wire/header';
import type { EndpointConfig, InvalidReason, LossReason, ProtocolStats, SourceInfo } from './api';
import type { Limits } from './limits';
import { GapList, GapState } from './loss-detector';
import { copyBytes } from '../slab';
import type { NakScheduler } from './nak-scheduler';
import type { Output } from './output';
import { DataFlag, parseFragment, parsePacked, type FragmentInfo, type SeqRange } from './payload';
import { Reassembly } from './reassembly';
import { ReorderBuffer } from './reorder-buffer';
import type { ProtocolTuning } from './tuning';

/** What every source and stream of one endpoint shares. */
export interface ReceiveContext {
  readonly config: EndpointConfig;
  readonly tuning: ProtocolTuning;
  readonly stats: ProtocolStats;
  readonly out: Output;
  readonly naks: NakScheduler;
  /** When this endpoint started listening (ms, the driver's clock). */
  readonly opened: { readonly atMs: number };
  /** Counts drops and limit hits (and raises the rate-limited warnings). */
  readonly limits: Limits;
  /** Reorder and reassembly bytes over all sources (the totals the tuning caps). */
  readonly totals: { reorderBytes: number; reassemblyBytes: number };
  /** Called when `totals.reorderBytes` passes the total cap: frees memory somewhere (set by the Receiver). */
  relieveTotalReorder?: (nowMs: number) => void;
}

interface LostRange {
  from: number;
  to: number;
  reason: LossReason;
}

/** How long a group-size estimate is reused (a peer's status comes every 200 ms; expiry is 5 s). */
const GROUP_SIZE_CACHE_MS = 10;

// Scratch shared by every stream: decoding is synchronous and never re-entered.
const offsets: number[] = [];
const lengths: number[] = [];
const frag: FragmentInfo = { messageBytes: 0, offset: 0, dataStart: 0, dataBytes: 0 };

export class SourceState {
  lastHeardMs: number;
  closed = false;
  readonly streams = new Map<number, StreamReceiver>();
  /** Other receivers of this source (overheard status) → last heard; the NAK back-off scales with them. */
  readonly peers = new Map<string, number>();
  statusDueMs: number;
  /** Out-of-order bytes buffered for this source (change only through chargeReorder: the total follows). */
  reorderBytes = 0;
  /** Data bytes received from this source since the last status (a status goes out every STATUS_PROGRESS_BYTES × group size). */
  progressBytes = 0;
  reassemblyBytes = 0;
  /** The source runs flow control (heartbeat flag). */
  flowControlled = false;
  /** When this receiver last sent the source a status (it is then one of the receivers the source paces to). */
  statusSentMs = -Infinity;
  /** Datagrams (DATA and HEARTBEAT) received from this session. */
  datagrams = 0;
  /**
   * Something of this source reached the application (a message or a loss
   * report, preceded by the 'source' event). Until then it is on probation: it
   * may be forgotten to make room for another source, as nothing it sent has
   * been seen, and it raises no event at all.
   */
  established = false;
  /** Forgotten to make room (source table or total memory full): everything it held was dropped. */
  discarded = false;
  /** groupSize() cached until this time (the peer map is swept when it runs). */
  private groupSizeUntilMs = -Infinity;
  private groupSizeCached = 1;

  constructor(readonly key: string, readonly hi: number, readonly lo: number, readonly info: SourceInfo, nowMs: number, private readonly ctx: ReceiveContext) {
    this.lastHeardMs = nowMs;
    this.statusDueMs = nowMs + ctx.tuning.statusSoonMs;
  }

  /** The receive state of `streamId`, created on first sight; undefined when maxStreamsPerSource are tracked already (counted). */
  stream(streamId: number): StreamReceiver | undefined {
    let s = this.streams.get(streamId);
    if (!s) {
      if (this.streams.size >= this.ctx.tuning.maxStreamsPerSource) {
        this.ctx.limits.hit('streams');
        return undefined;
      }
      s = new StreamReceiver(this, streamId, this.ctx);
      this.streams.set(streamId, s);
    }
    return s;
  }

  /** Adds `bytes` (negative: frees) to this source's reorder bytes and to the total. */
  chargeReorder(bytes: number): void {
    this.reorderBytes += bytes;
    this.ctx.totals.reorderBytes += bytes;
  }

  /** Adds `bytes` (negative: frees) to this source's reassembly bytes and to the total. */
  chargeReassembly(bytes: number): void {
    this.reassemblyBytes += bytes;
    this.ctx.totals.reassemblyBytes += bytes;
  }

  /** Another receiver of this source was heard at `nowMs` (bounded by MAX_PEERS_PER_SOURCE; false when not recorded). */
  notePeer(key: string, nowMs: number, maxPeers: number): boolean {
    if (!this.peers.has(key)) {
      if (this.peers.size >= maxPeers) return false;
      this.groupSizeUntilMs = -Infinity;
    }
    this.peers.set(key, nowMs);
    return true;
  }

  /**
   * Forgets everything this source holds without delivering or reporting any
   * of it (only for a source that never delivered anything: nothing it sent has
   * been seen, so nothing can be delivered twice if it speaks again).
   */
  discard(): void {
    this.discarded = true;
    for (const s of this.streams.values()) s.discard();
  }

  /**
   * Why data that left the source's window before we got it is lost: to flow
   * control when the source paces its receivers and we are one of them (it
   * chose to leave us behind), else to the window.
   */
  windowLossReason(nowMs: number): LossReason {
    return this.flowControlled && nowMs - this.statusSentMs < this.ctx.tuning.receiverTimeoutMs * 2 ? 'flow-control' : 'window';
  }

  /**
   * Receivers of this source we know of, self included. Swept at most every
   * GROUP_SIZE_CACHE_MS (a new peer refreshes it at once): it is asked per gap,
   * and the peer map may hold thousands of entries.
   */
  groupSize(nowMs: number): number {
    if (nowMs < this.groupSizeUntilMs && nowMs >= this.groupSizeUntilMs - GROUP_SIZE_CACHE_MS) return this.groupSizeCached;
    let n = 1;
    for (const [k, t] of this.peers) {
      if (nowMs - t >= this.ctx.tuning.peerTimeoutMs) this.peers.delete(k);
      else n++;
    }
    this.groupSizeCached = n;
    this.groupSizeUntilMs = nowMs + GROUP_SIZE_CACHE_MS;
    return n;
  }

  statusSoon(nowMs: number): void {
    const t = nowMs + this.ctx.tuning.statusSoonMs;
    if (t < this.statusDueMs) this.statusDueMs = t;
  }

  /** Something of this source is about to reach the application: it is a source now (event 'source'). */
  establish(): void {
    if (this.established) return;
    this.established = true;
    this.ctx.out.events.push({ type: 'source', source: this.info });
  }

  /** Whether some stream of this source has started (a heartbeat or a resume placed it). */
  anyStarted(): boolean {
    for (const s of this.streams.values()) if (s.started) return true;
    return false;
  }

  /** True when nothing is missing, buffered or half-built (a closed source can then be ended). */
  settled(): boolean {
    for (const s of this.streams.values()) if (!s.settled()) return false;
    return true;
  }

  freeBytes(): number {
    return Math.max(0, this.ctx.config.maxReorderBytes - this.reorderBytes);
  }

  /**
   * Enforces the reorder cap: while over it, the oldest gap of some stream is
   * given up (loss 'memory') so the data buffered behind it can be delivered.
   */
  enforceReorderCap(nowMs: number): void {
    const cap = this.ctx.config.maxReorderBytes;
    if (this.reorderBytes > cap / 2) this.statusSoon(nowMs);
    while (this.reorderBytes > cap) {
      const n = this.releaseRound(nowMs, cap);
      if (n === 0) break;
      this.ctx.limits.hit('source-reorder', n);
    }
    if (this.ctx.totals.reorderBytes > this.ctx.tuning.maxTotalReorderBytes) this.ctx.relieveTotalReorder?.(nowMs);
  }

  /**
   * One round over the streams: each gives up its oldest gap (so what is
   * buffered behind it is delivered), stopping once reorderBytes ≤ targetBytes.
   * Returns how many streams released something (0: nothing can be freed).
   */
  releaseRound(nowMs: number, targetBytes: number): number {
    let n = 0;
    for (const s of this.streams.values()) {
      if (s.releaseOldest(nowMs)) {
        n++;
        if (this.reorderBytes <= targetBytes) break;
      }
    }
    return n;
  }

  /** The source ended: everything still missing is lost ('source-gone'), buffered data delivered. */
  end(): void {
    for (const s of this.streams.values()) s.end();
  }
}

export class StreamReceiver {
  started = false;
  /** 'earliest' join: data seen before the first heartbeat told us the trail. */
  private awaitingTrail = false;
  nextDeliver = 0;
  highestNext = 0;
  readonly buffer = new ReorderBuffer();
  readonly gaps = new GapList();
  private readonly lost: LostRange[] = [];
  private reasm: Reassembly | undefined;
  /** Orphan fragments (their first fragment was lost) being skipped, reported as one loss. */
  private skip: LostRange | undefined;
  private lastLossReason: LossReason = 'memory';
  /** Just joined: fragments of a message begun before the join point are skipped silently. */
  private joinSkip = true;

  constructor(private readonly src: SourceState, readonly streamId: number, private readonly ctx: ReceiveContext) {}

  settled(): boolean {
    return this.gaps.length === 0 && this.buffer.size === 0 && this.lost.length === 0 && this.reasm === undefined;
  }

  // ------------------------------------------------------------ input

  /** A DATA datagram of this stream. Returns why its payload is malformed, or undefined when it is not. */
  onData(nowMs: number, dg: Uint8Array, h: Header): InvalidReason | undefined {
    const start = HEADER_BYTES;
    const end = HEADER_BYTES + h.payloadLength;
    const isFragment = (h.flags & DataFlag.FRAGMENT) !== 0;
    let count: number;
    if (isFragment) {
      if (!parseFragment(dg, start, end, frag)) return 'data-fragment';
      count = 1;
    } else {
      count = parsePacked(dg, start, end, offsets, lengths);
      if (count < 0) return 'data-packed';
    }
    const first = h.sequence;
    // Compared this way round: near 2^53, first + count - 1 rounds back to a safe value.
    if (count - 1 > Number.MAX_SAFE_INTEGER - first) return 'data-sequence';
    const last = first + count - 1;
    const stats = this.ctx.stats;
    if ((h.flags & DataFlag.REPAIR) !== 0) stats.repairsReceived++;

    if (!this.started) {
      // A repair answers someone else's old NAK: 'next' starts at live data only.
      if (this.ctx.config.lateJoin === 'next' && (h.flags & DataFlag.REPAIR) !== 0) return undefined;
      // Hold the data until a heartbeat (due within heartbeatMinMs) tells where the
      // window starts ('earliest') or how old the stream is ('next').
      this.awaitingTrail = true;
      this.store(dg, start, end, first, count, isFragment);
      if (last + 1 > this.highestNext) this.highestNext = last + 1;
      this.src.enforceReorderCap(nowMs);
      return undefined;
    }

    const hadGaps = this.gaps.length > 0;
    const prevHighest = this.highestNext;
    let filled = 0;
    if (last >= this.nextDeliver) {
      filled = this.gaps.remove(Math.max(first, this.nextDeliver), last);
      if (first > this.highestNext) this.addGap(this.highestNext, first - 1, nowMs);
      if (last + 1 > this.highestNext) this.highestNext = last + 1;
    }
    if (filled > 0 && first < prevHighest && (h.flags & DataFlag.REPAIR) === 0) stats.reordered++;

    if (count > 1 && !isFragment && first === this.nextDeliver && this.buffer.size === 0 && this.lost.length === 0 && this.reasm === undefined) {
      // Fast path: the next datagram in order, nothing held back: its messages go out as one event, one copy.
      this.flushSkip();
      this.joinSkip = false;
      this.src.establish();
      stats.messagesDelivered += count;
      this.ctx.out.events.push({ type: 'messages', source: this.src.info, streamId: this.streamId, firstSeq: first, count, payload: copyBytes(dg, start, end) });
      this.nextDeliver = last + 1;
      if (hadGaps && this.gaps.length === 0) this.src.statusSoon(nowMs);
      return undefined;
    }

    let copy: Buffer | undefined;
    let buffered = false;
    for (let i = 0; i < count; i++) {
      const seq = first + i;
      if (seq < this.nextDeliver || this.buffer.has(seq) || this.isLost(seq)) {
        stats.duplicates++;
        continue;
      }
      const off = isFragment ? frag.dataStart : offsets[i]!;
      const len = isFragment ? frag.dataBytes : lengths[i]!;
      if (seq === this.nextDeliver && isFragment) {
        // Copied into its message by the reassembly (or once by deliver() for a one-fragment message).
        this.deliver(seq, dg.subarray(off, off + len), false, frag.messageBytes, frag.offset);
        this.nextDeliver++;
        this.drain();
        continue;
      }
      // One private copy of the payload per datagram (the receive buffer is reused), views into it per
      // message: one allocation and one copy per datagram instead of per message.
      if (!copy) copy = copyBytes(dg, start, end);
      if (seq === this.nextDeliver) {
        this.deliver(seq, copy.subarray(off - start, off - start + len), true, -1, 0);
        this.nextDeliver++;
        this.drain();
        continue;
      }
      const data = copy.subarray(off - start, off - start + len);
      buffered = true;
      this.src.chargeReorder(this.buffer.put(seq, { data, fragTotal: isFragment ? frag.messageBytes : -1, fragOffset: isFragment ? frag.offset : 0 }));
    }
    if (buffered) this.src.enforceReorderCap(nowMs);
    if (hadGaps && this.gaps.length === 0) this.src.statusSoon(nowMs);
    return undefined;
  }

  /** Stores a datagram's messages before the join point is known ('earliest'). */
  private store(dg: Uint8Array, start: number, end: number, first: number, count: number, isFragment: boolean): void {
    const copy = Buffer.from(dg.subarray(start, end));
    for (let i = 0; i < count; i++) {
      const seq = first + i;
      if (this.buffer.has(seq)) {
        this.ctx.stats.duplicates++;
        continue;
      }
      const off = (isFragment ? frag.dataStart : offsets[i]!) - start;
      const len = isFragment ? frag.dataBytes : lengths[i]!;
      this.src.chargeReorder(this.buffer.put(seq, { data: copy.subarray(off, off + len), fragTotal: isFragment ? frag.messageBytes : -1, fragOffset: isFragment ? frag.offset : 0 }));
    }
  }

  /** The source's heartbeat entry for this stream. */
  onHeartbeat(nowMs: number, trailSeq: number, nextSeq: number, ageMs: number): void {
    if (!this.started) {
      const highest = Math.max(nextSeq, this.highestNext);
      if (this.ctx.config.lateJoin === 'earliest') this.startFromBuffer(trailSeq, highest, nowMs);
      else if (trailSeq === 0 && ageMs <= nowMs - this.ctx.opened.atMs) {
        // 'next', and the stream's first message was sent after we started listening:
        // every message of it is "next", including ones lost before this heartbeat.
        this.startFromBuffer(0, highest, nowMs);
      } else {
        const lowest = this.buffer.lowest();
        if (lowest !== undefined) this.startFromBuffer(lowest, highest, nowMs);
        else this.startAt(nextSeq, nowMs);
      }
      this.drain();
      return;
    }
    if (nextSeq > this.highestNext) {
      this.addGap(this.highestNext, nextSeq - 1, nowMs);
      this.highestNext = nextSeq;
    }
    if (trailSeq > this.nextDeliver) this.giveUp(this.nextDeliver, trailSeq - 1, this.src.windowLossReason(nowMs));
  }

  /** An NCF from the source: a repair is coming (suppress our NAK) or the ranges are gone. */
  onNcf(nowMs: number, reason: LossReason | undefined, ranges: readonly SeqRange[]): void {
    if (!this.started) return;
    for (const r of ranges) {
      if (reason === undefined) this.ctx.stats.naksSuppressed += this.ctx.naks.suppress(this.gaps, r.from, r.to, nowMs);
      else if (r.to >= this.nextDeliver) this.giveUp(Math.max(r.from, this.nextDeliver), r.to, reason);
    }
  }

  /** Another receiver's NAK for this stream: ours for the same ranges is not needed. */
  onOverheardNak(nowMs: number, ranges: readonly SeqRange[]): void {
    if (!this.started) return;
    for (const r of ranges) this.ctx.stats.naksSuppressed += this.ctx.naks.suppress(this.gaps, r.from, r.to, nowMs);
  }

  /** Runs NAK timers: ranges to NAK now go to `nak`; exhausted gaps become loss 'retries'. */
  runTimers(nowMs: number, groupSize: number, nak: SeqRange[]): void {
    if (this.gaps.length === 0) return;
    const giveUp: SeqRange[] = [];
    this.ctx.naks.run(this.gaps, nowMs, groupSize, nak, giveUp);
    if (giveUp.length > 0) {
      for (const r of giveUp) this.addLost(r.from, r.to, 'retries');
      this.drain();
    }
  }

  nextDueMs(): number | undefined {
    return this.gaps.length === 0 ? undefined : this.gaps.nextDueMs();
  }

  /** Gives up the oldest gap to free buffered data (reorder cap). Returns false when nothing can be freed. */
  releaseOldest(nowMs: number): boolean {
    if (this.awaitingTrail && this.buffer.size > 0) {
      // Cannot wait for the trail any longer: start at what we have.
      const lowest = this.buffer.lowest()!;
      this.startFromBuffer(lowest, this.highestNext, nowMs);
      this.drain();
      return true;
    }
    if (this.buffer.size === 0 || this.gaps.length === 0) return false;
    const g = this.gaps.gaps[0]!;
    this.giveUp(g.from, g.to, 'memory');
    return true;
  }

  end(): void {
    if (this.awaitingTrail && this.buffer.size > 0) {
      const lowest = this.buffer.lowest()!;
      this.startFromBuffer(lowest, this.highestNext, 0);
    }
    for (const g of this.gaps.take(this.nextDeliver, Number.MAX_SAFE_INTEGER)) this.addLost(g.from, g.to, 'source-gone');
    this.drain();
    this.flushSkip();
    if (this.reasm) {
      const r = this.reasm;
      this.dropReassembly();
      this.emitLoss(r.firstSeq, this.nextDeliver - 1, 'source-gone');
    }
    this.src.chargeReorder(-this.buffer.clear());
  }

  /** Drops everything held, delivering and reporting nothing (see SourceState.discard). */
  discard(): void {
    this.src.chargeReorder(-this.buffer.clear());
    this.dropReassembly();
    this.gaps.gaps.length = 0;
    this.lost.length = 0;
    this.skip = undefined;
  }

  // ------------------------------------------------------------ state changes

  /** A source back after a timeout: everything below `seq` was delivered or reported lost already. */
  resumeAt(seq: number, nowMs: number): void {
    if (!this.started) this.startAt(seq, nowMs);
  }

  private startAt(seq: number, nowMs: number): void {
    this.started = true;
    // Report at once: until a stream has started a status has nothing to say, so
    // the first one (due statusSoonMs after the source appeared) may have been skipped.
    this.src.statusSoon(nowMs);
    this.nextDeliver = seq;
    this.highestNext = seq;
    this.joinSkip = true;
  }

  /** Starts at `fromSeq` with what is buffered; everything else up to `highestNext` is a gap to NAK. */
  private startFromBuffer(fromSeq: number, highestNext: number, nowMs: number): void {
    this.started = true;
    this.src.statusSoon(nowMs);
    this.awaitingTrail = false;
    this.joinSkip = true;
    this.src.chargeReorder(-this.buffer.dropBelow(fromSeq));
    this.nextDeliver = fromSeq;
    this.highestNext = Math.max(fromSeq, highestNext);
    const keys = this.buffer.keys().filter((k) => k < this.highestNext).sort((a, b) => a - b);
    let cursor = fromSeq;
    for (const k of keys) {
      if (k > cursor) this.addGap(cursor, k - 1, nowMs);
      cursor = k + 1;
    }
    if (cursor < this.highestNext) this.addGap(cursor, this.highestNext - 1, nowMs);
  }

  private addGap(from: number, to: number, nowMs: number): void {
    if (this.gaps.length >= MAX_GAPS_PER_STREAM) {
      // Only a sender skipping sequence numbers (or a forger) makes this many: the oldest goes.
      const oldest = this.gaps.gaps[0]!;
      this.ctx.limits.hit('gaps');
      this.giveUp(oldest.from, oldest.to, 'memory');
    }
    this.gaps.add(from, to, GapState.BACKOFF, nowMs + this.ctx.naks.backoffMs(this.src.groupSize(nowMs)));
  }

  /** Declares the missing parts of [from, to] lost and delivers what follows them. */
  private giveUp(from: number, to: number, reason: LossReason): void {
    const taken = this.gaps.take(from, to);
    if (taken.length === 0) return;
    for (const r of taken) this.addLost(r.from, r.to, reason);
    this.drain();
  }

  private addLost(from: number, to: number, reason: LossReason): void {
    const l = this.lost;
    const r: LostRange = { from, to, reason };
    if (l.length === 0 || l[l.length - 1]!.from < from) l.push(r);
    else {
      let i = l.length;
      while (i > 0 && l[i - 1]!.from > from) i--;
      l.splice(i, 0, r);
    }
  }

  private isLost(seq: number): boolean {
    const l = this.lost;
    if (l.length === 0 || seq < l[0]!.from) return false;
    for (const r of l) if (seq >= r.from && seq <= r.to) return true;
    return false;
  }

  // ------------------------------------------------------------ delivery

  /** Delivers everything now contiguous: buffered messages and loss events, in order. */
  private drain(): void {
    for (;;) {
      const l = this.lost[0];
      if (l !== undefined && l.from <= this.nextDeliver) {
        this.lost.shift();
        if (l.to >= this.nextDeliver) {
          this.emitLoss(this.nextDeliver, l.to, l.reason);
          this.nextDeliver = l.to + 1;
        }
        continue;
      }
      if (this.buffer.size === 0) return;
      const item = this.buffer.take(this.nextDeliver);
      if (item === undefined) return;
      this.src.chargeReorder(-(item.data.length + BUFFERED_ITEM_OVERHEAD_BYTES));
      this.deliver(this.nextDeliver, item.data, true, item.fragTotal, item.fragOffset);
      this.nextDeliver++;
    }
  }

  /** Hands one message or fragment, in sequence order, to the application or the reassembly. */
  private deliver(seq: number, data: Uint8Array, owned: boolean, fragTotal: number, fragOffset: number): void {
    if (fragTotal < 0) {
      if (this.reasm) this.badFragment(seq);
      this.flushSkip();
      this.joinSkip = false;
      this.emitMessage(seq, owned ? (data as Buffer) : Buffer.from(data));
      return;
    }
    if (fragOffset === 0) {
      if (this.reasm) this.badFragment(seq);
      this.flushSkip();
      this.joinSkip = false;
      if (data.length === fragTotal) {
        this.emitMessage(seq, owned ? (data as Buffer) : Buffer.from(data));
        return;
      }
      const overSource = this.src.reassemblyBytes + fragTotal > this.ctx.config.maxReassemblyBytes;
      const overTotal = !overSource && this.ctx.totals.reassemblyBytes + fragTotal > this.ctx.tuning.maxTotalReassemblyBytes;
      if (overSource || overTotal) this.ctx.limits.hit(overSource ? 'source-reassembly' : 'total-reassembly');
      this.reasm = new Reassembly(seq, fragTotal, overSource || overTotal ? undefined : Buffer.allocUnsafe(fragTotal));
      this.src.chargeReassembly(this.reasm.chargedBytes);
      this.reasm.append(data);
      return;
    }
    const r = this.reasm;
    if (r) {
      if (!r.continues(fragTotal, fragOffset)) {
        this.badFragment(seq);
        this.orphan(seq);
        return;
      }
      r.append(data);
      if (r.complete) {
        this.dropReassembly();
        if (r.buf) this.emitMessage(r.firstSeq, r.buf);
        else this.emitLoss(r.firstSeq, seq, 'memory');
      }
      return;
    }
    this.orphan(seq);
  }

  /** A continuation fragment whose message start was lost (or precedes the join point). */
  private orphan(seq: number): void {
    if (this.joinSkip) return;
    if (this.skip && this.skip.to + 1 === seq) this.skip.to = seq;
    else {
      this.flushSkip();
      this.skip = { from: seq, to: seq, reason: this.lastLossReason };
    }
  }

  /** Fragments that do not fit their message (only a broken sender does this): the partial message is lost. */
  private badFragment(seq: number): void {
    this.ctx.limits.invalid('fragment-mismatch');
    const r = this.reasm!;
    this.dropReassembly();
    this.emitLoss(r.firstSeq, seq - 1, 'memory');
  }

  private dropReassembly(): void {
    if (!this.reasm) return;
    this.src.chargeReassembly(-this.reasm.chargedBytes);
    this.reasm = undefined;
  }

  private flushSkip(): void {
    const s = this.skip;
    if (!s) return;
    this.skip = undefined;
    this.emitLoss(s.from, s.to, s.reason);
  }

  private emitMessage(seq: number, data: Buffer): void {
    this.src.establish();
    this.ctx.stats.messagesDelivered++;
    this.ctx.out.events.push({ type: 'message', source: this.src.info, streamId: this.streamId, seq, data });
  }

  /** Emits a loss event; a message half-built when its rest is lost is included from its first fragment. */
  private emitLoss(from: number, to: number, reason: LossReason): void {
    this.flushSkip();
    if (this.reasm && this.reasm.firstSeq < from) {
      from = this.reasm.firstSeq;
      this.dropReassembly();
    }
    this.lastLossReason = reason;
    this.joinSkip = false;
    this.src.establish();
    const stats = this.ctx.stats;
    stats.lossesDeclared++;
    stats.messagesLost += to - from + 1;
    this.ctx.out.events.push({ type: 'loss', source: this.src.info, streamId: this.streamId, fromSeq: from, toSeq: to, reason });
  }
}
