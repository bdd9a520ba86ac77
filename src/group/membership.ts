/**
 * The sans-IO group-membership core: SWIM (Das, Gupta, Motivala 2002) over
 * multicast. Every CONTROL datagram goes to the whole group, so every
 * member hears every heartbeat, probe, ack and piggybacked update; the core
 * uses that — a heartbeat per period instead of round-robin pings, an
 * overheard datagram from a probe target counts as its ack, an overheard
 * probe defers our own, updates stop once enough copies were heard — but
 * keeps SWIM's structure: direct probe, k indirect probes, suspicion refuted
 * by incarnation, piggybacked dissemination. It reads no clock and owns no
 * socket.
 *
 * This file is the coordinator: the member table, the ring of ids that picks
 * watchers, tombstones, suspicion and refutation, heartbeats and announces,
 * and encoding with piggybacked updates. Probing (PING, PING_REQ, ACK,
 * relays, target choice) is prober.ts; table sync (digest, SUMMARY, WANT,
 * RECORDS) is table-sync.ts; the piggyback queue is dissemination.ts; timer
 * scaling is timers.ts.
 */

import { InvalidArgumentValueError } from '../util/errors';
import { Fifo } from '../util/fifo';
import { DatagramType, HEADER_BYTES, sessionIdHex, type Header } from '../wire/header';
import type {
  MemberFilter, MemberInfo, Membership, MembershipConfig, MembershipEvent, MembershipEventType, MembershipStats, MembershipTuning, ScaledTimers,
} from './api';
import {
  bodyBytes, bucketOf, ControlFlag, ControlKind, decodeControl, encodeControl, PREFIX_BYTES, UPDATE_BYTES, UPDATE_COUNT_BYTES, UpdateState,
  type ControlBody, type MemberRecord, type Update,
} from './codec';
import * as C from './constants';
import { DEFAULT_MAX_DATAGRAM_BYTES } from '../protocol/constants';
import { entriesThatFit } from '../protocol/datagram-room';
import { Dissemination } from './dissemination';
import { Prober, type ProbedMember } from './prober';
import { TableSync } from './table-sync';
import { DEFAULT_MEMBERSHIP_TUNING, scaledTimers } from './timers';

interface Entry extends ProbedMember {
  name: string;
  metadata: Readonly<Record<string, string>>;
  observer: boolean;
  /** When a suspicion turns into death (state 'suspect' only). */
  suspectDeadlineMs: number;
}

interface Tombstone {
  state: 'dead' | 'left';
  incarnation: number;
  atMs: number;
  /** The record, when we knew it: a refutation brings the member back with it. */
  record: { name: string; metadata: Readonly<Record<string, string>>; observer: boolean } | undefined;
}

function checkConfig(c: MembershipConfig, maxDatagramBytes: number, metadata: [string, string][]): void {
  for (const [name, v] of [['sessionHi', c.sessionHi], ['sessionLo', c.sessionLo]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentValueError(`${name} must be a u32, got ${v}`);
  }
  if (c.sessionHi === 0 && c.sessionLo === 0) throw new InvalidArgumentValueError('the session id must not be 0');
  if (typeof c.name !== 'string' || Buffer.byteLength(c.name) > C.MAX_NAME_BYTES) throw new InvalidArgumentValueError(`name must be a string of at most ${C.MAX_NAME_BYTES} UTF-8 bytes`);
  const streamId = c.streamId ?? C.MEMBERSHIP_STREAM_ID;
  if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffff) throw new InvalidArgumentValueError(`streamId must be an integer in 0..65535, got ${streamId}`);
  if (!Number.isInteger(maxDatagramBytes) || maxDatagramBytes < 128 || maxDatagramBytes > 0xffff) throw new InvalidArgumentValueError(`maxDatagramBytes must be an integer in 128..65535, got ${maxDatagramBytes}`);
  if (metadata.length > C.MAX_METADATA_ENTRIES) throw new InvalidArgumentValueError(`metadata has ${metadata.length} entries, at most ${C.MAX_METADATA_ENTRIES} allowed`);
  for (const [k, v] of metadata) {
    if (typeof v !== 'string') throw new InvalidArgumentValueError(`metadata value of ${k} must be a string`);
    if (Buffer.byteLength(k) > C.MAX_METADATA_KEY_BYTES) throw new InvalidArgumentValueError(`metadata key ${k.slice(0, 20)}… is longer than ${C.MAX_METADATA_KEY_BYTES} bytes`);
  }
  // The larger of the two datagrams that carry them: our record in RECORDS (table sync).
  const recordsBytes = HEADER_BYTES + PREFIX_BYTES + bodyBytes({ kind: ControlKind.RECORDS, records: [{ id: '', incarnation: 0, observer: false, name: c.name, metadata }] }) + UPDATE_COUNT_BYTES;
  if (recordsBytes > maxDatagramBytes) throw new InvalidArgumentValueError(`name and metadata take ${recordsBytes} bytes in a member record; at most ${maxDatagramBytes} fit one datagram`);
}

