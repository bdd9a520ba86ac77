/**
 * Group-membership defaults, each with where its number comes from
 * (docs/protocol.md, "Group membership"). Every timer is a base that
 * {@link scaledTimers} stretches with the group size, so that a group of
 * 1000 members puts no more control traffic on the wire than a group of 100.
 */

/**
 * Base protocol period: memberlist's LAN probe interval (1 s). Every member
 * multicasts a HEARTBEAT once per period, and a probe (PING, then PING_REQ
 * through k helpers) lasts one base period. The period grows with the group
 * (HEARTBEAT_BUDGET_PER_SEC); the probe does not.
 */
export const PROBE_INTERVAL_MS = 1000;
/**
 * How long a direct probe waits for its ack before asking k helpers:
 * memberlist's LAN ProbeTimeout (500 ms) is for unicast over a WAN-ish
 * network; 300 ms is still hundreds of LAN round trips and leaves the
 * indirect probe most of the probe.
 */
export const PROBE_TIMEOUT_MS = 300;
/** Helpers asked in an indirect probe: SWIM's k, memberlist's IndirectChecks (3). */
export const INDIRECT_PROBES = 3;
/**
 * Suspicion lasts SUSPICION_MULT protocol periods. On multicast the
 * suspicion reaches the suspect in one datagram (and hundreds of piggybacked
 * copies within a period), and its refutation reaches everyone the same way,
 * so it needs periods, not SWIM's log n gossip rounds: the log n is in the
 * number of copies (RETRANSMIT_MULT), and the period grows with n.
 */
export const SUSPICION_MULT = 3;
/**
 * Each update is piggybacked RETRANSMIT_MULT × ceil(log10(n + 1)) times
 * (SWIM's λ·log n; memberlist's RetransmitMult is 4). On multicast every
 * transmission reaches every member, so this is ample even under heavy loss.
 */
export const RETRANSMIT_MULT = 4;
/**
 * A member stops piggybacking an update once it has heard REDUNDANCY copies
 * of it from others (Trickle's k): with ~REDUNDANCY + 2 copies sent in all at
 * 10 % loss, a member misses every one with probability ~10⁻⁶.
 */
export const REDUNDANCY = 4;
/**
 * Base interval of the periodic ANNOUNCE. A newcomer is learned from its
 * first announce and, by whoever missed that, from the table sync (SUMMARY,
 * WANT, RECORDS) that a heartbeat's digest triggers, so the periodic
 * announce is only a slow refresh.
 */
export const ANNOUNCE_INTERVAL_MS = 10_000;
/** Group-wide budget of periodic announces per second: above 200 members the announce interval grows as n / 20 s. */
export const ANNOUNCE_BUDGET_PER_SEC = 20;
/**
 * Group-wide budget of heartbeats per second: above 500 members the protocol
 * period grows as n / 500 s. Every heartbeat is multicast, so this caps what
 * every member receives at ~500 heartbeats/s (~25 kB/s at 1000 members);
 * detection time grows linearly beyond the knee instead of the traffic
 * growing quadratically.
 */
export const HEARTBEAT_BUDGET_PER_SEC = 500;
/**
 * Watchers per member: its WATCHERS successors on the ring of member ids
 * probe it after SILENCE_PERIODS silent periods; everyone else only after
 * BACKSTOP_PERIODS more. With every member watching everyone, some member of
 * a thousand would always have lost three heartbeats in a row and probe.
 */
export const WATCHERS = 3;
/**
 * A watcher probes a member not heard from for SILENCE_PERIODS periods (plus
 * up to half a period, random, so watchers do not act at once). A live
 * member sends a heartbeat every period, so three lost in a row at 10 %
 * loss happen with probability 1e-3: it only costs a probe.
 */
export const SILENCE_PERIODS = 3;
/** Members that do not watch a silent member probe it after this many more periods (in case all its watchers are gone). */
export const BACKSTOP_PERIODS = 3;
/**
 * How soon a member acts on a table digest that differs from its own (a
 * random delay in [0, this], so that of the members that missed the same
 * thing one asks and the others overhear), and how often at most.
 */
export const SYNC_DELAY_MS = 50;
/**
 * When a newcomer announces itself, each member heartbeats within
 * SYNC_DELAY_MS unless it has heard this many heartbeats meanwhile: the
 * newcomer's table sync starts at once instead of within a period, and a
 * large group does not answer a join with a burst of heartbeats.
 */
export const EARLY_HEARTBEATS = 3;
export const SYNC_INTERVAL_MS = 500;
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
