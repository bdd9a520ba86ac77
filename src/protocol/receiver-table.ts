/**
 * The sender's view of its receivers, learnt from the STATUS datagrams they
 * multicast: per receiver and stream, the next sequence it needs (everything
 * below is delivered or given up), its free buffer, and when it was last heard.
 */

import type { SourceInfo } from './api';
import type { StatusHealth } from './payload';

export interface ReceiverRecord {
  readonly info: SourceInfo;
  lastHeardMs: number;
  /** When the record was created: its NAK and repair counts count from here. */
  readonly firstHeardMs: number;
  /** streamId → one past the highest sequence the receiver has contiguously. */
  readonly acks: Map<number, number>;
  /** What it advertised its buffers can still take, bytes (Infinity until its first status with entries). */
  freeBytes: number;
  /** 'min': the sender's transmitted-bytes total up to which this receiver can take data (see Sender.updateLimit). */
  limitBytes: number;
  /** Fell out of the window under 'max' (reported once until it catches up). */
  lagging: boolean;
  naks: number;
  /** Repair datagrams queued in answer to its NAKs. */
  repairs: number;
  /** Its latest health report (STATUS with HEALTH). */
  health: StatusHealth | undefined;
  /**
   * A live group member (src/group/grouped-endpoint.ts): its liveness is the
   * membership's, so it never expires by silence; it is removed when the
   * group declares it dead or it leaves.
   */
  member: boolean;
}

export class ReceiverTable {
  readonly byKey = new Map<string, ReceiverRecord>();

  get size(): number {
    return this.byKey.size;
  }

  /** Updates (or creates, returning true) the record of `key`. */
  upsert(key: string, info: SourceInfo, nowMs: number): { record: ReceiverRecord; created: boolean } {
    let record = this.byKey.get(key);
    const created = record === undefined;
    if (!record) {
      record = { info, lastHeardMs: nowMs, firstHeardMs: nowMs, acks: new Map(), freeBytes: Infinity, limitBytes: Infinity, lagging: false, naks: 0, repairs: 0, health: undefined, member: false };
      this.byKey.set(key, record);
    }
    record.lastHeardMs = nowMs;
    return { record, created };
  }

  /** Removes and returns the receiver `key`, if known. */
  remove(key: string): ReceiverRecord | undefined {
    const r = this.byKey.get(key);
    if (r) this.byKey.delete(key);
    return r;
  }

  /**
   * Removes and returns receivers silent for `timeoutMs` (group members excepted). The same sum as
   * nextExpiryMs: `now - last >= timeout` can be false at the very time it names (floating point), and the
   * sender would wake at that time forever.
   */
  expire(nowMs: number, timeoutMs: number): ReceiverRecord[] {
    const gone: ReceiverRecord[] = [];
    for (const [key, r] of this.byKey) {
      if (!r.member && nowMs >= r.lastHeardMs + timeoutMs) {
        this.byKey.delete(key);
        gone.push(r);
      }
    }
    return gone;
  }

  /** Earliest time a receiver would expire, or undefined. */
  nextExpiryMs(timeoutMs: number): number | undefined {
    let min: number | undefined;
    for (const r of this.byKey.values()) {
      if (r.member) continue;
      const t = r.lastHeardMs + timeoutMs;
      if (min === undefined || t < min) min = t;
    }
    return min;
  }

  /**
   * Lowest and highest ack on a stream over receivers that reported it
   * (undefined when none did). A group member that has not reported the
   * stream yet counts as needing it from its first sequence (0): it joined
   * before the stream began, and will report within a status interval.
   */
  ackBounds(streamId: number): { min: number; max: number } | undefined {
    let min = Infinity;
    let max = -Infinity;
    for (const r of this.byKey.values()) {
      let a = r.acks.get(streamId);
      if (a === undefined) {
        if (!r.member) continue;
        a = 0;
      }
      if (a < min) min = a;
      if (a > max) max = a;
    }
    return min === Infinity ? undefined : { min, max };
  }
}