class MembershipImpl implements Membership {
  private readonly selfId: string;
  private readonly hi: number;
  private readonly lo: number;
  private readonly name: string;
  private readonly observer: boolean;
  private readonly metadataList: [string, string][];
  private readonly metadata: Readonly<Record<string, string>>;
  private readonly streamId: number;
  private readonly maxDatagramBytes: number;
  private readonly random: () => number;
  private incarnation = 0;
  private joined = false;
  private left = false;
  private sequence = 0;

  private readonly table = new Map<string, Entry>();
  private readonly suspects = new Set<string>();
  private readonly tombstones = new Map<string, Tombstone>();
  private readonly queue: Dissemination;
  private readonly prober: Prober<Entry>;
  private readonly sync: TableSync;
  /** Member ids, self included, sorted: a member's watchers are its successors here. */
  private readonly ring: string[] = [];
  private nextAnnounceMs = 0;
  private nextHeartbeatMs = 0;
  /** A newcomer announced itself: heartbeat by then unless enough others did (Infinity: none pending). */
  private earlyHeartbeatMs = Infinity;
  private heartbeatsHeard = 0;

  private readonly out = new Fifo<Uint8Array>();
  private readonly events = new Fifo<MembershipEvent>();
  private readonly st: MembershipStats = {
    datagramsSent: 0, bytesSent: 0, datagramsReceived: 0, bytesReceived: 0, invalid: 0, ignored: 0,
    announcesSent: 0, heartbeatsSent: 0, summariesSent: 0, wantsSent: 0, recordsSent: 0, recordsLearned: 0, pingsSent: 0, acksSent: 0, pingReqsSent: 0, acksRelayed: 0, probesFailed: 0,
    suspicionsRaised: 0, refutations: 0, deathsDeclared: 0, updatesSent: 0, updatesDropped: 0,
    members: 0, tombstones: 0, piggybackQueued: 0, pendingRelays: 0,
  };

  constructor(config: MembershipConfig, private readonly tuning: MembershipTuning) {
    this.metadataList = Object.entries(config.metadata ?? {});
    this.maxDatagramBytes = config.maxDatagramBytes ?? DEFAULT_MAX_DATAGRAM_BYTES;
    checkConfig(config, this.maxDatagramBytes, this.metadataList);
    this.hi = config.sessionHi;
    this.lo = config.sessionLo;
    this.selfId = sessionIdHex(this.hi, this.lo);
    this.name = config.name;
    this.observer = config.observer === true;
    this.metadata = Object.freeze(Object.fromEntries(this.metadataList));
    this.streamId = config.streamId ?? C.MEMBERSHIP_STREAM_ID;
    this.random = config.random;
    this.queue = new Dissemination(tuning.maxPiggybackQueue, tuning.redundancy);
    this.prober = new Prober<Entry>({
      selfId: this.selfId,
      table: this.table,
      indirectProbes: tuning.indirectProbes,
      random: config.random,
      timers: () => this.timers(),
      watches: (id, nowMs) => this.watches(id, nowMs),
      send: (body) => this.send(body),
      probeFailed: (nowMs, e) => this.probeFailed(nowMs, e),
      counters: this.st,
    });
    this.sync = new TableSync({
      selfId: this.selfId,
      random: config.random,
      recordsIn: (buckets) => this.recordsIn(buckets),
      send: (body) => this.send(body, false),
      full: () => this.table.size >= this.tuning.maxMembers,
      bodyRoomBytes: this.maxDatagramBytes - HEADER_BYTES - PREFIX_BYTES - UPDATE_COUNT_BYTES,
      counters: this.st,
    });
    this.sync.added(this.selfId);
    this.ringInsert(this.selfId);
  }

