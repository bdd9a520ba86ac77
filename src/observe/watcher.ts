/**
 * A passive observer of a group: a channel opened with `passive: true` and
 * joined as an observer member (senders never pace to it; it sends no STATUS
 * or NAK), which overhears every source and every receiver's STATUS. Every
 * `intervalMs` it turns the channel's public `sources()`, `receivers()` and
 * `group.members()` into a {@link GroupSnapshot}. `blipcast top` prints the
 * snapshots, `blipcast dashboard` streams them.
 */

import { EventEmitter } from 'node:events';
import { open, type Channel, type GroupKeyInput, type ReceiverStatus, type SourceStatus, type TransportChoice } from '../index';
import { isTroubled } from './format';
import type { GroupSnapshot, MemberRow, ReceiverRow, SourceRow } from './types';

export interface WatchOptions {
  /** 'address:port' of the group. */
  group: string;
  interface?: string;
  ttl?: number;
  key?: GroupKeyInput;
  transport?: TransportChoice;
  /** Member name of the observer (default 'blipcast-top'). */
  name?: string;
  /** Time between snapshots, ms (default 1000). */
  intervalMs?: number;
}

export interface GroupWatcherEvents {
  snapshot: [snapshot: GroupSnapshot];
  error: [err: Error];
}

export class GroupWatcher extends EventEmitter<GroupWatcherEvents> {
  private timer: NodeJS.Timeout | undefined;
  private latest: GroupSnapshot;

  /** `channel` must be passive (see {@link watchGroup}); the watcher reads nothing from it but its health. */
  constructor(readonly channel: Channel, private readonly group: string, intervalMs: number) {
    super();
    // Messages are not the point: drop them as they come rather than buffer them.
    channel.on('messages', () => undefined);
    channel.on('error', (err) => this.emit('error', err));
    this.latest = this.take();
    this.timer = setInterval(() => {
      this.latest = this.take();
      this.emit('snapshot', this.latest);
    }, intervalMs);
    this.timer.unref?.();
  }

  /** The latest snapshot (taken every intervalMs). */
  snapshot(): GroupSnapshot {
    return this.latest;
  }

  /** Takes a snapshot now. */
  take(): GroupSnapshot {
    return buildSnapshot(this.group, this.channel, Date.now());
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.channel.close();
  }
}

/** One snapshot of what `channel` (a passive group member) sees. */
export function buildSnapshot(group: string, channel: Channel, time: number): GroupSnapshot {
  const members: MemberRow[] = (channel.group?.members() ?? []).map((m) => ({
    id: m.id, name: m.name, state: m.state, metadata: { ...m.metadata }, observer: m.observer, self: m.self,
  }));
  const names = new Map(members.map((m) => [m.id, m.name]));
  const statuses = channel.sources();
  const bySource = new Map<string, SourceStatus>(statuses.map((s) => [s.source.id, s]));
  const receivers = channel.receivers().map((r) => receiverRow(r, names, bySource.get(r.sourceId)));
  receivers.sort(worstFirst);
  const sources: SourceRow[] = statuses.map((s) => {
    const mine = receivers.filter((r) => r.sourceId === s.source.id && r.state === 'live');
    return {
      id: s.source.id, name: s.name ?? '', address: s.source.address, messagesPerSec: s.messagesPerSec, bytesPerSec: s.bytesPerSec,
      messages: s.messages, bytes: s.bytes, headSeq: s.headSeq, receivers: mine.length,
      worstLagMessages: mine.reduce((w, r) => Math.max(w, r.lagMessages), 0),
    };
  });
  sources.sort((a, b) => b.bytesPerSec - a.bytesPerSec || a.id.localeCompare(b.id));
  return { time, group, self: channel.info.sessionId, members, sources, receivers };
}

function receiverRow(r: ReceiverStatus, names: Map<string, string>, source: SourceStatus | undefined): ReceiverRow {
  // The observer knows what the source sends, not what the receiver holds: bytes behind ≈ messages behind × mean message size.
  const meanBytes = source !== undefined && source.messages > 0 ? source.bytes / source.messages : 0;
  const report = r.report;
  return {
    id: r.receiver.id, name: r.name ?? '', address: r.receiver.address, sourceId: r.sourceId, sourceName: names.get(r.sourceId) ?? '',
    ackSeq: r.ackSeq, lagMessages: r.lagMessages, lagBytes: r.lagBytes ?? Math.round(r.lagMessages * meanBytes),
    naksPerSec: r.naksPerSec, naks: r.naks, repairsPerSec: r.repairsReceivedPerSec, repairs: report?.repairsReceived ?? 0,
    lost: report?.messagesLost ?? 0, lostPerSec: r.lostPerSec, gapsOpen: report?.gapsOpen ?? 0, reorderBytes: report?.reorderBytes ?? 0,
    kernelDrops: report?.kernelDrops ?? 0, readBacklogBytes: report?.readBacklogBytes ?? 0, repairLatencyMs: report?.repairLatencyMs, lastHeardMsAgo: r.lastHeardMsAgo, state: r.state,
  };
}

/**
 * Worst first: live receivers that need a look (isTroubled), then dropped ones, then the rest; within each, most
 * bytes behind (unacknowledged plus unread), most NAKs per second, most lost.
 */
export function worstFirst(a: ReceiverRow, b: ReceiverRow): number {
  return rank(a) - rank(b) || behind(b) - behind(a) || b.naksPerSec - a.naksPerSec || b.lost - a.lost || a.id.localeCompare(b.id);
}

function rank(r: ReceiverRow): number {
  if (r.state !== 'live') return 1;
  return isTroubled(r) ? 0 : 2;
}

function behind(r: ReceiverRow): number {
  return r.lagBytes + r.readBacklogBytes;
}

/** Opens a passive observer on `options.group`; close it with `close()`. */
export async function watchGroup(options: WatchOptions): Promise<GroupWatcher> {
  const channel = await open({
    group: options.group,
    ...(options.interface !== undefined ? { interface: options.interface } : {}),
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(options.key !== undefined ? { key: options.key } : {}),
    ...(options.transport !== undefined ? { transport: options.transport } : {}),
    passive: true,
    member: { name: options.name ?? 'blipcast-top' },
  });
  return new GroupWatcher(channel, options.group, options.intervalMs ?? 1000);
}
