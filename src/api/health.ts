/**
 * `channel.sources()` and `channel.receivers()`: the protocol core's health
 * records (src/protocol/api.ts, SourceHealth / ReceiverHealth) with member
 * names and per-second rates added. Rates are taken between this call and the
 * newest earlier call at least RATE_SPAN_MS before it (so a caller polling
 * every second gets per-second rates, one polling rarely the average since);
 * a source's first call takes them from when it was first heard, and so do a
 * receiver's NAK and repair rates (not those of its own report, which counts
 * from before this endpoint heard of it).
 */

import type { MemberInfo } from '../group/api';
import type { ReceiverHealth, ReceiverReport, ReceiverDropReason, SourceHealth, SourceInfo } from '../protocol/api';

/** Shortest span a rate is taken over, ms. */
export const RATE_SPAN_MS = 1000;
/** Shortest span a first sample's rate is taken over (from when the counters started). */
const MIN_FIRST_SPAN_MS = 100;
/** Samples kept per key (a caller polling faster than this per RATE_SPAN_MS thins them). */
const MAX_SAMPLES = 32;

/** One sender as this channel's receiving side sees it. Counters are cumulative since the source was first heard. */
export interface SourceStatus {
  source: SourceInfo;
  /** Its member name when it is a group member this channel knows, else undefined. */
  name: string | undefined;
  /** Messages delivered (to this channel) and DATA payload bytes received, per second. */
  messagesPerSec: number;
  bytesPerSec: number;
  messages: number;
  bytes: number;
  datagrams: number;
  /** Over its streams, the sum of one past the highest sequence known to exist (from its data or heartbeats). */
  headSeq: number;
  /** Sequence numbers known to exist not yet delivered, over its streams. */
  lagMessages: number;
  /** Gaps waiting for repair, and the sequence numbers missing in them. */
  gapsOpen: number;
  missing: number;
  naksSent: number;
  naksPerSec: number;
  repairsReceived: number;
  repairsPerSec: number;
  /** Loss reports ('loss' events) and the messages in them. */
  lossesDeclared: number;
  messagesLost: number;
  lostPerSec: number;
  /** Out-of-order and half-reassembled bytes held for it. */
  reorderBytes: number;
  reassemblyBytes: number;
  /** Smoothed time from noticing a gap to the repair that filled it, ms (undefined before the first). */
  repairLatencyMs: number | undefined;
  /** Receivers of this source this channel knows of, itself included (its NAK back-off scales with them). */
  groupSize: number;
  /** Datagrams this channel's socket dropped in the kernel (buffer full): the whole socket, not this source alone. */
  kernelDrops: number;
  lastHeardMsAgo: number;
  /** It said it is closing. */
  closed: boolean;
}

/** One receiver of a source, as the source (or a passive observer) sees it from its STATUS reports and NAKs. */
export interface ReceiverStatus {
  receiver: SourceInfo;
  /** Its member name when it is a group member this channel knows, else undefined. */
  name: string | undefined;
  /** The source it receives from: this channel's own session id, or (passive channel) whichever source it reports on. */
  sourceId: string;
  /** Sum over streams of one past the highest sequence it acknowledged. */
  ackSeq: number;
  /** Sequence numbers sent (observed: known to exist) it has not acknowledged, over all streams. */
  lagMessages: number;
  /** Bytes of them: own sends only (undefined on a passive channel). */
  lagBytes: number | undefined;
  /** NAKs received from it (passive: overheard), in total and per second. */
  naks: number;
  naksPerSec: number;
  /** Repair datagrams queued in answer to its NAKs (own sends only), in total and per second. */
  repairsSent: number | undefined;
  repairsPerSec: number | undefined;
  /** Its own report from its latest STATUS: NAKs sent, repairs received, messages lost, kernel drops, reorder bytes, gaps, repair latency. */
  report: ReceiverReport | undefined;
  /** Messages it declared lost, and repairs it received, per second (from its reports). */
  lostPerSec: number;
  repairsReceivedPerSec: number;
  lastHeardMsAgo: number;
  /** Flow control ('min') waits for it right now: it is the receiver holding the sender back. */
  holdsWindow: boolean;
  /** A group member (its liveness is the membership's). */
  member: boolean;
  /** 'live', or 'dropped' (for a minute after) with why. */
  state: 'live' | 'dropped';
  dropReason: ReceiverDropReason | undefined;
}

interface Sample {
  atMs: number;
  values: number[];
}

/** Per-key samples of cumulative counters → per-second rates. */
export class Rates {
  private readonly samples = new Map<string, Sample[]>();
  private seen = new Set<string>();

