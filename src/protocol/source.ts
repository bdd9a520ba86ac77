/**
 * Receive state of one source (a sender session heard on the group): when it
 * was last heard, its peers (the group size its NAK back-off scales with),
 * its status schedule, the memory it holds, and its streams (each a
 * {@link StreamReceiver}, stream-receiver.ts).
 */

import type { LossReason, SourceInfo } from './api';
import type { ReceiveContext } from './receive-context';
import { StreamReceiver } from './stream-receiver';
import type { TimerEntry } from './timer-heap';
import { NAK_REPAIR_WAIT_MIN_MS } from './constants';

/** How long a group-size estimate is reused (a peer's status comes every 200 ms; expiry is 5 s). */
const GROUP_SIZE_CACHE_MS = 10;

export class SourceState implements TimerEntry {
  lastHeardMs: number;
  /** When this source was first heard (its health counters count from here). */
  readonly firstHeardMs: number;
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
  /** Health counters of this source (SourceHealth, docs/protocol.md "STATUS"): data payload bytes, repairs, messages delivered and lost, NAKs sent. */
  bytesReceived = 0;
  repairsReceived = 0;
  messagesDelivered = 0;
  lossesDeclared = 0;
  messagesLost = 0;
  naksSent = 0;
  /** Smoothed time from noticing a gap to the repair that filled it, ms (NaN before the first). */
  repairLatencyMs = Number.NaN;
  /** Repairs that filled a gap (the samples of repairLatencyMs). */
  repairsTimed = 0;
  /** Smoothed time from this receiver's NAK to the repair it asked for, and its mean deviation, ms (NaN before the first). */
  repairRttMs = Number.NaN;
  repairRttVarMs = 0;
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
  timerAtMs = Infinity;
  timerSlot = -1;
  timerOrder = 0;

  constructor(readonly key: string, readonly hi: number, readonly lo: number, readonly info: SourceInfo, nowMs: number, private readonly ctx: ReceiveContext) {
    this.lastHeardMs = nowMs;
    this.firstHeardMs = nowMs;
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

  /**
   * A repair arrived `ms` after this receiver's first NAK for it (one NAK
   * only: Karn's rule). Smoothed like TCP's SRTT and RTTVAR (RFC 6298); the
   * repair wait follows it ({@link repairWaitBaseMs}).
   */
  noteRepairRtt(ms: number): void {
    if (!(ms >= 0)) return;
    if (Number.isNaN(this.repairRttMs)) {
      this.repairRttMs = ms;
      this.repairRttVarMs = ms / 2;
    } else {
      this.repairRttVarMs += (Math.abs(this.repairRttMs - ms) - this.repairRttVarMs) / 4;
      this.repairRttMs += (ms - this.repairRttMs) / 8;
    }
  }

  /**
   * The first wait for a repair after a NAK. For a receiver alone with this
   * source that has timed a repair of its own: SRTT + 4 × RTTVAR of its
   * NAK-to-repair times, within [NAK_REPAIR_WAIT_MIN_MS, nakRepairWaitMs].
   * Otherwise nakRepairWaitMs: with other receivers, the sender's linger
   * (repairLingerMs) swallows a NAK that follows another receiver's repair
   * closely, so a shorter wait would only spend the retries.
   */
  repairWaitBaseMs(nowMs: number): number {
    const max = this.ctx.tuning.nakRepairWaitMs;
    if (Number.isNaN(this.repairRttMs) || (this.peers.size > 0 && this.groupSize(nowMs) > 1)) return max;
    return Math.min(max, Math.max(NAK_REPAIR_WAIT_MIN_MS, this.repairRttMs + 4 * this.repairRttVarMs));
  }

  /** A repair filled a gap noticed `ms` ago: folded into the smoothed repair latency (weight 1/8, like TCP's SRTT). */
  noteRepairLatency(ms: number): void {
    if (!(ms >= 0)) return;
    this.repairsTimed++;
    this.repairLatencyMs = Number.isNaN(this.repairLatencyMs) ? ms : this.repairLatencyMs + (ms - this.repairLatencyMs) / 8;
  }

  /** Gaps open over all streams (ranges waiting for repair). */
  gapsOpen(): number {
    let n = 0;
    for (const s of this.streams.values()) n += s.gaps.length;
    return n;
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
    if (t < this.statusDueMs) {
      this.statusDueMs = t;
      this.dueBy(t);
    }
  }

  /** When this source's next timer is due (ms): its status, its timeout, or a NAK timer of one of its streams. */
  nextDueMs(): number {
    let t = Math.min(this.statusDueMs, this.lastHeardMs + this.ctx.tuning.sourceTimeoutMs);
    for (const s of this.streams.values()) {
      const d = s.nextDueMs();
      if (d !== undefined && d < t) t = d;
    }
    return t;
  }

  /**
   * A timer of this source may now be due as early as `atMs`: its key in the
   * receiver's timer heap must not be later (timer-heap.ts). Every change
   * that can make {@link nextDueMs} earlier calls this.
   */
  dueBy(atMs: number): void {
    if (atMs < this.timerAtMs) this.ctx.timers.update(this, atMs);
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

  /**
   * What this receiver can still take from the source, bytes: the room left
   * in its reorder buffer, and in the application's read budget (shared by
   * all sources), whichever is less. A 'min' sender transmits no more than
   * this beyond our acknowledgement.
   */
  freeBytes(): number {
    const reorder = this.ctx.config.maxReorderBytes - this.reorderBytes;
    const read = (this.ctx.config.readBudgetBytes ?? Infinity) - this.ctx.totals.readBacklogBytes;
    return Math.max(0, Math.min(reorder, read));
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
