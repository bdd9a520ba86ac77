/**
 * Timers as functions of the group size n (members alive or suspect, self
 * included) and the configured bases: docs/protocol.md, "Group membership —
 * timers". Pure arithmetic, so the bound the tests check is the one documented.
 */

import * as C from './constants';
import type { MembershipTuning, ScaledTimers } from './api';

export const DEFAULT_MEMBERSHIP_TUNING: Readonly<MembershipTuning> = Object.freeze({
  probeIntervalMs: C.PROBE_INTERVAL_MS,
  probeTimeoutMs: C.PROBE_TIMEOUT_MS,
  indirectProbes: C.INDIRECT_PROBES,
  suspicionMult: C.SUSPICION_MULT,
  retransmitMult: C.RETRANSMIT_MULT,
  announceIntervalMs: C.ANNOUNCE_INTERVAL_MS,
  announceBudgetPerSec: C.ANNOUNCE_BUDGET_PER_SEC,
  probeBudgetPerSec: C.PROBE_BUDGET_PER_SEC,
  silencePeriods: C.SILENCE_PERIODS,
  tombstoneMs: C.TOMBSTONE_MS,
  maxTombstones: C.MAX_TOMBSTONES,
  maxMembers: C.MAX_MEMBERS,
  maxPiggybackQueue: C.MAX_PIGGYBACK_QUEUE,
  maxPiggybackPerDatagram: C.MAX_PIGGYBACK_PER_DATAGRAM,
  leaveRepeats: C.LEAVE_REPEATS,
});

export function scaledTimers(t: MembershipTuning, n: number): ScaledTimers {
  const size = Math.max(1, n);
  const probeIntervalMs = Math.max(t.probeIntervalMs, (size * 1000) / t.probeBudgetPerSec);
  const probeTimeoutMs = Math.min(t.probeTimeoutMs, probeIntervalMs / 2);
  const announceIntervalMs = Math.max(t.announceIntervalMs, (size * 1000) / t.announceBudgetPerSec);
  const suspicionTimeoutMs = t.suspicionMult * Math.max(1, Math.log10(size)) * probeIntervalMs;
  const retransmits = Math.max(1, t.retransmitMult * Math.ceil(Math.log10(size + 1)));
  const silenceMs = t.silencePeriods * probeIntervalMs;
  const tombstoneMs = Math.max(t.tombstoneMs, 3 * announceIntervalMs);
  // Silence (+ up to one period of jitter) + waiting for our next probe slot
  // + the probe itself + suspicion + one period for the last member to hear.
  const deadBoundMs = silenceMs + 4 * probeIntervalMs + suspicionTimeoutMs;
  return { probeIntervalMs, probeTimeoutMs, announceIntervalMs, suspicionTimeoutMs, retransmits, silenceMs, tombstoneMs, deadBoundMs };
}
