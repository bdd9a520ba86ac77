/**
 * Receive state of one (source, stream): where delivery stands, what is
 * missing (gaps, NAKed by the source's timers), what is buffered out of
 * order, the message being reassembled, and the ordered delivery of messages
 * and loss events.
 *
 * Every sequence number from the join point on ends up exactly once either in
 * a 'message' or 'messages' event (as part of its message) or in a 'loss'
 * event, in sequence order.
 */

import { MAX_GAPS_PER_STREAM } from './constants';
import { HEADER_BYTES, type Header } from '../wire/header';
import type { InvalidReason, LossReason } from './api';
import { GapList, GapState } from './loss-detector';
import { copyBytes } from '../util/slab';
import { PackedView } from './packed-view';
import { DataFlag, PACKED_PREFIX_BYTES, parseFragment, parsePacked, type FragmentInfo, type SeqRange } from './payload';
import { Reassembly } from './reassembly';
import type { ReceiveContext } from './receive-context';
import { ReorderBuffer, singleItem, type BufferedItem } from './reorder-buffer';
import type { SourceState } from './source';

interface LostRange {
  from: number;
  to: number;
  reason: LossReason;
}

// Scratch shared by every stream: decoding is synchronous and never re-entered.
const offsets: number[] = [];
const lengths: number[] = [];
const frag: FragmentInfo = { messageBytes: 0, offset: 0, dataStart: 0, dataBytes: 0 };

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
    const src = this.src;
    src.bytesReceived += h.payloadLength;
    if ((h.flags & DataFlag.REPAIR) !== 0) {
      stats.repairsReceived++;
      src.repairsReceived++;
    }

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
    if (filled > 0) {
      if ((h.flags & DataFlag.REPAIR) !== 0) {
        src.noteRepairLatency(nowMs - this.gaps.filledOpenedMs);
        if (this.gaps.filledNakMs >= 0) src.noteRepairRtt(nowMs - this.gaps.filledNakMs);
      }
      else if (first < prevHighest) stats.reordered++;
    }

    if (count > 1 && !isFragment && first === this.nextDeliver && this.buffer.size === 0 && this.lost.length === 0 && this.reasm === undefined) {
      // Fast path: the next datagram in order, nothing held back: its messages go out as one event, one copy.
      this.flushSkip();
      this.joinSkip = false;
      this.src.establish();
      stats.messagesDelivered += count;
      src.messagesDelivered += count;
      this.ctx.out.events.push({ type: 'messages', source: this.src.info, streamId: this.streamId, firstSeq: first, count, payload: copyBytes(dg, start, end) });
      this.nextDeliver = last + 1;
      if (hadGaps && this.gaps.length === 0) this.src.statusSoon(nowMs);
      return undefined;
    }

    if (count > 1 && !isFragment && first > this.nextDeliver && this.storeRun(dg, start, end, first, count)) {
      this.src.enforceReorderCap(nowMs);
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
      this.src.chargeReorder(this.buffer.put(seq, singleItem(data, isFragment ? frag.messageBytes : -1, isFragment ? frag.offset : 0)));
    }
    if (buffered) this.src.enforceReorderCap(nowMs);
    if (hadGaps && this.gaps.length === 0) this.src.statusSoon(nowMs);
    return undefined;
  }

  /**
   * Buffers a whole packed datagram ahead of a gap as one run (one copy, one
   * item, delivered later as one batch) when none of its messages is here,
   * delivered or declared lost yet; false (nothing stored) otherwise.
   */
  private storeRun(dg: Uint8Array, start: number, end: number, first: number, count: number): boolean {
    for (let seq = first; seq < first + count; seq++) if (this.buffer.has(seq) || this.isLost(seq)) return false;
    const item: BufferedItem = { data: copyBytes(dg, start, end), fragTotal: -1, fragOffset: 0, count, first, left: count };
    const charged = this.buffer.putRun(item);
    if (charged < 0) return false;
    this.src.chargeReorder(charged);
    return true;
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
      this.src.chargeReorder(this.buffer.put(seq, singleItem(copy.subarray(off, off + len), isFragment ? frag.messageBytes : -1, isFragment ? frag.offset : 0)));
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
    if (reason === undefined) {
      this.suppress(nowMs, ranges);
      return;
    }
    for (const r of ranges) if (r.to >= this.nextDeliver) this.giveUp(Math.max(r.from, this.nextDeliver), r.to, reason);
  }

  /** Another receiver's NAK for this stream: ours for the same ranges is not needed. */
  onOverheardNak(nowMs: number, ranges: readonly SeqRange[]): void {
    if (!this.started) return;
    this.suppress(nowMs, ranges);
  }

  /** A NAK or a repair for `ranges` is on its way: their gaps wait for the repair instead of NAKing. */
  private suppress(nowMs: number, ranges: readonly SeqRange[]): void {
    if (this.gaps.length === 0) return;
    const baseMs = this.src.repairWaitBaseMs(nowMs);
    for (const r of ranges) this.ctx.stats.naksSuppressed += this.ctx.naks.suppress(this.gaps, r.from, r.to, nowMs, baseMs);
    // A gap now waits at least the first repair wait (the wait grows with its retries): a lower bound is enough for the heap.
    this.src.dueBy(nowMs + this.ctx.naks.repairWaitMs(1, baseMs));
  }

  /** Runs NAK timers: ranges to NAK now go to `nak`; exhausted gaps become loss 'retries'. */
  runTimers(nowMs: number, groupSize: number, nak: SeqRange[]): void {
    if (this.gaps.length === 0) return;
    const giveUp: SeqRange[] = [];
    this.ctx.naks.run(this.gaps, nowMs, groupSize, nak, giveUp, this.src.repairWaitBaseMs(nowMs));
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
    const dueMs = nowMs + this.ctx.naks.backoffMs(this.src.groupSize(nowMs));
    this.gaps.add(from, to, GapState.BACKOFF, dueMs, nowMs);
    this.src.dueBy(dueMs);
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
      const seq = this.nextDeliver;
      const item = this.buffer.take(seq);
      if (item === undefined) return;
      if (this.buffer.lastFreed !== 0) this.src.chargeReorder(-this.buffer.lastFreed);
      if (item.count > 1) {
        this.deliverRun(item, seq);
        continue;
      }
      this.deliver(seq, item.data, true, item.fragTotal, item.fragOffset);
      this.nextDeliver++;
    }
  }

  /** Delivers the messages of a buffered run from `seq` on (all of them, unless part was dropped) as one batch. */
  private deliverRun(item: BufferedItem, seq: number): void {
    if (this.reasm) this.badFragment(seq);
    this.flushSkip();
    this.joinSkip = false;
    this.src.establish();
    const skip = seq - item.first;
    const count = item.count - skip;
    const payload = skip === 0 ? item.data : item.data.subarray(new PackedView(item.data, item.count).offset(skip) - PACKED_PREFIX_BYTES);
    this.ctx.stats.messagesDelivered += count;
    this.src.messagesDelivered += count;
    this.ctx.out.events.push({ type: 'messages', source: this.src.info, streamId: this.streamId, firstSeq: seq, count, payload });
    this.nextDeliver = seq + count;
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
    this.src.messagesDelivered++;
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
    this.src.lossesDeclared++;
    this.src.messagesLost += to - from + 1;
    this.ctx.out.events.push({ type: 'loss', source: this.src.info, streamId: this.streamId, fromSeq: from, toSeq: to, reason });
  }
}