  // ------------------------------------------------------------ public API

  join(nowMs: number): void {
    if (this.joined || this.left) return;
    this.joined = true;
    const t = this.timers();
    this.sendAnnounce();
    this.nextAnnounceMs = nowMs + this.announceGapMs(t);
    // A random phase, so members started together do not heartbeat together.
    this.nextHeartbeatMs = nowMs + this.random() * t.periodMs;
    this.prober.start(nowMs, t);
  }

  leave(_nowMs: number): void {
    if (!this.joined || this.left) return;
    for (let i = 0; i < this.tuning.leaveRepeats; i++) this.send({ kind: ControlKind.LEAVE });
    this.left = true;
    this.prober.clear();
    this.sync.clear();
    this.table.clear();
    this.suspects.clear();
    this.tombstones.clear();
  }

  handleDatagram(nowMs: number, datagram: Uint8Array, header: Header): void {
    const st = this.st;
    if (!this.joined || this.left || header.type !== DatagramType.CONTROL || header.streamId !== this.streamId || (header.sessionHi === this.hi && header.sessionLo === this.lo)) {
      st.ignored++;
      return;
    }
    st.datagramsReceived++;
    st.bytesReceived += datagram.length;
    if (datagram.length !== HEADER_BYTES + header.payloadLength) {
      st.invalid++;
      return;
    }
    const msg = decodeControl(datagram, HEADER_BYTES, datagram.length);
    if (msg === undefined || (header.sessionHi === 0 && header.sessionLo === 0)) {
      st.invalid++;
      return;
    }
    const sender = sessionIdHex(header.sessionHi, header.sessionLo);
    const b = msg.body;
    if (b.kind === ControlKind.ANNOUNCE) this.heardAnnounce(nowMs, sender, msg.incarnation, b.name, b.metadata, (header.flags & ControlFlag.OBSERVER) !== 0);
    else if (b.kind === ControlKind.LEAVE) this.heardLeave(nowMs, sender, msg.incarnation);
    else this.heardFrom(nowMs, sender, msg.incarnation);
    this.prober.handle(nowMs, sender, b);
    for (const u of msg.updates) {
      this.applyUpdate(nowMs, u);
      this.queue.overheard(u);
    }
    switch (b.kind) {
      case ControlKind.HEARTBEAT:
        this.heartbeatsHeard++;
        this.sync.heardDigest(nowMs, sender, b.count, b.digest);
        break;
      case ControlKind.SUMMARY:
        this.sync.heardSummary(nowMs, sender, b.first, b.buckets);
        break;
      case ControlKind.WANT:
        this.sync.heardWant(nowMs, b.target, b.buckets);
        break;
      case ControlKind.RECORDS:
        for (const r of b.records) this.heardRecord(nowMs, r);
        break;
      default:
        break;
    }
  }