  /**
   * Records `values` for `key` at `nowMs` and returns their rates per second. On the first sample the rates are
   * taken from `sinceMs` (when the counters were 0) if that is at least MIN_FIRST_SPAN_MS ago, else they are 0.
   */
  rate(key: string, nowMs: number, values: number[], sinceMs?: number): number[] {
    this.seen.add(key);
    let list = this.samples.get(key);
    if (list === undefined) {
      list = [];
      this.samples.set(key, list);
    }
    while (list.length >= 2 && nowMs - list[1]!.atMs >= RATE_SPAN_MS) list.shift();
    if (list.length >= MAX_SAMPLES) list.splice(1, 1);
    let base = list[0];
    if (base === undefined && sinceMs !== undefined && nowMs - sinceMs >= MIN_FIRST_SPAN_MS) base = { atMs: sinceMs, values: values.map(() => 0) };
    list.push({ atMs: nowMs, values });
    if (base === undefined || nowMs <= base.atMs) return values.map(() => 0);
    const dt = (nowMs - base.atMs) / 1000;
    return values.map((v, i) => Math.max(0, (v - (base.values[i] ?? 0)) / dt));
  }

  /** Forgets the keys not asked about since the previous sweep. */
  sweep(): void {
    for (const key of this.samples.keys()) if (!this.seen.has(key)) this.samples.delete(key);
    this.seen = new Set();
  }
}

function namesOf(members: readonly MemberInfo[] | undefined): Map<string, string> {
  const names = new Map<string, string>();
  for (const m of members ?? []) names.set(m.id, m.name);
  return names;
}

export function sourceStatuses(list: SourceHealth[], nowMs: number, rates: Rates, members: readonly MemberInfo[] | undefined, kernelDrops: number): SourceStatus[] {
  const names = namesOf(members);
  const out: SourceStatus[] = [];
  for (const h of list) {
    if (!h.established) continue; // a session that never delivered anything is not a source yet (no 'source' event)
    const [messagesPerSec, bytesPerSec, naksPerSec, repairsPerSec, lostPerSec] = rates.rate(`s/${h.source.id}`, nowMs, [h.messages, h.bytes, h.naksSent, h.repairsReceived, h.messagesLost], h.firstHeardMs);
    out.push({
      source: h.source, name: names.get(h.source.id), messagesPerSec: messagesPerSec!, bytesPerSec: bytesPerSec!, messages: h.messages, bytes: h.bytes,
      datagrams: h.datagrams, headSeq: h.headSeq, lagMessages: Math.max(0, h.headSeq - h.deliveredSeq), gapsOpen: h.gapsOpen, missing: h.missing,
      naksSent: h.naksSent, naksPerSec: naksPerSec!, repairsReceived: h.repairsReceived, repairsPerSec: repairsPerSec!,
      lossesDeclared: h.lossesDeclared, messagesLost: h.messagesLost, lostPerSec: lostPerSec!, reorderBytes: h.reorderBytes,
      reassemblyBytes: h.reassemblyBytes, repairLatencyMs: h.repairLatencyMs, groupSize: h.groupSize, kernelDrops,
      lastHeardMsAgo: Math.max(0, nowMs - h.lastHeardMs), closed: h.closed,
    });
  }
  rates.sweep();
  return out;
}

export function receiverStatuses(list: ReceiverHealth[], nowMs: number, rates: Rates, members: readonly MemberInfo[] | undefined): ReceiverStatus[] {
  const names = namesOf(members);
  const out: ReceiverStatus[] = [];
  for (const h of list) {
    const key = `r/${h.receiver.id}/${h.sourceId}`;
    // What this endpoint counted starts when it first heard of the receiver; the receiver's own report counts from
    // earlier (an hour-old loss must not look like one per second now): its rates start at the second sample.
    const [naksPerSec, repairsPerSec] = rates.rate(key, nowMs, [h.naks, h.repairsSent ?? 0], h.firstHeardMs);
    const [lostPerSec, repairsReceivedPerSec] = rates.rate(`${key}/report`, nowMs, [h.report?.messagesLost ?? 0, h.report?.repairsReceived ?? 0]);
    out.push({
      receiver: h.receiver, name: names.get(h.receiver.id), sourceId: h.sourceId, ackSeq: h.ackSeq, lagMessages: h.lagMessages, lagBytes: h.lagBytes,
      naks: h.naks, naksPerSec: naksPerSec!, repairsSent: h.repairsSent, repairsPerSec: h.repairsSent === undefined ? undefined : repairsPerSec!,
      report: h.report, lostPerSec: lostPerSec!, repairsReceivedPerSec: repairsReceivedPerSec!, lastHeardMsAgo: Math.max(0, nowMs - h.lastHeardMs), holdsWindow: h.holdsWindow,
      member: h.member, state: h.state, dropReason: h.dropReason,
    });
  }
  rates.sweep();
  return out;
}
