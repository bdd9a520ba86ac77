/**
 * Every protocol default in one place, each with where its number comes from
 * (see ../shared/REFERENCES.md and docs/protocol.md, "Timers"). Encryption's
 * constants are in src/crypto/constants.ts, membership's in src/group/constants.ts.
 */

import type { FlowControl, LateJoin } from './api';

// ---------------------------------------------------------------- datagrams

/** 1500-byte Ethernet MTU − 20 (IPv4 header) − 8 (UDP header). */
export const DEFAULT_MAX_DATAGRAM_BYTES = 1472;
/** 1500 − 40 (IPv6 header) − 8 (UDP header); the driver uses it for IPv6 groups. */
export const DEFAULT_MAX_DATAGRAM_BYTES_IPV6 = 1452;
/** Smallest maxDatagramBytes the core accepts: header + a fragment header + some data. */
export const MIN_DATAGRAM_BYTES = 64;

// ---------------------------------------------------------------- sender window

/**
 * 32 MiB: holds one 16 MiB message (its fragments plus headers) with room to
 * spare; NORM's transmit cache tops out at 20 MiB, Aeron's log is 3 × 16 MiB.
 */
export const DEFAULT_WINDOW_BYTES = 32 * 1024 * 1024;
/**
 * 2^18 fragments: about 0.25 s of 64-byte messages at the 1 M msg/s target —
 * several NAK round trips (JGroups NAKACK4 uses 16384, too few at that rate).
 */
export const DEFAULT_WINDOW_MESSAGES = 262_144;
/** 16 MiB, the largest message the issue asks for. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

// ---------------------------------------------------------------- receiver caps

/**
 * Out-of-order data held per source while a gap is repaired: twice the default
 * window. A receiver behind a gap may have to hold a whole window of the
 * sender's data, plus BUFFERED_ITEM_OVERHEAD_BYTES per message; with a cap equal
 * to the window, a lossy 1 KiB stream hit it and lost messages (reason
 * 'memory') in bench:compare.
 */
export const DEFAULT_MAX_REORDER_BYTES = 2 * DEFAULT_WINDOW_BYTES;
/** Partly reassembled messages per source: room for one 16 MiB message and change. */
export const DEFAULT_MAX_REASSEMBLY_BYTES = 32 * 1024 * 1024;
/** Bytes charged per buffered message on top of its data (object + map slot), so caps bound real memory. */
export const BUFFERED_ITEM_OVERHEAD_BYTES = 48;

// ---------------------------------------------------------------- policies

/** Slowest receiver paces the group, silent receivers dropped after a timeout (Aeron 'min'): nothing is lost silently. */
export const DEFAULT_FLOW_CONTROL: FlowControl = 'min';
/** Start at the next message, as Aeron and every pub/sub system do; OpenPGM has no late join at all. */
export const DEFAULT_LATE_JOIN: LateJoin = 'next';

// ---------------------------------------------------------------- timers (ms)

/**
 * First heartbeat 1 ms after data, doubling (1, 2, 4 … ms): a lost last
 * message is noticed within a few ms on a LAN. OpenPGM starts at 100 ms,
 * which is why its tail loss takes that long to repair.
 */
export const HEARTBEAT_MIN_MS = 1;
/** Idle heartbeat interval: OpenPGM ends at tens of seconds, Aeron 100 ms; 1 s keeps idle traffic negligible. */
export const HEARTBEAT_IDLE_MS = 1000;
/** Heartbeat interval while the window is blocked by flow control: asks receivers for status quickly. */
export const HEARTBEAT_BLOCKED_MS = 10;
/** Most stream entries in one heartbeat or status datagram beyond which another datagram is used (also bounded by size). */
export const MAX_ENTRIES_PER_CONTROL = 64;

/** Largest random NAK back-off: Aeron's multicast NAK delay maximum (10 ms); PGM typically 50 ms. */
export const NAK_BACKOFF_MAX_MS = 10;
/** Back-off when this receiver believes it is alone (no peer status overheard): Aeron's unicast delay, 100 µs. */
export const NAK_BACKOFF_ALONE_MS = 0.1;
/**
 * Wait for a repair after a NAK (or an overheard NAK / NCF) before asking
 * again; doubles per retry. A receiver alone with its source that has timed
 * a repair of its own follows the measured NAK-to-repair time instead (below).
 */
export const NAK_REPAIR_WAIT_MS = 20;
/**
 * The adaptive repair wait: smoothed NAK-to-repair time + 4 × its mean
 * deviation (TCP's RTO from SRTT and RTTVAR, RFC 6298), never below this
 * floor (the real clock's timers do not wait less than 1 ms) and never above
 * nakRepairWaitMs. A lost NAK or repair then costs about a millisecond on a
 * LAN instead of 20.
 */
