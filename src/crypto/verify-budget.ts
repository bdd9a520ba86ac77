/**
 * How many Ed25519 signature checks a receiver spends on session
 * announcements (docs/security.md, "Limits"). A key holder can seal as many
 * announcements as it likes, each naming a trusted public key over a bad
 * signature and a fresh session id, and each would cost a verification
 * (~50–130 µs); this budget bounds that work per second, in total and per
 * session. An announcement over budget is dropped unverified and counted; a
 * real sender repeats its announcement every ANNOUNCE_INTERVAL_MS, so it
 * verifies on a later one.
 *
 * Sans-IO: time comes in as `nowMs`.
 */

import { ANNOUNCE_VERIFY_BURST, ANNOUNCE_VERIFY_PER_SEC, ANNOUNCE_VERIFY_PER_SESSION_BURST, ANNOUNCE_VERIFY_PER_SESSION_PER_SEC, MAX_ANNOUNCE_VERIFY_SESSIONS } from './constants';

/** A token bucket counting whole verifications. */
class CountBucket {
  private tokens: number;
  private lastMs: number;

  constructor(private readonly perSec: number, private readonly burst: number, nowMs: number) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  /** True when one token is there now (it is not taken: see {@link take}). */
  has(nowMs: number): boolean {
    if (nowMs > this.lastMs) {
      this.tokens = Math.min(this.burst, this.tokens + ((nowMs - this.lastMs) * this.perSec) / 1000);
      this.lastMs = nowMs;
    }
    return this.tokens >= 1;
  }

  take(): void {
    this.tokens -= 1;
  }
}

export interface VerifyBudgetOptions {
  perSec?: number;
  burst?: number;
  perSessionPerSec?: number;
  perSessionBurst?: number;
  /** Sessions with a bucket of their own; beyond, the least recently charged one's is forgotten. */
  maxSessions?: number;
}

/** The total and per-session budget of announcement verifications. */
export class VerifyBudget {
  private total: CountBucket | undefined;
  private readonly sessions = new Map<string, CountBucket>();
  private readonly perSec: number;
  private readonly burst: number;
  private readonly perSessionPerSec: number;
  private readonly perSessionBurst: number;
  private readonly maxSessions: number;

  constructor(options: VerifyBudgetOptions = {}) {
    this.perSec = options.perSec ?? ANNOUNCE_VERIFY_PER_SEC;
    this.burst = options.burst ?? ANNOUNCE_VERIFY_BURST;
    this.perSessionPerSec = options.perSessionPerSec ?? ANNOUNCE_VERIFY_PER_SESSION_PER_SEC;
    this.perSessionBurst = options.perSessionBurst ?? ANNOUNCE_VERIFY_PER_SESSION_BURST;
    this.maxSessions = options.maxSessions ?? MAX_ANNOUNCE_VERIFY_SESSIONS;
  }

  /**
   * Charges one verification to `sessionKey` and to the total, or returns
   * false (nothing charged) when either is spent.
   */
  take(nowMs: number, sessionKey: string): boolean {
    this.total ??= new CountBucket(this.perSec, this.burst, nowMs);
    let session = this.sessions.get(sessionKey);
    if (session === undefined) {
      // A session never charged has a full bucket: only the total limits a stream of fresh session ids.
      if (!this.total.has(nowMs)) return false;
      if (this.sessions.size >= this.maxSessions) this.sessions.delete(this.sessions.keys().next().value as string);
      session = new CountBucket(this.perSessionPerSec, this.perSessionBurst, nowMs);
    } else {
      if (!session.has(nowMs) || !this.total.has(nowMs)) return false;
      this.sessions.delete(sessionKey); // re-inserted below: the map's order is least recently charged first
    }
    this.sessions.set(sessionKey, session);
    session.take();
    this.total.take();
    return true;
  }
}
