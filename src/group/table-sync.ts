/**
 * Table sync: how a member learns the members it missed. Every HEARTBEAT
 * carries the sender's table digest (member count and the XOR of the ids'
 * low 32 bits, self included). A member whose digest differs from a
 * heartbeat's, when that sender knows at least as many members, asks the
 * sender for its SUMMARY (count and XOR per bucket of ids), WANTs the
 * records of the buckets where it lacks someone, and takes them from the
 * RECORDS answer. It is memberlist's push-pull, on multicast and by
 * difference: everything goes to the whole group, so one member's answer
 * fills everyone's gap in those buckets, and a member that overhears a
 * request for the same thing waits for that answer instead of asking again
 * (the suppression of NAK repair). A newcomer learns the whole table this
 * way in a few exchanges; a member that missed one announce, in one.
 *
 * The membership (membership.ts) owns the table; this keeps the digest as
 * members come and go (`added`, `removed`), decides when to ask, answers
 * what is asked of us, and hands received records to the membership.
 * Reads no clock, owns no socket.
 */

import { InvalidArgumentValueError } from '../util/errors';
import type { MembershipStats } from './api';
import { BUCKETS, bucketOf, ControlKind, idLow32, recordBytes, SUMMARY_BUCKET_BYTES, type BucketSummary, type ControlBody, type MemberRecord } from './codec';
import * as C from './constants';

/** The membership counters table sync adds to. */
export type SyncCounters = Pick<MembershipStats, 'summariesSent' | 'wantsSent' | 'recordsSent'>;

/** What table sync needs from the membership that runs it. */
export interface SyncHost {
  readonly selfId: string;
  /** Uniform in [0, 1): delays. */
  random(): number;
  /** The records of our table (self included) in `buckets`, bucket by bucket in that order. */
  recordsIn(buckets: readonly number[]): MemberRecord[];
  /** Queues one CONTROL datagram to the group. */
  send(body: ControlBody): void;
  /** Our table holds as many members as it may: asking for more would only repeat. */
  full(): boolean;
  /** Room for the body of one datagram after the prefix and the update count, for SUMMARY and RECORDS. */
  readonly bodyRoomBytes: number;
  readonly counters: SyncCounters;
}

/** A summary request or a bucket asked for by anyone this recently is answered to everyone: we wait for that answer. */
const OVERHEARD_MS = 300;
/** We answer a summary request at most this often (the answer goes to everyone). */
const SUMMARY_GAP_MS = 100;

export class TableSync {
  private readonly count = new Uint32Array(BUCKETS);
  private readonly xor = new Uint32Array(BUCKETS);
  private total = 0;
  private digestXor = 0;

  /** A digest mismatch seen: ask `peer` at `atMs` (Infinity: nothing pending). */
  private syncAtMs = Infinity;
  private syncPeer = '';
  /** The peer's table as its heartbeat described it. */
  private syncCount = 0;
  private syncDigest = 0;
  private lastSyncMs = -Infinity;
  /** WANT for buckets, waiting for its random delay: target, buckets, when it was decided. */
  private wantAtMs = Infinity;
  private wantTarget = '';
  private readonly wantBuckets = new Set<number>();
  private wantDecidedMs = 0;
  /** When anyone last asked for each bucket / for a summary (overheard or ours). */
  private readonly askedAt = new Float64Array(BUCKETS).fill(-Infinity);
  /** Whom each bucket was last asked of: another member's table may lack what we lack. */
  private readonly askedOf: string[] = new Array<string>(BUCKETS).fill('');
  private summaryAskedAtMs = -Infinity;
  private summarySentAtMs = -Infinity;

  constructor(private readonly host: SyncHost) {
    const minRoom = 1 + 1 + SUMMARY_BUCKET_BYTES;
    if (host.bodyRoomBytes < minRoom) throw new InvalidArgumentValueError(`a datagram must leave ${minRoom} bytes for a table summary`);
  }

  /** Member count of our table, self included. */
  get size(): number {
    return this.total;
  }

  /** The digest our heartbeats carry. */
  get digest(): number {
    return this.digestXor;
  }

  added(id: string): void {
    const b = bucketOf(id);
    const low = idLow32(id);
    this.count[b]!++;
    this.xor[b]! ^= low;
    this.total++;
    this.digestXor = (this.digestXor ^ low) >>> 0;
  }

  removed(id: string): void {
    const b = bucketOf(id);
    const low = idLow32(id);
    this.count[b]!--;
    this.xor[b]! ^= low;
    this.total--;
    this.digestXor = (this.digestXor ^ low) >>> 0;
  }

  /** Forgets what is pending (we left). */
  clear(): void {
    this.syncAtMs = Infinity;
    this.wantAtMs = Infinity;
    this.wantBuckets.clear();
  }

  /** When table sync next needs handleTimeout. */
  nextDeadlineMs(): number {
    return Math.min(this.syncAtMs, this.wantAtMs);
  }