export const NAK_REPAIR_WAIT_MIN_MS = 1;
/** Ceiling of the doubling repair wait: OpenPGM's 2 s NAK repeat interval. */
export const NAK_REPAIR_WAIT_MAX_MS = 2000;
/** NAKs per gap before giving up with loss 'retries' (≈ 8.5 s of asking with the waits above). */
export const NAK_MAX_RETRIES = 10;
/** Most ranges in one NAK / NCF datagram (also bounded by maxDatagramBytes). */
export const MAX_RANGES_PER_NAK = 64;

/** Sender ignores NAKs for a datagram it repaired this recently: Aeron's 10 ms retransmit linger. */
export const REPAIR_LINGER_MS = 10;
/**
 * Cap on repair bandwidth, bytes/s (token bucket): repairs never take more
 * than ~40 % of a gigabit link, so a NAK storm cannot starve new data.
 */
export const REPAIR_RATE_BYTES_PER_SEC = 50_000_000;
/** Token bucket depth, in ms of the rate (at least two datagrams). */
export const RATE_BURST_MS = 5;

/** Receiver status interval: Aeron's status message timeout (200 ms). */
export const STATUS_INTERVAL_MS = 200;
/** Delay of an early status (new source, gap closed, buffer filling, status requested, progress). */
export const STATUS_SOON_MS = 1;
/**
 * A receiver also reports status after receiving this many data bytes from a
 * source since its last status, times the group-size estimate: a sender
 * paced by 'min' flow control can then free its window every ~1 MiB instead
 * of every STATUS_INTERVAL_MS (which bounds a 32 MiB window at 160 MB/s),
 * while the status traffic a sender hears stays near (rate ÷ 1 MiB) per
 * second whatever the group size (Aeron: status when a quarter of the window is consumed).
 */
export const STATUS_PROGRESS_BYTES = 1024 * 1024;
// ---------------------------------------------------------------- close (docs/protocol.md, "Close")

/**
 * How long a closing sender keeps serving while no receiver makes progress
 * (acknowledges more, appears, or is sent new data), ms. Bounds *no
 * progress*, not the whole close: a receiver repairing a long tail keeps the
 * sender there as long as it advances. 5 s = receiverTimeoutMs.
 */
export const DEFAULT_LINGER_MS = 5000;
/**
 * After every known receiver has acknowledged everything, a closing sender
 * still serves until no NAK and no status that asks for something (from a new
 * or an incomplete receiver) has reached it for this long, ms. A receiver that
 * stalled across the end of the stream (a long GC pause, SIGSTOP, a starved
 * container) has never spoken, so the sender cannot know it exists: 2.5 s
 * covers a stall of ten status intervals (2 s) with half a second for the
 * stalled receiver to catch up and speak. NORM's flush lasts robustFactor
 * (20) × GRTT for the same reason (RFC 5740 §5.3.3).
 */
export const CLOSE_QUIET_MS = 2500;
/**
 * A closing sender does not call itself done before this many status
 * intervals (plus twice the slowest first-status delay it measured) have passed
 * since its first transmission: every live receiver reports within a status
 * interval of hearing a source, so by then the receivers it knows are all
 * there are — two intervals cover one lost status.
 */
export const RECEIVER_DISCOVERY_INTERVALS = 2;
/** Receivers listed by name in a close outcome per list (flushed, given up, left); the counts stay exact beyond it. */
export const MAX_CLOSE_REPORT_RECEIVERS = 1024;
/** Smallest default transmit queue, bytes (see EndpointConfig.sendQueueBytes). */
export const MIN_SEND_QUEUE_BYTES = 64 * 1024;

/** Silent receivers are dropped after this (Aeron min flow control receiver timeout, 5 s). */
export const RECEIVER_TIMEOUT_MS = 5000;
/** A source silent this long is gone: five idle heartbeats (NORM: 2 × 20 × GRTT, at least 1 s; Aeron 10 s). */
export const SOURCE_TIMEOUT_MS = 5000;
/**
 * Timed-out sessions a receiver remembers (with where their streams ended), so
 * one that comes back resumes instead of being delivered again from scratch:
 * 4096 × a few dozen bytes, and a flood of fake sessions cannot grow it further.
 */
export const MAX_REMEMBERED_SESSIONS = 4096;
/** A peer receiver (overheard status) counts in the group-size estimate for this long. */
export const PEER_TIMEOUT_MS = 5000;

// ---------------------------------------------------------------- limits against hostile input
//
// A multicast group is open to every host on the segment: without a group key
// anyone can send anything. These bounds make the memory and the work a stranger
// can cause finite; each one, when hit, is counted (ProtocolStats.limited) and
// reported by a rate-limited 'warning' event, and the excess is dropped. See
// docs/protocol.md, "Limits".

