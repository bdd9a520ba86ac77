/**
 * Answers NAKs: every window datagram overlapping a NAKed range is queued
 * once for a multicast repair. A datagram repaired less than `lingerMs` ago
 * is not queued again (the NAKs of a burst that crossed the repair on the
 * wire would otherwise resend it once per receiver), and repairs are paced
 * by a byte-rate cap. Ranges below the window's trail are answered with an
 * NCF saying they are gone; ranges queued for repair with an NCF saying the
 * repair is coming (it suppresses other receivers' NAKs while the repair
 * queue drains).
 *
 * Against NAK floods (docs/protocol.md, "Limits"): at most REPAIR_BACKLOG_MS
 * of the repair rate is queued at once and one NAK examines at most
 * MAX_REPAIR_SCAN_PER_NAK window datagrams; what does not fit is neither
 * queued nor confirmed, so a receiver that really needs it NAKs again.
 */

import { MAX_REPAIR_SCAN_PER_NAK, REPAIR_BACKLOG_MS, REPAIR_SCAN_CHARGE_BYTES, REPAIR_SHARE_MIN_BYTES } from './constants';

import { datagramChecksum } from '../wire/checksum';
import { CRC_OFFSET, HEADER_BYTES } from '../wire/header';
import { DataFlag, NcfReason, writeU32, type SeqRange } from './payload';
import type { SendWindow, WindowEntry } from './send-window';
import type { Limits } from './limits';
import { TokenBucket } from './token-bucket';
import { Fifo } from '../util/fifo';

/** What one NAK produced: ranges to confirm with NCFs, by reason. */
export interface NakOutcome {
  repairing: SeqRange[];
  unavailable: SeqRange[];
  /** Datagrams this NAK queued for repair. */
  queued: number;
}

export class RepairQueue {
  private readonly queue = new Fifo<WindowEntry>();
  private readonly bucket: TokenBucket | undefined;
  /** Bytes of the queued repairs. */
  private queuedBytes = 0;
  /** Most bytes queued at once (Infinity without a repair rate: the window bounds the queue). */
  private readonly backlogBytes: number;
  /** Share a NAKing session must have left for its NAK to be examined. */
  private readonly shareMinBytes: number;
  /** The head repair that was last found waiting for the budget (each repair is counted once). */
  private waitingHead: WindowEntry | undefined;

  constructor(
    private readonly window: SendWindow,
    private readonly lingerMs: number,
    maxDatagramBytes: number,
    rateBytesPerSec: number | undefined,
    burstBytes: number,
    private readonly limits: Limits,
    /** Whether datagrams carry the header CRC (EndpointConfig.checksum): a repair's changed flags change it. */
    private readonly checksum: boolean,
  ) {
    this.bucket = rateBytesPerSec === undefined ? undefined : new TokenBucket(rateBytesPerSec, burstBytes);
    this.backlogBytes = rateBytesPerSec === undefined ? Infinity : Math.max(2 * maxDatagramBytes, (rateBytesPerSec * REPAIR_BACKLOG_MS) / 1000);
    this.shareMinBytes = Math.min(REPAIR_SHARE_MIN_BYTES, this.backlogBytes);
  }

  get length(): number {
    return this.queue.length;
  }

  /** Bytes a session may queue at once: REPAIR_BACKLOG_MS of the repair rate. */
  get backlogLimitBytes(): number {
    return this.backlogBytes;
  }

