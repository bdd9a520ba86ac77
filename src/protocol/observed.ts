/**
 * What a passive endpoint (EndpointConfig.passive) overhears of other
 * receivers: their STATUS (acknowledgements and health report) and their
 * NAKs, per (receiver, source). Bounded: at most MAX_OBSERVED records, and a
 * record not heard for OBSERVED_EXPIRY_MS is forgotten.
 */

import type { SourceInfo } from './api';
import type { StatusHealth, StatusPayload } from './payload';

/** Records kept at most (a receiver of several sources has one per source). */
export const MAX_OBSERVED = 4096;
/** A record not heard from for this long is forgotten (a receiver reports every statusIntervalMs). */
export const OBSERVED_EXPIRY_MS = 30_000;
/** A receiver silent this long (2.5 status intervals) is stale: everything its source sent since counts as behind. */
export const OBSERVED_STALE_MS = 500;

export interface ObservedRecord {
  receiver: SourceInfo;
  /** Session id of the source the receiver reports on. */
  sourceId: string;
  /** streamId → one past the highest sequence it has contiguously. */
  acks: Map<number, number>;
  health: StatusHealth | undefined;
  /** NAKs overheard from it to this source. */
  naks: number;
  lastHeardMs: number;
  /** When the record was created: its NAK count counts from here. */
  firstHeardMs: number;
  /** It said it is leaving (STATUS LEAVING). */
  left: boolean;
  /** Sequence numbers the source had sent (as far as this endpoint knew) that it had not acknowledged, when its latest STATUS arrived. */
  lagAtReport: number;
}

export class ObservedReceivers {
  private readonly records = new Map<string, ObservedRecord>();

  private record(receiver: SourceInfo, sourceId: string, nowMs: number): ObservedRecord | undefined {
    const key = `${receiver.id}/${sourceId}`;
    let r = this.records.get(key);
    if (r === undefined) {
      if (this.records.size >= MAX_OBSERVED) {
        this.expire(nowMs);
        if (this.records.size >= MAX_OBSERVED) return undefined;
      }
      r = { receiver, sourceId, acks: new Map(), health: undefined, naks: 0, lastHeardMs: nowMs, firstHeardMs: nowMs, left: false, lagAtReport: 0 };
      this.records.set(key, r);
    }
    r.lastHeardMs = nowMs;
    if (receiver.address !== undefined) r.receiver = receiver;
    return r;
  }

  /** `headOf(streamId)`: one past the highest sequence of the source's stream this endpoint knows exists (undefined: unknown). */
  onStatus(nowMs: number, receiver: SourceInfo, sourceId: string, status: StatusPayload, leaving: boolean, headOf: (streamId: number) => number | undefined): void {
    const r = this.record(receiver, sourceId, nowMs);
    if (r === undefined) return;
    for (const e of status.entries) if (e.nextSeq > (r.acks.get(e.streamId) ?? -1)) r.acks.set(e.streamId, e.nextSeq);
    let lag = 0;
    for (const [streamId, ack] of r.acks) {
      const head = headOf(streamId);
      if (head !== undefined && head > ack) lag += head - ack;
    }
    r.lagAtReport = lag;
    if (status.health !== undefined) r.health = status.health;
    r.left = leaving;
  }

  onNak(nowMs: number, receiver: SourceInfo, sourceId: string): void {
    const r = this.record(receiver, sourceId, nowMs);
    if (r !== undefined) r.naks++;
  }

  /** Forgets records not heard for OBSERVED_EXPIRY_MS. */
  expire(nowMs: number): void {
    for (const [k, r] of this.records) if (nowMs - r.lastHeardMs >= OBSERVED_EXPIRY_MS) this.records.delete(k);
  }

  /** Every record still remembered (expired ones forgotten first). */
  list(nowMs: number): ObservedRecord[] {
    this.expire(nowMs);
    return [...this.records.values()];
  }
}