  handleTimeout(nowMs: number): void {
    if (!this.joined || this.left) return;
    const t = this.timers();
    if (nowMs >= this.nextAnnounceMs) {
      this.sendAnnounce();
      this.nextAnnounceMs = nowMs + this.announceGapMs(t);
    }
    if (nowMs >= this.earlyHeartbeatMs) {
      this.earlyHeartbeatMs = Infinity;
      if (this.heartbeatsHeard < C.EARLY_HEARTBEATS) this.nextHeartbeatMs = nowMs;
    }
    if (nowMs >= this.nextHeartbeatMs) {
      this.sendHeartbeat();
      this.nextHeartbeatMs = nowMs + t.periodMs * (0.9 + 0.1 * this.random());
    }
    this.prober.handleTimeout(nowMs);
    this.sync.handleTimeout(nowMs);
    for (const id of this.suspects) {
      const e = this.table.get(id);
      if (e && nowMs >= e.suspectDeadlineMs) {
        this.st.deathsDeclared++;
        this.remove(nowMs, e, 'dead', e.incarnation);
        this.queue.push({ state: UpdateState.DEAD, id, incarnation: e.incarnation });
      }
    }
    this.prober.startProbeIfDue(nowMs, t);
    for (const [id, tomb] of this.tombstones) {
      if (nowMs - tomb.atMs < t.tombstoneMs) break; // insertion order is age order
      this.tombstones.delete(id);
    }
  }

  pollTransmit(): Uint8Array | undefined {
    return this.out.shift();
  }

  pollTimeout(): number | undefined {
    if (!this.joined || this.left) return undefined;
    let next = Math.min(this.nextAnnounceMs, this.nextHeartbeatMs, this.earlyHeartbeatMs, this.prober.nextDeadlineMs(), this.sync.nextDeadlineMs());
    for (const id of this.suspects) {
      const e = this.table.get(id);
      if (e) next = Math.min(next, e.suspectDeadlineMs);
    }
    return next;
  }

  pollEvent(): MembershipEvent | undefined {
    return this.events.shift();
  }