  /** A heartbeat of `sender` with its table's count and digest. */
  heardDigest(nowMs: number, sender: string, count: number, digest: number): void {
    if (digest === this.digestXor && count === this.total) return;
    // A sender that knows fewer members is the one missing something: it asks.
    if (count < this.total || this.syncAtMs !== Infinity || this.host.full()) return;
    this.syncPeer = sender;
    this.syncCount = count;
    this.syncDigest = digest;
    // At most once per sync interval: a sync whose answer was lost is asked again then.
    this.syncAtMs = Math.max(nowMs, this.lastSyncMs + C.SYNC_INTERVAL_MS) + this.host.random() * C.SYNC_DELAY_MS;
  }

  /** A SUMMARY (or part of one) from `sender`: WANT the buckets where it knows someone we do not. */
  heardSummary(nowMs: number, sender: string, first: number, buckets: readonly BucketSummary[]): void {
    if (this.host.full()) return;
    for (let i = 0; i < buckets.length; i++) {
      const b = first + i;
      const theirs = buckets[i]!;
      const lacking = theirs.count > this.count[b]! || (theirs.count === this.count[b]! && theirs.xor !== this.xor[b]);
      if (!lacking || (nowMs - this.askedAt[b]! < OVERHEARD_MS && this.askedOf[b] === sender)) continue;
      if (this.wantAtMs !== Infinity && this.wantTarget !== sender) continue; // one target at a time
      if (this.wantAtMs === Infinity) {
        this.wantTarget = sender;
        this.wantDecidedMs = nowMs;
        this.wantAtMs = nowMs + this.host.random() * C.SYNC_DELAY_MS;
      }
      this.wantBuckets.add(b);
    }
  }

  /** A WANT of anyone: answered by us if we are its target, else noted so we do not ask the same. */
  heardWant(nowMs: number, target: string, buckets: readonly number[]): void {
    if (target === this.host.selfId) {
      if (buckets.length === 0) this.sendSummary(nowMs);
      else this.sendRecords(buckets);
      return;
    }
    if (buckets.length === 0) this.summaryAskedAtMs = nowMs;
    for (const b of buckets) {
      this.askedAt[b] = nowMs;
      this.askedOf[b] = target;
    }
  }

  handleTimeout(nowMs: number): void {
    if (nowMs >= this.wantAtMs) {
      this.wantAtMs = Infinity;
      // Buckets someone else asked of the same member since we decided are on their way.
      const buckets = [...this.wantBuckets].filter((b) => this.askedAt[b]! < this.wantDecidedMs || this.askedOf[b] !== this.wantTarget).sort((a, b) => a - b);
      this.wantBuckets.clear();
      if (buckets.length > 0) this.sendWant(nowMs, this.wantTarget, buckets);
    }
    if (nowMs >= this.syncAtMs) {
      this.syncAtMs = Infinity;
      // Learned meanwhile (an answer to someone else, an announce): nothing to ask.
      if (this.syncDigest === this.digestXor && this.syncCount === this.total) return;
      this.lastSyncMs = nowMs;
      // Someone just asked for a summary: its answer reaches us too.
      if (nowMs - this.summaryAskedAtMs >= OVERHEARD_MS) this.sendWant(nowMs, this.syncPeer, []);
    }
  }

  private sendWant(nowMs: number, target: string, buckets: number[]): void {
    if (buckets.length === 0) this.summaryAskedAtMs = nowMs;
    for (const b of buckets) {
      this.askedAt[b] = nowMs;
      this.askedOf[b] = target;
    }
    this.host.send({ kind: ControlKind.WANT, target, buckets });
    this.host.counters.wantsSent++;
  }

  private sendSummary(nowMs: number): void {
    if (nowMs - this.summarySentAtMs < SUMMARY_GAP_MS) return;
    this.summarySentAtMs = nowMs;
    const perDatagram = Math.min(BUCKETS, Math.floor((this.host.bodyRoomBytes - 2) / SUMMARY_BUCKET_BYTES));
    for (let first = 0; first < BUCKETS; first += perDatagram) {
      const buckets: BucketSummary[] = [];
      for (let b = first; b < Math.min(BUCKETS, first + perDatagram); b++) buckets.push({ count: this.count[b]!, xor: this.xor[b]! });
      this.host.send({ kind: ControlKind.SUMMARY, first, buckets });
      this.host.counters.summariesSent++;
    }
  }

  private sendRecords(buckets: readonly number[]): void {
    const room = this.host.bodyRoomBytes - 1;
    let batch: MemberRecord[] = [];
    let bytes = 0;
    const flush = () => {
      if (batch.length === 0) return;
      this.host.send({ kind: ControlKind.RECORDS, records: batch });
      this.host.counters.recordsSent += batch.length;
      batch = [];
      bytes = 0;
    };
    for (const r of this.host.recordsIn([...new Set(buckets)])) {
      const n = recordBytes(r);
      if (n > room) continue; // a member whose record cannot fit our datagrams is learned from its own announce
      if (bytes + n > room || batch.length === 255) flush();
      batch.push(r);
      bytes += n;
    }
    flush();
  }
}
