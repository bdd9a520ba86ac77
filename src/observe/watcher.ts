/**
 * A passive observer of a group: joins it as an observer member (senders
 * never pace to it), overhears every source and every receiver's STATUS, and
 * turns what the channel's public `sources()`, `receivers()` and
 * `group.members()` say into a {@link GroupSnapshot} every `intervalMs`.
 * `blipcast top` prints the snapshots, `blipcast dashboard` streams them.
 */

import { EventEmitter } from 'node:events';
import { open, type Channel, type GroupKeyInput, type TransportChoice } from '../index';
import type { GroupSnapshot, MemberRow, SourceRow } from './types';

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
  private readonly counts = new Map<string, { messages: number; bytes: number; prevMessages: number; prevBytes: number; prevAt: number; address: string | undefined }>();

  constructor(readonly channel: Channel, private readonly group: string, intervalMs: number) {
    super();
    channel.on('messages', (batch) => {
      let c = this.counts.get(batch.source.id);
      if (!c) {
        c = { messages: 0, bytes: 0, prevMessages: 0, prevBytes: 0, prevAt: Date.now(), address: batch.source.address };
        this.counts.set(batch.source.id, c);
      }
      c.messages += batch.count;
      for (let i = 0; i < batch.count; i++) c.bytes += batch.length(i);
    });
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
    const now = Date.now();
    const group = this.channel.group;
    const members: MemberRow[] = (group?.members() ?? []).map((m) => ({
      id: m.id, name: m.name, state: m.state, metadata: { ...m.metadata }, observer: false, self: m.self,
    }));
    const nameOf = (id: string): string => members.find((m) => m.id === id)?.name ?? '';
    const sources: SourceRow[] = [];
    for (const [id, c] of this.counts) {
      const dt = Math.max(1, now - c.prevAt) / 1000;
      sources.push({
        id, name: nameOf(id), address: c.address,
        messagesPerSec: (c.messages - c.prevMessages) / dt, bytesPerSec: (c.bytes - c.prevBytes) / dt,
        messages: c.messages, bytes: c.bytes, headSeq: 0, receivers: 0, worstLagMessages: 0,
      });
      c.prevMessages = c.messages;
      c.prevBytes = c.bytes;
      c.prevAt = now;
    }
    return { time: now, group: this.group, self: this.channel.info.sessionId, members, sources, receivers: [] };
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.channel.close();
  }
}

/** Opens a passive observer on `options.group`; close it with `close()`. */
export async function watchGroup(options: WatchOptions): Promise<GroupWatcher> {
  const channel = await open({
    group: options.group,
    ...(options.interface !== undefined ? { interface: options.interface } : {}),
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(options.key !== undefined ? { key: options.key } : {}),
    ...(options.transport !== undefined ? { transport: options.transport } : {}),
    member: { name: options.name ?? 'blipcast-top' },
  });
  return new GroupWatcher(channel, options.group, options.intervalMs ?? 1000);
}
