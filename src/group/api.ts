/**
 * The contract of the sans-IO group-membership core (membership.ts), in the
 * shape of the protocol core (src/protocol/api.ts): time comes in as
 * `nowMs`, CONTROL datagrams come in through `handleDatagram` and go out
 * through `pollTransmit`, the one timer is `pollTimeout`, and membership
 * changes come out of `pollEvent`. No socket, no timer, no clock read.
 */

import type { Header } from '../wire/header';

/** Liveness of a member as this member currently believes it. */
export type MemberState = 'alive' | 'suspect';

/** One member as seen by this member. A snapshot: the caller may keep it. */
export interface MemberInfo {
  /** Session id of the member's current run, 16 lowercase hex digits (random per start). */
  id: string;
  name: string;
  /** Chosen at join, never changes for this id. */
  metadata: Readonly<Record<string, string>>;
  /** SWIM incarnation: raised by the member itself to refute a suspicion. */
  incarnation: number;
  state: MemberState;
  /** True for the local member. */
  self: boolean;
  /** A passive observer (`open({ passive: true })`, e.g. `blipcast top`): it never acknowledges data, and senders never pace to it. */
  observer: boolean;
}

/**
 * Membership changes:
 * - `join`: a member became known (first announce heard, or back after being declared dead);
 * - `leave`: a member left gracefully (its LEAVE or a gossiped `left` update);
 * - `suspect`: a member failed a probe (direct and indirect) and is suspected;
 * - `alive`: a suspected member refuted the suspicion (raised its incarnation);
 * - `dead`: a suspicion timed out, or another member declared it dead;
 * - `update`: a member known alive raised its incarnation without our having suspected it.
 */
export type MembershipEventType = 'join' | 'leave' | 'suspect' | 'alive' | 'dead' | 'update';

export interface MembershipEvent {
  type: MembershipEventType;
  member: MemberInfo;
}

/** Selects members: every key of a record must be present with that value, or a predicate. */
export type MemberFilter = Readonly<Record<string, string>> | ((m: MemberInfo) => boolean);

/** Timers and budgets; omitted fields take the defaults of src/group/constants.ts. All in ms unless named otherwise. */
export interface MembershipTuning {
  /** Base protocol period: the heartbeat interval below the budget's knee, and how long a probe lasts. */
  probeIntervalMs: number;
  probeTimeoutMs: number;
  indirectProbes: number;
  suspicionMult: number;
  retransmitMult: number;
  /** Copies of an update heard from others after which a member stops piggybacking it. */
  redundancy: number;
  announceIntervalMs: number;
  announceBudgetPerSec: number;
  /** Group-wide heartbeats per second: the period grows as n / this above the knee. */
  heartbeatBudgetPerSec: number;
  /** Members that watch each member closely (its successors on the id ring). */
  watchers: number;
  silencePeriods: number;
  /** Extra silent periods before a member that does not watch a silent member probes it. */
  backstopPeriods: number;
  tombstoneMs: number;
  maxTombstones: number;
  maxMembers: number;
  maxPiggybackQueue: number;
  maxPiggybackPerDatagram: number;
  leaveRepeats: number;
}

export interface MembershipConfig {
  /** This incarnation's 64-bit random id as two u32 halves (not both 0); it is the header session id of every datagram sent. */
  sessionHi: number;
  sessionLo: number;
  /** Human-readable member name, ≤ 255 UTF-8 bytes. */
  name: string;
  /** Immutable key-values (service, role, version, addresses…); the announce must fit one datagram. */
  metadata?: Readonly<Record<string, string>>;
  /** Uniform random number in [0, 1), injected so tests are deterministic. */
  random: () => number;
  /** Header stream id of the control stream (default 0). Datagrams of other streams are ignored. */
  streamId?: number;
  /** Largest datagram emitted, header included (default 1472). */
  maxDatagramBytes?: number;
  /** This member is a passive observer (its CONTROL datagrams carry the OBSERVER flag). Default false. */
  observer?: boolean;
}

/** Timers derived from the group size n (members known alive or suspect, self included). */
export interface ScaledTimers {
  /** Protocol period: every member heartbeats once per period. */
  periodMs: number;
  /** How long a probe (direct, then indirect) lasts. */
  probeMs: number;
  probeTimeoutMs: number;
  announceIntervalMs: number;
  suspicionTimeoutMs: number;
  retransmits: number;
  /** A watcher probes a member silent this long (plus up to half a period). */
  silenceMs: number;
  /** Anyone else probes a member silent this long. */
  backstopMs: number;
  tombstoneMs: number;
  /** Documented bound on kill → every member declares it dead (docs/protocol.md). */
  deadBoundMs: number;
  /** Expected time for a member to learn the whole group after it joins (what `blipcast members` waits). */
  convergeMs: number;
}

export interface Membership {
  /** Starts membership: announces at once, then periodically, and starts probing. Extra calls are no-ops. */
  join(nowMs: number): void;
  /** Leaves gracefully: queues LEAVE datagrams; afterwards the core sends nothing more and arms no timer. */
  leave(nowMs: number): void;
  /** Feeds one CONTROL datagram whose header was already decoded and verified. `datagram` is a view valid only during the call. Never throws on bad input: it is counted as `invalid`. */
  handleDatagram(nowMs: number, datagram: Uint8Array, header: Header): void;
  /** Runs whatever timers are due at `nowMs`. Extra calls are harmless. */
  handleTimeout(nowMs: number): void;
  /** Next datagram to send (a complete datagram, header included), or undefined. The core never touches it again. */
  pollTransmit(): Uint8Array | undefined;
  /** Absolute time (ms) of the next timer, or undefined when none is armed. */
  pollTimeout(): number | undefined;
  /** Next membership event, or undefined. */
  pollEvent(): MembershipEvent | undefined;
  /** Current members (self included while joined), optionally filtered; sorted by id. */
  members(filter?: MemberFilter): MemberInfo[];
  /** The timers in force for the current group size. */
  timers(): ScaledTimers;
  stats(): MembershipStats;
}

/** Counters (cumulative) and gauges (current sizes, which must stay bounded). */
export interface MembershipStats {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  /** Malformed CONTROL payloads, dropped. */
  invalid: number;
  /** Well-formed datagrams ignored: other stream, own datagrams, members over the table cap. */
  ignored: number;
  announcesSent: number;
  heartbeatsSent: number;
  /** SUMMARY datagrams sent (answers to a WANT for the summary). */
  summariesSent: number;
  /** WANT datagrams sent (asking for a summary, or for the records of buckets). */
  wantsSent: number;
  /** Records sent in RECORDS datagrams. */
  recordsSent: number;
  /** Members learned from RECORDS instead of their own announce. */
  recordsLearned: number;
  pingsSent: number;
  acksSent: number;
  pingReqsSent: number;
  acksRelayed: number;
  probesFailed: number;
  suspicionsRaised: number;
  refutations: number;
  deathsDeclared: number;
  updatesSent: number;
  updatesDropped: number;
  /** Gauges. */
  members: number;
  tombstones: number;
  piggybackQueued: number;
  pendingRelays: number;
}