  members(filter?: MemberFilter): MemberInfo[] {
    if (!this.joined || this.left) return [];
    const all: MemberInfo[] = [this.selfInfo()];
    for (const e of this.table.values()) all.push(this.info(e));
    const pred = filter === undefined ? undefined : typeof filter === 'function' ? filter : (m: MemberInfo) => Object.entries(filter).every(([k, v]) => m.metadata[k] === v);
    const list = pred ? all.filter(pred) : all;
    return list.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  timers(): ScaledTimers {
    return scaledTimers(this.tuning, this.table.size + 1);
  }

  stats(): MembershipStats {
    return {
      ...this.st,
      updatesDropped: this.queue.dropped,
      members: this.table.size,
      tombstones: this.tombstones.size,
      piggybackQueued: this.queue.size,
      pendingRelays: this.prober.pendingRelays,
    };
  }

  // ------------------------------------------------------------ receive side

  /** The member itself announced: authoritative for its own record and incarnation. */
  private heardAnnounce(nowMs: number, id: string, incarnation: number, name: string, metadataList: [string, string][], observer: boolean): void {
    const record = { name, metadata: Object.freeze(Object.fromEntries(metadataList)), observer };
    if (this.table.has(id) || this.tombstones.has(id)) {
      this.heardFrom(nowMs, id, incarnation, record);
      return;
    }
    this.add(nowMs, id, incarnation, record);
    // A newcomer learns the table by sync, which a heartbeat's digest starts:
    // give it one soon rather than within a period, unless others do.
    if (this.earlyHeartbeatMs === Infinity) {
      this.earlyHeartbeatMs = nowMs + this.random() * C.SYNC_DELAY_MS;
      this.heartbeatsHeard = 0;
    }
  }

  /** A datagram from member `id` at `incarnation`: it is alive, and may be refuting a suspicion or not know it was declared dead. */
  private heardFrom(nowMs: number, id: string, incarnation: number, record?: Tombstone['record']): void {
    const e = this.table.get(id);
    if (e) {
      e.lastHeardMs = nowMs;
      if (incarnation > e.incarnation) {
        // A refutation (or a member that raised its incarnation) heard first-hand: spread it, so
        // that a member that lost the member's own datagrams does not time out a suspicion.
        this.raise(e, incarnation);
        this.queue.push({ state: UpdateState.ALIVE, id, incarnation });
      } else if (e.state === 'suspect' && this.queue.get(id) === undefined) {
        // It talks without refuting: it has not heard of the suspicion yet.
        this.queue.push({ state: UpdateState.SUSPECT, id, incarnation: e.incarnation });
      }
      return;
    }
    const tomb = this.tombstones.get(id);
    if (!tomb) return; // unknown: learned from its announce or by table sync
    // The member itself is talking, after we declared it dead: it was cut
    // off, not dead (a dead process sends nothing, and death takes seconds
    // to declare). Take it back at once; this is how partitions heal.
    // A left member is never taken back this way: its late datagrams are ignored.
    const rec = tomb.record ?? record;
    if (tomb.state !== 'dead' || !rec) return;
    this.add(nowMs, id, incarnation, rec);
    // Others may still hold it dead at this incarnation and take it back only
    // at a higher one: tell it it was suspected, so it refutes to everyone. At
    // a higher incarnation it has refuted already: spread that.
    this.queue.push({ state: incarnation <= tomb.incarnation ? UpdateState.SUSPECT : UpdateState.ALIVE, id, incarnation });
  }

  /** A member's record from RECORDS (table sync): learn a member we missed, never bring back one we buried at that incarnation. */
  private heardRecord(nowMs: number, r: MemberRecord): void {
    if (r.id === this.selfId) return;
    const e = this.table.get(r.id);
    if (e) {
      if (r.incarnation > e.incarnation) this.raise(e, r.incarnation);
      return;
    }
    const tomb = this.tombstones.get(r.id);
    if (tomb && (tomb.state === 'left' || r.incarnation <= tomb.incarnation)) return;
    this.st.recordsLearned++;
    this.add(nowMs, r.id, r.incarnation, { name: r.name, metadata: Object.freeze(Object.fromEntries(r.metadata)), observer: r.observer });
  }

  private heardLeave(nowMs: number, id: string, incarnation: number): void {
    const e = this.table.get(id);
    if (e) {
      const inc = Math.max(incarnation, e.incarnation);
      this.remove(nowMs, e, 'left', inc);
      this.queue.push({ state: UpdateState.LEFT, id, incarnation: inc });
    } else if (!this.tombstones.has(id)) {
      this.bury(nowMs, id, 'left', incarnation, undefined);
    }
  }

  private applyUpdate(nowMs: number, u: Update): void {
    if (u.id === this.selfId) {
      if (u.state !== UpdateState.ALIVE && u.incarnation >= this.incarnation) {
        // Refute (SWIM §4.2): a higher incarnation overrides the suspicion everywhere.
        this.incarnation = Math.min(0xffffffff, u.incarnation + 1);
        this.st.refutations++;
        this.queue.push({ state: UpdateState.ALIVE, id: this.selfId, incarnation: this.incarnation });
        this.sendAnnounce();
      }
      return;
    }
    const e = this.table.get(u.id);
    switch (u.state) {
      case UpdateState.ALIVE:
        if (e) {
          if (u.incarnation > e.incarnation) {
            this.raise(e, u.incarnation);
            this.queue.push(u);
          }
        } else {
          const tomb = this.tombstones.get(u.id);
          if (tomb && tomb.record && tomb.state === 'dead' && u.incarnation > tomb.incarnation) {
            this.add(nowMs, u.id, u.incarnation, tomb.record);
            this.queue.push(u);
          }
        }
        return;
      case UpdateState.SUSPECT:
        if (e && (u.incarnation > e.incarnation || (u.incarnation === e.incarnation && e.state === 'alive'))) {
          e.incarnation = u.incarnation;
          this.suspect(nowMs, e);
          this.queue.push(u);
        }
        return;
      case UpdateState.DEAD:
      case UpdateState.LEFT: {
        const state = u.state === UpdateState.DEAD ? 'dead' : 'left';
        if (e) {
          if (u.incarnation >= e.incarnation) {
            this.remove(nowMs, e, state, u.incarnation);
            this.queue.push(u);
          }
        } else {
          // Only news about a member we remember: gossip about an id whose
          // tombstone expired would otherwise re-create it and echo forever.
          const tomb = this.tombstones.get(u.id);
          if (tomb && u.incarnation > tomb.incarnation) {
            this.bury(nowMs, u.id, state, u.incarnation, tomb.record);
            this.queue.push(u);
          }
        }
        return;
      }
    }
  }

  // ------------------------------------------------------------ table

  private add(nowMs: number, id: string, incarnation: number, record: NonNullable<Tombstone['record']>): void {
    if (this.table.size >= this.tuning.maxMembers) {
      this.st.ignored++;
      return;
    }
    this.tombstones.delete(id);
    const e: Entry = {
      id, name: record.name, metadata: record.metadata, observer: record.observer, incarnation, state: 'alive', suspectDeadlineMs: 0,
      lastHeardMs: nowMs, lastProbedMs: nowMs, silenceJitter: this.random(),
    };
    this.table.set(id, e);
    this.sync.added(id);
    this.ringInsert(id);
    this.emit('join', e);
  }

  private raise(e: Entry, incarnation: number): void {
    e.incarnation = incarnation;
    if (e.state === 'suspect') {
      e.state = 'alive';
      this.suspects.delete(e.id);
      this.emit('alive', e);
    } else this.emit('update', e);
  }

  private suspect(nowMs: number, e: Entry): void {
    if (e.state === 'suspect') return;
    e.state = 'suspect';
    e.suspectDeadlineMs = nowMs + this.timers().suspicionTimeoutMs;
    this.suspects.add(e.id);
    this.emit('suspect', e);
  }

  private remove(nowMs: number, e: Entry, state: 'dead' | 'left', incarnation: number): void {
    this.table.delete(e.id);
    this.suspects.delete(e.id);
    e.incarnation = incarnation;
    this.emit(state === 'dead' ? 'dead' : 'leave', e);
    this.bury(nowMs, e.id, state, incarnation, { name: e.name, metadata: e.metadata, observer: e.observer });
    this.prober.removed(e.id);
    this.sync.removed(e.id);
    this.ringRemove(e.id);
  }

  private bury(nowMs: number, id: string, state: 'dead' | 'left', incarnation: number, record: Tombstone['record']): void {
    this.tombstones.delete(id);
    while (this.tombstones.size >= this.tuning.maxTombstones) {
      const oldest = this.tombstones.keys().next().value as string;
      this.tombstones.delete(oldest);
    }
    this.tombstones.set(id, { state, incarnation, atMs: nowMs, record });
  }

  // ------------------------------------------------------------ probing (prober.ts)

  /** The prober's probe of `e` failed while it was alive: suspect it and spread the news. */
  private probeFailed(nowMs: number, e: Entry): void {
    this.st.suspicionsRaised++;
    this.suspect(nowMs, e);
    this.queue.push({ state: UpdateState.SUSPECT, id: e.id, incarnation: e.incarnation });
    // Now, not at our next heartbeat: the suspect refutes the sooner it hears.
    this.sendHeartbeat();
  }

  // ------------------------------------------------------------ watchers

  /**
   * Whether we watch `id`: we are among the first `watchers` members after it
   * on the ring of ids, counting only members we have heard from within the
   * silence threshold. Skipping the silent ones keeps every member watched
   * when its successors went silent with it (a partition, a rack).
   */
  private watches(id: string, nowMs: number): boolean {
    const n = this.ring.length;
    const silenceMs = this.timers().silenceMs;
    let i = this.ringIndex(id);
    let counted = 0;
    for (let step = 1; step < n && counted < this.tuning.watchers; step++) {
      const next = this.ring[(i + step) % n]!;
      if (next === this.selfId) return true;
      const e = this.table.get(next);
      if (e && e.state === 'alive' && nowMs - e.lastHeardMs <= silenceMs) counted++;
    }
    return false;
  }

  /** Index of `id` in the ring, or where it would go. */
  private ringIndex(id: string): number {
    let lo = 0;
    let hi = this.ring.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ring[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private ringInsert(id: string): void {
    this.ring.splice(this.ringIndex(id), 0, id);
  }

  private ringRemove(id: string): void {
    const i = this.ringIndex(id);
    if (this.ring[i] === id) this.ring.splice(i, 1);
  }

  /** Records of our table (self included) in `buckets`, bucket by bucket, for a RECORDS answer. */
  private recordsIn(buckets: readonly number[]): MemberRecord[] {
    // One walk of the table, records grouped by bucket in the order asked.
    const byBucket = new Map<number, MemberRecord[]>();
    for (const b of buckets) byBucket.set(b, []);
    byBucket.get(bucketOf(this.selfId))?.push({ id: this.selfId, incarnation: this.incarnation, observer: this.observer, name: this.name, metadata: this.metadataList });
    for (const e of this.table.values()) {
      byBucket.get(bucketOf(e.id))?.push({ id: e.id, incarnation: e.incarnation, observer: e.observer, name: e.name, metadata: Object.entries(e.metadata) });
    }
    return [...byBucket.values()].flat();
  }

  // ------------------------------------------------------------ send side

  private announceGapMs(t: ScaledTimers): number {
    // Within (0.8, 1] × the interval: members drift apart, and a new member is still learned within one interval.
    return t.announceIntervalMs * (0.8 + 0.2 * this.random());
  }

  private sendHeartbeat(): void {
    this.send({ kind: ControlKind.HEARTBEAT, count: this.sync.size, digest: this.sync.digest });
    this.st.heartbeatsSent++;
  }

  private sendAnnounce(): void {
    this.send({ kind: ControlKind.ANNOUNCE, name: this.name, metadata: this.metadataList });
    this.st.announcesSent++;
  }

  /** Encodes `body` with as many piggybacked updates as fit (none when `piggyback` is false) and queues the datagram. */
  private send(body: ControlBody, piggyback = true): void {
    const max = piggyback ? entriesThatFit(this.maxDatagramBytes, PREFIX_BYTES + bodyBytes(body) + UPDATE_COUNT_BYTES, UPDATE_BYTES, Math.min(this.tuning.maxPiggybackPerDatagram, 255)) : 0;
    const updates = max > 0 ? this.queue.take(max, this.timers().retransmits) : [];
    const dg = encodeControl(
      { streamId: this.streamId, sessionHi: this.hi, sessionLo: this.lo, sequence: this.sequence++, flags: this.observer ? ControlFlag.OBSERVER : 0 },
      { incarnation: this.incarnation, body, updates },
    );
    this.st.updatesSent += updates.length;
    this.st.datagramsSent++;
    this.st.bytesSent += dg.length;
    this.out.push(dg);
  }

  private emit(type: MembershipEventType, e: Entry): void {
    this.events.push({ type, member: this.info(e) });
  }

  private info(e: Entry): MemberInfo {
    return { id: e.id, name: e.name, metadata: e.metadata, incarnation: e.incarnation, state: e.state, self: false, observer: e.observer };
  }

  private selfInfo(): MemberInfo {
    return { id: this.selfId, name: this.name, metadata: this.metadata, incarnation: this.incarnation, state: 'alive', self: true, observer: this.observer };
  }
}

/**
 * Creates a membership core. `tuning` overrides timers and budgets (tests
 * shorten them); omitted fields take the defaults of src/group/constants.ts.
 * Throws InvalidArgumentValueError for a config out of range (nothing is created).
 */
export function createMembership(config: MembershipConfig, tuning: Partial<MembershipTuning> = {}): Membership {
  return new MembershipImpl(config, { ...DEFAULT_MEMBERSHIP_TUNING, ...tuning });
}

export { DEFAULT_MEMBERSHIP_TUNING, scaledTimers } from './timers';
