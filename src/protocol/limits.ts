/**
 * The one place where the core records that it dropped something: malformed
 * payloads (counted per reason in `invalidByReason`) and input beyond a limit
 * a stranger must not push past (counted per reason in `limited`, and
 * reported as a 'warning' event at most once per LIMIT_WARNING_INTERVAL_MS per
 * reason, carrying how many hits were not reported one by one).
 */

import { LIMIT_WARNING_INTERVAL_MS } from '../constants';
import type { InvalidReason, LimitReason, ProtocolStats } from './api';
import type { Output } from './output';

export class Limits {
  private readonly lastWarningMs = new Map<LimitReason, number>();
  private readonly unreported = new Map<LimitReason, number>();
  /** The latest time the endpoint was given (set on every call into it), so hits need no clock argument. */
  nowMs = 0;

  constructor(private readonly stats: ProtocolStats, private readonly out: Output) {}

  /** A datagram (or part of one) was dropped as malformed. */
  invalid(reason: InvalidReason): void {
    this.stats.invalid++;
    this.stats.invalidByReason[reason]++;
  }

  /** `n` items were dropped (or given up) because limit `reason` was reached. */
  hit(reason: LimitReason, n = 1): void {
    const nowMs = this.nowMs;
    const count = (this.stats.limited[reason] += n);
    const last = this.lastWarningMs.get(reason);
    if (last !== undefined && nowMs - last < LIMIT_WARNING_INTERVAL_MS && nowMs >= last) {
      this.unreported.set(reason, (this.unreported.get(reason) ?? 0) + n);
      return;
    }
    const suppressed = this.unreported.get(reason) ?? 0;
    this.unreported.set(reason, 0);
    this.lastWarningMs.set(reason, nowMs);
    this.out.events.push({ type: 'warning', reason, count, suppressed });
  }
}
