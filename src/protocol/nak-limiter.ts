/**
 * What a sender grants each receiver session that NAKs it: NAK datagrams per
 * second (a token bucket one second deep: a NAK over it is dropped, and the
 * receiver NAKs again later if it still needs the data), and a share of the
 * repair budget (a byte bucket at REPAIR_SHARE_PER_RECEIVER of the repair rate,
 * REPAIR_BACKLOG_MS of the rate deep: one session asking for everything can
 * take at most that share, so the rest of the budget is left for the others).
 *
 * The table holds at most `maxSessions` sessions, least recently used first
 * out. Forgetting one whose buckets have refilled loses nothing (full buckets
 * are what a new session gets); a flood of fresh fake sessions is bounded by
 * the total repair budget instead, which no number of sessions can raise.
 */

import { TokenBucket } from './token-bucket';

/** One receiver session's budgets. */
export interface ReceiverBudget {
  naks: TokenBucket;
  /** Repair bytes it may still queue (undefined: repairs are not rate-limited). */
  repairBytes: TokenBucket | undefined;
}

export class NakLimiter {
  private readonly sessions = new Map<string, ReceiverBudget>();

  constructor(
    private readonly naksPerSec: number,
    private readonly maxSessions: number,
    private readonly repairShareBytesPerSec: number | undefined,
    private readonly repairShareDepthBytes: number,
  ) {}

  /** The budget of session `key` when its NAK at `nowMs` is within its rate (one NAK spent), else undefined. */
  allow(key: string, nowMs: number): ReceiverBudget | undefined {
    let b = this.sessions.get(key);
    if (b === undefined) {
      if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value!);
      b = {
        naks: new TokenBucket(this.naksPerSec, Math.max(1, this.naksPerSec)),
        repairBytes: this.repairShareBytesPerSec === undefined ? undefined : new TokenBucket(this.repairShareBytesPerSec, this.repairShareDepthBytes),
      };
    } else {
      this.sessions.delete(key);
    }
    this.sessions.set(key, b);
    if (!b.naks.canSpend(nowMs, 1)) return undefined;
    b.naks.spend(1);
    return b;
  }

  get size(): number {
    return this.sessions.size;
  }
}
