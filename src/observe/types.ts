/**
 * What `blipcast top` and `blipcast dashboard` show: one snapshot of a group
 * as a passive observer sees it (src/observe/watcher.ts builds it from the
 * channel's public `sources()`, `receivers()` and `group.members()`).
 * Plain JSON: `top --once --json` prints one, the dashboard streams them.
 */

/** One member of the group (from the membership table). */
export interface MemberRow {
  id: string;
  name: string;
  state: 'alive' | 'suspect' | 'dead' | 'left';
  metadata: Record<string, string>;
  /** A passive observer (another `top` or dashboard): senders never pace to it. */
  observer: boolean;
  /** This observer itself. */
  self: boolean;
}

/** One sender the observer hears. */
export interface SourceRow {
  id: string;
  /** Member name when the source is a group member, else ''. */
  name: string;
  address: string | undefined;
  /** Messages and bytes per second over the last sampling interval. */
  messagesPerSec: number;
  bytesPerSec: number;
  messages: number;
  bytes: number;
  /** Highest sequence the source has sent (over its streams, summed) as its heartbeats say. */
  headSeq: number;
  /** Receivers reporting on this source. */
  receivers: number;
  /** The most messages any of its receivers is behind. */
  worstLagMessages: number;
}

export type ReceiverStateName = 'live' | 'dropped';

/** One receiver of one source, as its STATUS reports say (overheard by the observer). */
export interface ReceiverRow {
  id: string;
  /** Member name when the receiver is a group member, else ''. */
  name: string;
  address: string | undefined;
  /** The source this row is about. */
  sourceId: string;
  sourceName: string;
  /** Sum over streams of one past the highest sequence it has contiguously. */
  ackSeq: number;
  /** Messages (and, estimated from the source's mean message size, bytes) the receiver is behind the source's head. */
  lagMessages: number;
  lagBytes: number;
  /** NAKs this receiver sent to the source: per second and in total. */
  naksPerSec: number;
  naks: number;
  /** Repairs it received from the source: per second and in total. */
  repairsPerSec: number;
  repairs: number;
  /** Messages it declared lost from this source (unrepairable), and per second. */
  lost: number;
  lostPerSec: number;
  /** Gaps it is waiting to have repaired, and the out-of-order bytes it buffers. */
  gapsOpen: number;
  reorderBytes: number;
  /** Datagrams its kernel dropped (socket buffer full), whole socket. */
  kernelDrops: number;
  /** Bytes of received messages its application has not read yet (all sources): a slow reader. */
  readBacklogBytes: number;
  /** Smoothed time from noticing a gap to receiving its repair, ms (undefined before its first repair). */
  repairLatencyMs: number | undefined;
  /** Milliseconds since its last STATUS. */
  lastHeardMsAgo: number;
  state: ReceiverStateName;
}

/** One snapshot of the group. */
export interface GroupSnapshot {
  /** Wall-clock time of the snapshot, ms since the epoch. */
  time: number;
  /** The group, e.g. '239.255.0.1:5000'. */
  group: string;
  /** The observer's own session id. */
  self: string;
  members: MemberRow[];
  sources: SourceRow[];
  /** Worst first: live receivers that need a look, then dropped ones, then the rest; within each, most bytes behind (unacknowledged plus unread), most NAKs per second, most lost. */
  receivers: ReceiverRow[];
}