  /**
   * Queues repairs for the NAKed `ranges` of `streamId`, within the NAKing
   * session's `share` of the repair budget; returns what to confirm.
   */
  onNak(nowMs: number, streamId: number, ranges: readonly SeqRange[], share?: TokenBucket, asker?: object): NakOutcome {
    const out: NakOutcome = { repairing: [], unavailable: [], queued: 0 };
    const s = this.window.streams.get(streamId);
    if (!s) return out;
    const trail = Math.min(s.trailSeq, s.sentNextSeq);
    let scanned = 0;
    // A session that used up its share gets no scan of the window (a NAK flood costs a bucket check per NAK).
    let full = share !== undefined && !share.canSpend(nowMs, this.shareMinBytes);
    if (full) this.limits.hit('repair-share');
    for (const r of ranges) {
      if (r.from < trail) addRange(out.unavailable, r.from, Math.min(r.to, trail - 1));
      if (full) continue;
      const from = Math.max(r.from, trail);
      const to = Math.min(r.to, s.sentNextSeq - 1);
      if (from > to) continue;
      const found = s.find(from);
      if (!found) continue;
      for (let i = found.index; i < s.entries.length; i++) {
        const e = s.entries.at(i);
        if (e.firstSeq > to || !e.sent) break;
        // The linger swallows other receivers' NAKs that crossed the repair; the receiver that asked for it asks again only when it was lost.
        const skip = e.repairQueued || (nowMs - e.lastRepairMs < this.lingerMs && (asker === undefined || e.lastRepairAsker !== asker));
        if (++scanned > MAX_REPAIR_SCAN_PER_NAK || (!skip && this.queuedBytes + e.datagram.length > this.backlogBytes)) {
          // The rest of this NAK is neither queued nor confirmed: a receiver that needs it asks again.
          full = true;
          this.limits.hit('repair-backlog');
          break;
        }
        if (skip) continue;
        if (share !== undefined) {
          if (!share.canSpend(nowMs, e.datagram.length)) {
            full = true;
            this.limits.hit('repair-share');
            break;
          }
          share.spend(e.datagram.length);
        }
        e.repairQueued = true;
        e.lastRepairAsker = asker;
        this.queue.push(e);
        this.queuedBytes += e.datagram.length;
        out.queued++;
        addRange(out.repairing, e.firstSeq, e.firstSeq + e.count - 1);
      }
    }
    share?.spend(scanned * REPAIR_SCAN_CHARGE_BYTES);
    return out;
  }

  /** True when a queued repair may go now (rate cap permitting). */
  ready(nowMs: number): boolean {
    this.skipEvicted();
    const e = this.queue.peek();
    if (!e) return false;
    if (this.bucket === undefined || this.bucket.canSpend(nowMs, e.datagram.length)) return true;
    if (this.waitingHead !== e) {
      // New data goes out meanwhile; the repair waits for the budget.
      this.waitingHead = e;
      this.limits.hit('repair-rate');
    }
    return false;
  }

  /** When the head repair becomes affordable, or undefined when the queue is empty. */
  readyAtMs(nowMs: number): number | undefined {
    this.skipEvicted();
    const e = this.queue.peek();
    if (!e) return undefined;
    return this.bucket === undefined ? nowMs : this.bucket.readyAtMs(nowMs, e.datagram.length);
  }

  /** Size of the head repair (call after ready() or a defined readyAtMs()). */
  headBytes(): number {
    return this.queue.peek()!.datagram.length;
  }

  /** Takes the head repair (call after ready()): the datagram with the REPAIR flag, valid until the next call. */
  take(nowMs: number): Uint8Array {
    const e = this.queue.shift()!;
    e.repairQueued = false;
    e.lastRepairMs = nowMs;
    const n = e.datagram.length;
    this.queuedBytes -= n;
    this.bucket?.spend(n);
    // A copy of its own (repairs are rare): the window keeps the original, and the
    // driver may hold what pollTransmit returns until the socket takes it.
    const b = Buffer.allocUnsafe(n);
    e.datagram.copy(b, 0, 0, n);
    b[4] = b[4]! | DataFlag.REPAIR;
    if (this.checksum) writeU32(b, CRC_OFFSET, datagramChecksum(b, 0, n - HEADER_BYTES));
    return b;
  }

  private skipEvicted(): void {
    for (let e = this.queue.peek(); e !== undefined && e.evicted; e = this.queue.peek()) {
      this.queue.shift();
      e.repairQueued = false;
      this.queuedBytes -= e.datagram.length;
    }
  }
}

/** Appends [from, to] to sorted `ranges`, merging with the last one when adjacent. */
export function addRange(ranges: SeqRange[], from: number, to: number): void {
  const last = ranges[ranges.length - 1];
  if (last && from >= last.from && from <= last.to + 1) {
    if (to > last.to) last.to = to;
    return;
  }
  ranges.push({ from, to });
}

export { NcfReason };
