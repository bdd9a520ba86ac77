/**
 * Group-membership defaults, each with where its number comes from
 * (docs/protocol.md, "Group membership"). Every timer is a base that
 * {@link scaledTimers} stretches with the group size, so that a group of
 * 1000 members puts no more control traffic on the wire than a group of 100.
 */

/**
 * Base probe period: memberlist's LAN default (1 s); SWIM's protocol period.
 * Each member probes one other member per period.
 */
export const PROBE_INTERVAL_MS = 1000;
/**
 * How long a direct probe waits for its ack before asking k helpers:
 * memberlist's LAN ProbeTimeout (500 ms) is for unicast over a WAN-ish
 * network; 300 ms is still hundreds of LAN round trips and leaves the
 * indirect probe most of the period.
 */
export const PROBE_TIMEOUT_MS = 300;
/** Helpers asked in an indirect probe: SWIM's k, memberlist's IndirectChecks (3). */
export const INDIRECT_PROBES = 3;
/**
 * Suspicion lasts SUSPICION_MULT × max(1, log10(n)) probe periods
 * (memberlist's LAN SuspicionMult is 4): long enough for the suspect to hear
 * of it and refute, growing slowly with the group as gossip takes longer.
 */
export const SUSPICION_MULT = 4;
/**
 * Each update is piggybacked RETRANSMIT_MULT × ceil(log10(n + 1)) times
 * (SWIM's λ·log n; memberlist's RetransmitMult is 4). On multicast every
 * transmission reaches every member, so this is ample even under heavy loss.
 */
export const RETRANSMIT_MULT = 4;
/**
 * Base announce interval: a new member is learned within one interval.
 * One second matches the probe period, so announces add at most one
 * datagram per member per period.
 */
export const ANNOUNCE_INTERVAL_MS = 1000;
/**
 * Group-wide budget of periodic announces per second: above 100 members the
 * announce interval grows as n / 100 s, so the announce traffic every member
 * receives stays at ~100 datagrams/s.
 */
export const ANNOUNCE_BUDGET_PER_SEC = 100;
/**
 * Group-wide budget of probes per second: above 200 members the probe period
 * grows as n / 200 s. Every probe and its ack are multicast, so this caps what
 * every member receives at ~400 probe datagrams/s; detection time grows
 * linearly beyond the knee instead of the traffic growing quadratically.
 */
export const PROBE_BUDGET_PER_SEC = 200;
/**
 * A member not heard from for SILENCE_PERIODS probe periods (plus up to
 * one more, random, so members do not all act at once) is probed out of turn.
 * A live member sends at least one ping per period, so three silent periods
 * under 10 % loss happen with probability ~1e-6: it only costs a probe.
 * This turns SWIM's probabilistic first detection into a bound.
 */
export const SILENCE_PERIODS = 3;
/**
 * Dead and left members are remembered (tombstones) for this long, at least,
 * so that late gossip or a delayed announce of the old incarnation cannot
 * resurrect them; the actual hold is max(this, 3 announce intervals).
 */
export const TOMBSTONE_MS = 30_000;
/** Tombstones kept at most (oldest evicted first): bounds memory under churn. */
export const MAX_TOMBSTONES = 1024;
/**
 * Members a table holds at most: announces of further members are counted
 * and dropped. Bounds memory against a flood of forged announces.
 */
export const MAX_MEMBERS = 8192;
/** Updates waiting to be piggybacked at most; the most-sent one is dropped first. */
export const MAX_PIGGYBACK_QUEUE = 256;
/** Updates piggybacked on one datagram at most (13 bytes each). */
export const MAX_PIGGYBACK_PER_DATAGRAM = 24;
/** A graceful leave is multicast this many times back to back (one loss of a LEAVE is then rare; gossip covers the rest). */
export const LEAVE_REPEATS = 3;
/** Name length cap (UTF-8 bytes; a u8 on the wire). */
export const MAX_NAME_BYTES = 255;
/** Metadata caps: entries (u8 count), key bytes (u8), value bytes (u16), and the whole announce must fit one datagram. */
export const MAX_METADATA_ENTRIES = 64;
export const MAX_METADATA_KEY_BYTES = 255;
/** Header stream id of the membership control stream. */
export const MEMBERSHIP_STREAM_ID = 0;
