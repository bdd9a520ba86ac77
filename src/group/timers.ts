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
  redundancy: C.REDUNDANCY,
  announceIntervalMs: C.ANNOUNCE_INTERVAL_MS,
  announceBudgetPerSec: C.ANNOUNCE_BUDGET_PER_SEC,
  heartbeatBudgetPerSec: C.HEARTBEAT_BUDGET_PER_SEC,
  watchers: C.WATCHERS,
  silencePeriods: C.SILENCE_PERIODS,
  backstopPeriods: C.BACKSTOP_PERIODS,
  tombstoneMs: C.TOMBSTONE_MS,
  maxTombstones: C.MAX_TOMBSTONES,
  maxMembers: C.MAX_MEMBERS,
  maxPiggybackQueue: C.MAX_PIGGYBACK_QUEUE,
  maxPiggybackPerDatagram: C.MAX_PIGGYBACK_PER_DATAGRAM,
  leaveRepeats: C.LEAVE_REPEATS,
});

export function scaledTimers(t: MembershipTuning, n: number): ScaledTimers {
  const size = Math.max(1, n);
  const periodMs = Math.max(t.probeIntervalMs, (size * 1000) / t.heartbeatBudgetPerSec);
  const probeMs = t.probeIntervalMs;
  const probeTimeoutMs = Math.min(t.probeTimeoutMs, probeMs / 2);
  const announceIntervalMs = Math.max(t.announceIntervalMs, (size * 1000) / t.announceBudgetPerSec);
  const suspicionTimeoutMs = t.suspicionMult * periodMs;
  const retransmits = Math.max(1, t.retransmitMult * Math.ceil(Math.log10(size + 1)));
  const silenceMs = t.silencePeriods * periodMs;
  const backstopMs = silenceMs + t.backstopPeriods * periodMs;
  const tombstoneMs = Math.max(t.tombstoneMs, 3 * announceIntervalMs);
  // Silence (+ up to half a period of jitter) + up to a period until the
  // silence check runs + the probe + suspicion + one period for the last
  // member to hear the suspicion.
  const deadBoundMs = silenceMs + 2.5 * periodMs + probeMs + suspicionTimeoutMs;
  // A newcomer hears heartbeats at once, syncs within a sync interval, and
  // repeats for what a lost datagram kept from it.
  const convergeMs = 2 * periodMs + 2 * C.SYNC_INTERVAL_MS;
  return { periodMs, probeMs, probeTimeoutMs, announceIntervalMs, suspicionTimeoutMs, retransmits, silenceMs, backstopMs, tombstoneMs, deadBoundMs, convergeMs };
}