/**
 * Sources (sender sessions) a receiver tracks at once: five times the largest
 * deployment in the design (200 services broadcasting metrics). A source costs
 * about 1 KiB plus what it buffers (bounded below). Beyond it, sources that
 * never delivered a message are forgotten first (oldest one-datagram sources
 * first); a source that delivered data is never pushed out by new ones.
 */
export const DEFAULT_MAX_SOURCES = 1024;
/** Streams tracked per source: stream ids are 16-bit, a forged heartbeat could otherwise name 65,536 of them. */
export const DEFAULT_MAX_STREAMS_PER_SOURCE = 256;
/**
 * Receivers a sender tracks (from their STATUS): four times the "thousand
 * receivers" of the design's simulations. Also bounds the table of per-receiver
 * NAK rate buckets.
 */
export const DEFAULT_MAX_RECEIVERS = 4096;
/**
 * Other receivers of one source a receiver remembers for its group-size estimate
 * (the NAK back-off grows with ln N, so the estimate saturating here costs nothing).
 */
export const MAX_PEERS_PER_SOURCE = 4096;
/**
 * Out-of-order bytes buffered over all sources: four sources at their full
 * per-source cap (DEFAULT_MAX_REORDER_BYTES). Over it, sources that never
 * delivered a message are dropped first, then the source buffering the most
 * gives up its oldest gap (loss 'memory').
 */
export const DEFAULT_MAX_TOTAL_REORDER_BYTES = 4 * DEFAULT_MAX_REORDER_BYTES;
/** Reassembly bytes over all sources: four 32 MiB per-source caps. A message over it is reported lost ('memory'). */
export const DEFAULT_MAX_TOTAL_REASSEMBLY_BYTES = 4 * DEFAULT_MAX_REASSEMBLY_BYTES;
/**
 * NAK datagrams a sender accepts per second from one receiver session (token
 * bucket, one second deep). A receiver NAKs each gap after its own back-off,
 * so at 5 % loss of 1 KiB messages at 200 MB/s an honest receiver sent up to
 * 10,450 NAKs/s (test/hostile-core.test.ts, 100 ms peak); twice that leaves a
 * margin. What a NAK can cost is bounded separately (repair share, backlog, scan).
 */
export const DEFAULT_MAX_NAKS_PER_SEC_PER_RECEIVER = 20_000;
/**
 * Repairs queued at the sender beyond this many ms of the repair rate
 * (repairRateBytesPerSec) are not queued: the NAK is answered for what fits,
 * the rest is NAKed again by a receiver that still needs it. Bounds how long a
 * real repair can wait behind repairs a NAK flood asked for (200 ms = 10 MB at
 * the default 50 MB/s).
 */
export const REPAIR_BACKLOG_MS = 200;
/**
 * Share of the repair rate one receiver session's NAKs may claim: a single
 * session asking for everything (a NAK flood) takes at most half of the repair
 * budget, so repairs for the others still go out. An honest receiver at 5 %
 * loss of a 200 MB/s stream needs 10 MB/s, well within 25 MB/s.
 */
export const REPAIR_SHARE_PER_RECEIVER = 0.5;
/**
 * A NAK is examined only while its session has at least this much of its
 * repair share left (64 KiB, 45 full datagrams): a session that used up its
 * share costs one bucket check per NAK, not a scan of the window. An honest
 * receiver uses a fraction of its share, so its bucket stays near full.
 */
export const REPAIR_SHARE_MIN_BYTES = 64 * 1024;
/**
 * Share charged per window datagram a NAK makes the sender examine, on top of
 * the bytes it queues: a NAK that asks again for what is already queued still
 * costs its session (64 B ≈ the cost of the check relative to sending 1.4 kB),
 * so repeating "everything" cannot keep the sender scanning for free.
 */
export const REPAIR_SCAN_CHARGE_BYTES = 64;
/**
 * Window datagrams one NAK may make the sender examine: bounds the work of a
 * NAK that asks for everything (a whole window is up to 262,144 datagrams).
 * 8192 datagrams is 12 MB of full-size datagrams, more than the repair backlog.
 */
export const MAX_REPAIR_SCAN_PER_NAK = 8192;
/** Gaps tracked per stream: beyond it the oldest is given up (loss 'memory'); 5 % loss over a full window is about 1100. */
export const MAX_GAPS_PER_STREAM = 16384;
/** A 'warning' event per limit reason at most this often; the hits in between are counted and reported with the next one. */
export const LIMIT_WARNING_INTERVAL_MS = 1000;
