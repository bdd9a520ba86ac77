/**
 * A sender's graceful close (docs/protocol.md, "Close"): when the end of the
 * session is announced, when the sender may call itself done, and when it
 * gives up — plus the record of which receivers got everything, for the
 * outcome. Pure bookkeeping over `nowMs`; the sender (sender.ts) feeds it.
 *
 * The rule: everything written is transmitted first (however long the rate
 * limit or flow control makes that take); then heartbeats carry CLOSED; the
 * sender is done when every receiver it knows has acknowledged everything,
 * AND no NAK or asking status has reached it for `quietMs`, AND the discovery
 * time since its first transmission has passed. Any receiver progress (an
 * acknowledgement that advances, a new receiver, a datagram transmitted)
 * restarts the `lingerMs` clock; when it runs out, receivers still owed
 * something are given up ('linger') and the close ends.
 */

import { MAX_CLOSE_REPORT_RECEIVERS, RECEIVER_DISCOVERY_INTERVALS } from './constants';
import type { CloseOutcome, ReceiverDropReason, SourceInfo, UnflushedReceiver } from './api';

/** First statuses later than this many status intervals after the first transmission are late joiners, not a measure of the group's delay. */
const DISCOVERY_SAMPLE_INTERVALS = 10;

export class CloseTracker {
  /** Heartbeats say CLOSED from now on (everything written has been transmitted). */
  announced = false;
  /** Defined once the close has ended. */
  outcome: CloseOutcome | undefined;
  private announcedMs = Infinity;
  private lastNewsMs = -Infinity;
  private lastProgressMs: number;

  constructor(
    private readonly startedMs: number,
    readonly lingerMs: number,
    private readonly quietMs: number,
    private readonly discoveryUntilMs: number,
  ) {
    this.lastProgressMs = startedMs;
  }

  /** A NAK, or a status from a new receiver or one still missing something: the quiet period starts again. */
  onNews(nowMs: number): void {
    if (nowMs > this.lastNewsMs) this.lastNewsMs = nowMs;
  }

  /** A receiver advanced, appeared or went, or data was transmitted: the linger clock starts again. */
  onProgress(nowMs: number): void {
    if (nowMs > this.lastProgressMs) this.lastProgressMs = nowMs;
  }

  announce(nowMs: number): void {
    if (this.announced) return;
    this.announced = true;
    this.announcedMs = nowMs;
  }

  /** Nothing moved for lingerMs. The same sum as nextDueMs: `now - last >= linger` can be false at the very time it names (floating point), and the close would wake at that time forever. */
  stalled(nowMs: number): boolean {
    return nowMs >= this.lastProgressMs + this.lingerMs;
  }

  /** The end is announced, nobody asked for anything for quietMs, and receivers had time to make themselves known. */
  confident(nowMs: number): boolean {
    return this.announced && nowMs >= this.quietUntilMs() && nowMs >= this.discoveryUntilMs;
  }

  private quietUntilMs(): number {
    return Math.max(this.announcedMs, this.lastNewsMs) + this.quietMs;
  }

  /** When the close should look again after `nowMs`: quiet and discovery over (if still ahead), or linger out. */
  nextDueMs(nowMs: number): number {
    const lingerAtMs = this.lastProgressMs + this.lingerMs;
    if (!this.announced) return lingerAtMs;
    const confidentAtMs = Math.max(this.quietUntilMs(), this.discoveryUntilMs);
    // Once past, confidence waits for acknowledgements (a status runs a turn), not for a timer.
    return confidentAtMs > nowMs ? Math.min(lingerAtMs, confidentAtMs) : lingerAtMs;
  }

  finish(nowMs: number, receivers: Omit<CloseOutcome, 'datagramsUnsent' | 'durationMs'>, datagramsUnsent: number): void {
    this.outcome = { ...receivers, datagramsUnsent, durationMs: nowMs - this.startedMs };
  }
}

/**
 * Every receiver a sender has heard, by its latest verdict: acknowledged
 * everything, given up, or left first. Bounded: each map keeps at most
 * MAX_CLOSE_REPORT_RECEIVERS receivers by name, the counts go on.
 */
export class ReceiverHistory {
  private readonly flushed = new Map<string, SourceInfo>();
  private readonly givenUp = new Map<string, UnflushedReceiver>();
  private readonly left = new Map<string, UnflushedReceiver>();
  private flushedBeyond = 0;
  private givenUpBeyond = 0;
  private leftBeyond = 0;
  /** The slowest first status of a receiver present from the start, ms after the first transmission. */
  private firstStatusDelayMs = 0;

  /** A receiver's first status arrived (`firstSentMs`: the sender's first transmission, NaN before). */
  noteFirstStatus(nowMs: number, firstSentMs: number, statusIntervalMs: number): void {
    const delayMs = nowMs - firstSentMs;
    if (!(delayMs >= 0) || delayMs > DISCOVERY_SAMPLE_INTERVALS * statusIntervalMs) return;
    if (delayMs > this.firstStatusDelayMs) this.firstStatusDelayMs = delayMs;
  }

  /**
   * The earliest a close may end: RECEIVER_DISCOVERY_INTERVALS status
   * intervals, or twice the slowest first status measured, after the first
   * transmission (never more than lingerMs away).
   */
  discoveryUntilMs(firstSentMs: number, statusIntervalMs: number, lingerMs: number): number {
    if (Number.isNaN(firstSentMs)) return -Infinity;
    const span = Math.min(lingerMs, Math.max(RECEIVER_DISCOVERY_INTERVALS * statusIntervalMs, 2 * this.firstStatusDelayMs));
    return firstSentMs + span;
  }

  /** The sender stopped tracking `info` with `missing` sequence numbers unacknowledged: its verdict (the latest one counts). */
  noteGone(info: SourceInfo, reason: ReceiverDropReason, missing: number): void {
    const id = info.id;
    this.flushed.delete(id);
    this.givenUp.delete(id);
    this.left.delete(id);
    if (missing === 0) {
      if (this.flushed.size < MAX_CLOSE_REPORT_RECEIVERS) this.flushed.set(id, info);
      else this.flushedBeyond++;
    } else if (reason === 'left') {
      if (this.left.size < MAX_CLOSE_REPORT_RECEIVERS) this.left.set(id, { receiver: info, reason, missing });
      else this.leftBeyond++;
    } else if (this.givenUp.size < MAX_CLOSE_REPORT_RECEIVERS) this.givenUp.set(id, { receiver: info, reason, missing });
    else this.givenUpBeyond++;
  }

  outcome(): Omit<CloseOutcome, 'datagramsUnsent' | 'durationMs'> {
    const givenUp = [...this.givenUp.values()];
    let most = 0;
    for (const g of givenUp) if (g.missing > most) most = g.missing;
    return {
      flushed: [...this.flushed.values()],
      flushedCount: this.flushed.size + this.flushedBeyond,
      givenUp,
      givenUpCount: givenUp.length + this.givenUpBeyond,
      left: [...this.left.values()],
      leftCount: this.left.size + this.leftBeyond,
      messagesPossiblyMissing: most,
    };
  }
}
