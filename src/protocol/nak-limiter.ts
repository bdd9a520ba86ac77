/**
 * NAKs a sender accepts from each receiver session: a token bucket per
 * session, `naksPerSec` deep (one second of NAKs). A NAK over its session's
 * budget is dropped (the receiver NAKs again later if it still needs the data).
 *
 * The table holds at most `maxSessions` buckets, least recently used first
 * out. Forgetting a bucket that has refilled loses nothing (a full bucket is
 * what a new session gets); a flood of fresh fake sessions is bounded by the
 * repair byte budget instead, which no number of sessions can raise.
 */

import { TokenBucket } from './token-bucket';

export class NakLimiter {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(private readonly naksPerSec: number, private readonly maxSessions: number) {}

  /** Whether a NAK of session `key` at `nowMs` is within its budget (and spends one token if so). */
  allow(key: string, nowMs: number): boolean {
    let b = this.buckets.get(key);
    if (b === undefined) {
      if (this.buckets.size >= this.maxSessions) this.buckets.delete(this.buckets.keys().next().value!);
      b = new TokenBucket(this.naksPerSec, Math.max(1, this.naksPerSec));
    } else {
      this.buckets.delete(key);
    }
    this.buckets.set(key, b);
    if (!b.canSpend(nowMs, 1)) return false;
    b.spend(1);
    return true;
  }

  get size(): number {
    return this.buckets.size;
  }
}
