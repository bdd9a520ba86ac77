/**
 * The one place where the core records that it dropped something: malformed
 * payloads (counted per reason in `invalidByReason`) and input beyond a limit
 * a stranger must not push past (counted per reason in `limited`, and
 * reported as a 'warning' event at most once per LIMIT_WARNING_INTERVAL_MS per
 * reason, carrying how many hits were not reported one by one).
 */

import { LIMIT_WARNING_INTERVAL_MS } from './constants';
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

const LIMIT_TEXT: Record<LimitReason, string> = {
  sources: 'a new source was ignored: every tracked source (maxSources) has delivered data',
  'sources-evicted': 'a source that had delivered nothing was forgotten to make room for a new one (maxSources or maxTotalReorderBytes)',
  streams: 'a new stream of a source was ignored (maxStreamsPerSource)',
  receivers: 'a new receiver was ignored (maxReceivers)',
  peers: 'an overheard receiver was not counted in the group size (MAX_PEERS_PER_SOURCE)',
  gaps: "a stream's oldest gap was given up (MAX_GAPS_PER_STREAM)",
  'source-reorder': "a source's oldest gap was given up to bound its reorder buffer (maxReorderBytes)",
  'source-reassembly': "a message was not reassembled: its source's reassembly cap (maxReassemblyBytes)",
  'total-reorder': 'buffered data was dropped or a gap given up to bound reorder memory over all sources (maxTotalReorderBytes)',
  'total-reassembly': 'a message was not reassembled: reassembly memory over all sources (maxTotalReassemblyBytes)',
  'nak-rate': 'a NAK was dropped: its receiver sent more than maxNaksPerSecPerReceiver',
  'repair-share': 'NAKed data was not queued for repair: its receiver used up its share of the repair budget (half of repairRateBytesPerSec)',
  'repair-rate': 'a repair waited for the repair budget (repairRateBytesPerSec); new data went first',
  'repair-backlog': 'NAKed data was not queued for repair: the repair backlog is full (REPAIR_BACKLOG_MS of the repair rate)',
};

/** One line saying what a limit hit dropped, for logs. */
export function describeLimit(reason: LimitReason): string {
  return LIMIT_TEXT[reason];
}
