/**
 * The receiving half of an endpoint: the table of sources (keyed by session
 * id), what each received datagram type does to them, their timers (NAKs,
 * status, source timeout) and the datagrams those timers send.
 */

import { DatagramType, HEADER_BYTES, sessionIdHex, type Header } from '../wire/header';
import type { LossReason, ReceiverHealth, SourceHealth, SourceInfo } from './api';
import { MAX_ENTRIES_PER_CONTROL, MAX_PEERS_PER_SOURCE, MAX_RANGES_PER_NAK, MAX_REMEMBERED_SESSIONS, STATUS_PROGRESS_BYTES } from './constants';
import {
  decodeHeartbeat, decodeNak, decodeNcf, encodeNak, encodeStatus, HeartbeatFlag, NcfReason,
  NO_REPAIR_LATENCY, RANGE_BYTES, reportOf, NAK_FIXED_BYTES, STATUS_ENTRY_BYTES, STATUS_FIXED_BYTES, STATUS_HEALTH_BYTES,
  StatusFlag, type NakPayload, type Origin, type SeqRange, type StatusEntry, type StatusHealth, type StatusPayload,
} from './payload';
import { OBSERVED_STALE_MS, ObservedReceivers } from './observed';
import { entriesPerDatagram } from './datagram-room';
import type { ReceiveContext } from './receive-context';
import { SourceState } from './source';
import { TimerHeap } from './timer-heap';

type From = { address: string; port: number } | undefined;

/** The receiver that sent a NAK or STATUS (header session, datagram source address). */
function receiverInfo(h: Header, from: From): SourceInfo {
  return { id: sessionIdHex(h.sessionHi, h.sessionLo), address: from?.address, port: from?.port };
}

/** Sessions that ended by closing or restarting are ignored this long afterwards (their last heartbeats linger). */
const GONE_MEMORY_FACTOR = 4;

export class Receiver {
  readonly sources = new Map<string, SourceState>();
  /** close() was called: this endpoint said goodbye and sends nothing more as a receiver. */
  private leaving = false;
  /**
   * Sessions that closed or restarted, oldest first: their stragglers must not
   * recreate them for GONE_MEMORY_FACTOR × sourceTimeoutMs (their last
   * heartbeats linger), and a closed sender still lingering gets our final
   * status again (the first may have been lost) each time it heartbeats.
   */
  private readonly ended = new Map<string, { atMs: number; hi: number; lo: number; entries: StatusEntry[] }>();
  /**
   * Sessions that timed out → where their streams ended. Kept without a time
   * limit (a replay even an hour later must not be delivered again), at most
   * MAX_REMEMBERED_SESSIONS, oldest forgotten first: one that speaks again
   * resumes there (`resumeAt`), so nothing is delivered twice.
   */
  private readonly timedOut = new Map<string, StatusEntry[]>();
  private readonly byAddress = new Map<string, SourceState>();
  /**
   * Sources on probation (nothing of theirs reached the application yet), in
   * the order they appeared: those heard once, then those heard more often.
   * When the table or the total reorder memory is full, they are forgotten in
   * that order (see {@link Receiver.evictProbation}). Entries of sources that
   * have since been established or removed are skipped and dropped lazily.
   */
  private readonly heardOnce = new Map<string, SourceState>();
  private readonly heardMore = new Map<string, SourceState>();
  /** A new session from the address of a live one: the old one ends as 'restarted' once the new one is established. */
  private readonly restartOf = new Map<SourceState, SourceState>();
  private readonly ctx: ReceiveContext;
  /** Every tracked source, filed by when its next timer may be due (see timer-heap.ts). */
  private readonly timers = new TimerHeap<SourceState>();
  private lastHi = -1;
  private lastLo = -1;
  private lastSource: SourceState | undefined;
  private readonly origin: Origin;
  /** The application's unread messages used most of the read budget (see setReadBacklog). */
  private readStarved = false;
  /** EndpointConfig.passive: what it overhears of other receivers; undefined on an ordinary endpoint. */
  readonly observed: ObservedReceivers | undefined;

  constructor(ctx: Omit<ReceiveContext, 'timers' | 'relieveTotalReorder'>) {
    this.ctx = { ...ctx, timers: this.timers, relieveTotalReorder: (nowMs) => this.relieveTotalReorder(nowMs) };
    this.origin = { sessionHi: ctx.config.sessionHi, sessionLo: ctx.config.sessionLo, checksum: ctx.config.checksum !== false };
    this.observed = ctx.config.passive === true ? new ObservedReceivers() : undefined;
  }

  private lookup(h: Header): SourceState | undefined {
    if (h.sessionHi === this.lastHi && h.sessionLo === this.lastLo && this.lastSource) return this.lastSource;
    const s = this.sources.get(sessionIdHex(h.sessionHi, h.sessionLo));
    if (s) {
      this.lastHi = h.sessionHi;
      this.lastLo = h.sessionLo;
      this.lastSource = s;
    }
    return s;
  }

  /** The source that sent a DATA or HEARTBEAT datagram, created on first sight. */
  private sourceOf(nowMs: number, h: Header, from: From): SourceState | undefined {
    const known = this.lookup(h);
    if (known) {
      known.lastHeardMs = nowMs;
      if (++known.datagrams === 2 && !known.established && this.heardOnce.delete(known.key)) this.heardMore.set(known.key, known);
      return known;
    }
    const key = sessionIdHex(h.sessionHi, h.sessionLo);
    const ended = this.ended.get(key);
    if (ended) {
      const lingering = (h.flags & (HeartbeatFlag.CLOSED | HeartbeatFlag.FINAL)) === HeartbeatFlag.CLOSED;
      if (h.type === DatagramType.HEARTBEAT && lingering && ended.entries.length > 0) this.pushStatus(ended.hi, ended.lo, ended.entries);
      return undefined;
    }
    if (this.sources.size >= this.ctx.tuning.maxSources && !this.evictProbation()) {
      // Every tracked source has delivered data: they keep their places, the newcomer waits for one to end.
      this.ctx.limits.hit('sources');
      return undefined;
    }
    const s = new SourceState(key, h.sessionHi, h.sessionLo, { id: key, address: from?.address, port: from?.port }, nowMs, this.ctx);
    s.datagrams = 1;
    this.sources.set(key, s);
    this.timers.add(s, s.nextDueMs());
    this.heardOnce.set(key, s);
    if (from) {
      // A new session from the address of a live one: that sender restarted. The old one
      // is ended once the new one is established, so one forged datagram cannot end it.
      const prev = this.byAddress.get(`${from.address}:${from.port}`);
      if (prev) this.restartOf.set(s, prev);
      else this.byAddress.set(`${from.address}:${from.port}`, s);
    }
    this.ctx.stats.sources = this.sources.size;
    const resumeAt = this.timedOut.get(key);
    if (resumeAt) {
      // Back after a timeout (a partition healed, a long pause): go on from where its
      // streams ended; older datagrams are duplicates, newer gaps are NAKed as usual.
      this.timedOut.delete(key);
      for (const e of resumeAt) s.stream(e.streamId)?.resumeAt(e.nextSeq, nowMs);
    }
    return s;
  }

  /** A source just established (or was already): ends the session it replaces, if any. */
  private settleRestart(s: SourceState, nowMs: number): void {
    if (!s.established || this.restartOf.size === 0) return;
    const prev = this.restartOf.get(s);
    if (prev === undefined) return;
    this.restartOf.delete(s);
    if (this.sources.get(prev.key) === prev) this.endSource(prev, 'restarted', nowMs);
    if (s.info.address !== undefined && this.sources.get(s.key) === s) this.byAddress.set(`${s.info.address}:${s.info.port}`, s);
  }

  /**
   * Forgets one source on probation to make room: the oldest of those heard
   * only once, else the oldest of those heard more often. With `withBytes`,
   * only a source that buffers something (to free reorder memory). Returns
   * false when there is none: every source has delivered data.
   */
  private evictProbation(withBytes = false): boolean {
    for (const tier of [this.heardOnce, this.heardMore]) {
      for (const [key, s] of tier) {
        if (s.established || this.sources.get(key) !== s) {
          tier.delete(key);
          continue;
        }
        if (withBytes && s.reorderBytes === 0) continue;
        tier.delete(key);
        this.discardSource(s, 'memory');
        return true;
      }
    }
    return false;
  }

  /**
   * Drops a source on probation with all it holds, delivering and reporting
   * nothing (not even 'source-gone': it never had a 'source' event). Nothing of
   * it was ever seen, so if it speaks again it is simply new.
   */
  private discardSource(s: SourceState, reason: 'memory' | 'timeout'): void {
    s.discard();
    this.removeSource(s);
    if (reason === 'memory') this.ctx.limits.hit('sources-evicted');
  }

  private removeSource(s: SourceState): void {
    this.sources.delete(s.key);
    this.timers.remove(s);
    this.heardOnce.delete(s.key);
    this.heardMore.delete(s.key);
    this.restartOf.delete(s);
    if (s.info.address !== undefined && this.byAddress.get(`${s.info.address}:${s.info.port}`) === s) this.byAddress.delete(`${s.info.address}:${s.info.port}`);
    if (this.lastSource === s) {
      this.lastSource = undefined;
      this.lastHi = this.lastLo = -1;
    }
    this.ctx.stats.sources = this.sources.size;
  }

  /**
   * The reorder bytes of all sources passed maxTotalReorderBytes: sources on
   * probation that buffer something are forgotten first (oldest one-datagram
   * sources first); then the source buffering the most gives up its oldest gaps.
   */
  private relieveTotalReorder(nowMs: number): void {
    const cap = this.ctx.tuning.maxTotalReorderBytes;
    const totals = this.ctx.totals;
    while (totals.reorderBytes > cap) {
      if (this.evictProbation(true)) continue;
      let largest: SourceState | undefined;
      for (const s of this.sources.values()) if (largest === undefined || s.reorderBytes > largest.reorderBytes) largest = s;
      if (largest === undefined || largest.reorderBytes === 0) return;
      const n = largest.releaseRound(nowMs, largest.reorderBytes - (totals.reorderBytes - cap));
      if (n === 0) return;
      // A closed source may be settled now: the next timeout ends it.
      if (largest.closed) largest.dueBy(nowMs);
      this.ctx.limits.hit('total-reorder', n);
    }
  }

  private endSource(s: SourceState, reason: 'timeout' | 'closed' | 'restarted' | 'memory', nowMs: number): void {
    s.end();
    // A closing sender lingers until its receivers acknowledge everything: tell it where we ended.
    const finalEntries = reason === 'closed' ? this.statusEntries(s) : [];
    if (finalEntries.length > 0) this.pushStatus(s.hi, s.lo, finalEntries);
    this.removeSource(s);
    if (reason === 'closed' || reason === 'restarted') {
      // Bounded like timedOut: a flood of sessions that close at once cannot grow it for the 20 s they are kept. Oldest first.
      if (this.ended.size >= MAX_REMEMBERED_SESSIONS) this.ended.delete(this.ended.keys().next().value!);
      this.ended.set(s.key, { atMs: nowMs, hi: s.hi, lo: s.lo, entries: finalEntries });
    }
    else if (reason === 'timeout') {
      if (this.timedOut.size >= MAX_REMEMBERED_SESSIONS) this.timedOut.delete(this.timedOut.keys().next().value!);
      this.timedOut.set(s.key, this.statusEntries(s));
    }
    // A source that never delivered anything never had its 'source' event either.
    if (s.established) this.ctx.out.events.push({ type: 'source-gone', source: s.info, reason });
  }

  handleData(nowMs: number, dg: Uint8Array, h: Header, from: From): void {
    const s = this.sourceOf(nowMs, h, from);
    if (!s) return;
    const stream = s.stream(h.streamId);
    if (!stream) return;
    const invalid = stream.onData(nowMs, dg, h);
    if (invalid !== undefined) this.ctx.limits.invalid(invalid);
    else if (s.closed) this.maybeFinish(s, nowMs);
    if (s.discarded) return;
    this.settleRestart(s, nowMs);
    s.progressBytes += h.payloadLength;
    if (s.progressBytes >= STATUS_PROGRESS_BYTES && s.progressBytes >= STATUS_PROGRESS_BYTES * s.groupSize(nowMs)) s.statusSoon(nowMs);
  }

  handleHeartbeat(nowMs: number, dg: Uint8Array, h: Header, from: From): void {
    const entries = decodeHeartbeat(dg, HEADER_BYTES, HEADER_BYTES + h.payloadLength);
    if (!entries) {
      this.ctx.limits.invalid('heartbeat');
      return;
    }
    const s = this.sourceOf(nowMs, h, from);
    if (!s) return;
    s.flowControlled = (h.flags & HeartbeatFlag.FLOW_CONTROLLED) !== 0;
    for (const e of entries) s.stream(e.streamId)?.onHeartbeat(nowMs, e.trailSeq, e.nextSeq, e.ageMs);
    if (s.discarded) return;
    this.settleRestart(s, nowMs);
    if ((h.flags & HeartbeatFlag.STATUS_REQUEST) !== 0) s.statusSoon(nowMs);
    if ((h.flags & HeartbeatFlag.CLOSED) !== 0) {
      s.closed = true;
      // FINAL: the sender is gone, nothing more will be repaired; otherwise it still serves while we NAK.
      if ((h.flags & HeartbeatFlag.FINAL) !== 0 && this.sources.get(s.key) === s) this.endSource(s, 'closed', nowMs);
      else this.maybeFinish(s, nowMs);
    } else {
      s.enforceReorderCap(nowMs);
      // Closed before, yet still heartbeating: what it said may have settled it; the next timeout ends it.
      if (s.closed) s.dueBy(nowMs);
    }
  }

  handleNcf(nowMs: number, dg: Uint8Array, h: Header): void {
    const ncf = decodeNcf(dg, HEADER_BYTES, HEADER_BYTES + h.payloadLength);
    if (!ncf) {
      this.ctx.limits.invalid('ncf');
      return;
    }
    const s = this.lookup(h);
    if (!s) return;
    s.lastHeardMs = nowMs;
    const stream = s.streams.get(h.streamId);
    if (!stream) return;
    const reason: LossReason | undefined = ncf.reason === NcfReason.REPAIRING ? undefined : ncf.reason === NcfReason.WINDOW ? 'window' : 'flow-control';
    stream.onNcf(nowMs, reason, ncf.ranges);
    if (s.closed) this.maybeFinish(s, nowMs);
  }

  /** Decodes a NAK (undefined = malformed, counted). */
  decodeNak(dg: Uint8Array, h: Header): NakPayload | undefined {
    const nak = decodeNak(dg, HEADER_BYTES, HEADER_BYTES + h.payloadLength);
    if (!nak) this.ctx.limits.invalid('nak');
    return nak;
  }

  /** Another receiver's NAK to some source: suppresses our own NAKs for the same ranges. */
  overheardNak(nowMs: number, h: Header, nak: NakPayload, from: From): void {
    const target = sessionIdHex(nak.targetHi, nak.targetLo);
    const s = this.sources.get(target);
    s?.streams.get(h.streamId)?.onOverheardNak(nowMs, nak.ranges);
    this.observed?.onNak(nowMs, receiverInfo(h, from), target);
  }

  /** Another receiver's status to some source: it counts in that source's group size. */
  overheardStatus(nowMs: number, h: Header, status: StatusPayload, from: From): void {
    const target = sessionIdHex(status.targetHi, status.targetLo);
    const s = this.sources.get(target);
    if (s && !s.notePeer(sessionIdHex(h.sessionHi, h.sessionLo), nowMs, MAX_PEERS_PER_SOURCE)) this.ctx.limits.hit('peers');
    this.observed?.onStatus(nowMs, receiverInfo(h, from), target, status, (h.flags & StatusFlag.LEAVING) !== 0, (id) => s?.streams.get(id)?.highestNext);
  }

  /** The health of every source tracked (see SourceHealth). */
  sourceHealth(nowMs: number): SourceHealth[] {
    const out: SourceHealth[] = [];
    for (const s of this.sources.values()) {
      let headSeq = 0;
      let deliveredSeq = 0;
      let missing = 0;
      for (const st of s.streams.values()) {
        headSeq += st.highestNext;
        deliveredSeq += st.nextDeliver;
        missing += st.gaps.missing();
      }
      out.push({
        source: s.info, established: s.established, closed: s.closed, datagrams: s.datagrams, bytes: s.bytesReceived,
        messages: s.messagesDelivered, headSeq, deliveredSeq, gapsOpen: s.gapsOpen(), missing, naksSent: s.naksSent,
        repairsReceived: s.repairsReceived, lossesDeclared: s.lossesDeclared, messagesLost: s.messagesLost,
        reorderBytes: s.reorderBytes, reassemblyBytes: s.reassemblyBytes,
        repairLatencyMs: Number.isNaN(s.repairLatencyMs) ? undefined : s.repairLatencyMs, groupSize: s.groupSize(nowMs), lastHeardMs: s.lastHeardMs,
        firstHeardMs: s.firstHeardMs,
      });
    }
    return out;
  }

  /**
   * Passive: the receivers overheard. Their lag is measured when their STATUS arrives, against what this endpoint
   * knew then of the source's lead (measured now, a fast source would make every receiver look a status interval behind).
   */
  observedHealth(nowMs: number): ReceiverHealth[] {
    if (this.observed === undefined) return [];
    const out: ReceiverHealth[] = [];
    for (const r of this.observed.list(nowMs)) {
      const s = this.sources.get(r.sourceId);
      let ackSeq = 0;
      let lagNow = 0;
      for (const [streamId, ack] of r.acks) {
        ackSeq += ack;
        const head = s?.streams.get(streamId)?.highestNext;
        if (head !== undefined && head > ack) lagNow += head - ack;
      }
      // A receiver that stopped reporting (stalled, gone) falls behind by everything sent since.
      const lag = nowMs - r.lastHeardMs >= OBSERVED_STALE_MS && !r.left ? lagNow : r.lagAtReport;
      const h = r.health;
      out.push({
        receiver: r.receiver, sourceId: r.sourceId, ackSeq, lagMessages: lag, lagBytes: undefined, naks: r.naks, repairsSent: undefined,
        report: h === undefined ? undefined : reportOf(h),
        lastHeardMs: r.lastHeardMs, firstHeardMs: r.firstHeardMs, holdsWindow: false, member: false, state: r.left ? 'dropped' : 'live', dropReason: r.left ? 'left' : undefined,
      });
    }
    return out;
  }

  private maybeFinish(s: SourceState, nowMs: number): void {
    if (s.closed && this.sources.get(s.key) === s && s.settled()) this.endSource(s, 'closed', nowMs);
  }

  /**
   * Runs the timers of the sources due by `nowMs` (found in the timer heap,
   * not by a scan), in the order the sources appeared.
   */
  handleTimeout(nowMs: number): void {
    if (this.leaving) return; // closed: no more NAKs or status (they would re-announce us)
    const due: SourceState[] = [];
    for (let s = this.timers.peek(); s !== undefined && s.timerAtMs <= nowMs; s = this.timers.peek()) due.push(this.timers.pop()!);
    if (due.length > 1) due.sort((a, b) => a.timerOrder - b.timerOrder);
    for (const s of due) {
      if (this.sources.get(s.key) !== s) continue; // ended by the timers of a source before it
      this.runTimers(s, nowMs);
      if (this.sources.get(s.key) === s) this.timers.insert(s, s.nextDueMs());
    }
    // Oldest first: the sweep stops at the first one still remembered.
    for (const [k, g] of this.ended) {
      if (nowMs - g.atMs <= GONE_MEMORY_FACTOR * this.ctx.tuning.sourceTimeoutMs) break;
      this.ended.delete(k);
    }
  }

  /** The timers of one source: its timeout, its streams' NAKs, a closed source's end, its status. */
  private runTimers(s: SourceState, nowMs: number): void {
    // The same sum as the source's nextDueMs (not now - last): at the time the timer names it must be true.
    if (nowMs >= s.lastHeardMs + this.ctx.tuning.sourceTimeoutMs) {
      // Data never confirmed by a heartbeat (no stream started) is not delivered: a
      // real sender heartbeats within heartbeatMinMs of its data; a forger need not.
      if (!s.established && !s.anyStarted()) this.discardSource(s, 'timeout');
      else this.endSource(s, 'timeout', nowMs);
      return;
    }
    const groupSize = s.peers.size > 0 ? s.groupSize(nowMs) : 1;
    for (const stream of s.streams.values()) {
      const due = stream.nextDueMs();
      if (due === undefined || due > nowMs) continue;
      const nak: SeqRange[] = [];
      stream.runTimers(nowMs, groupSize, nak);
      if (nak.length > 0) this.sendNak(s, stream.streamId, nak);
    }
    if (s.closed) {
      this.maybeFinish(s, nowMs);
      if (!this.sources.has(s.key)) return;
    }
    if (nowMs >= s.statusDueMs) this.sendStatus(s, nowMs);
  }

  private sendNak(s: SourceState, streamId: number, ranges: SeqRange[]): void {
    if (this.observed !== undefined) return; // passive: never asks
    const per = entriesPerDatagram(this.ctx.config.maxDatagramBytes, NAK_FIXED_BYTES, RANGE_BYTES, MAX_RANGES_PER_NAK);
    for (let i = 0; i < ranges.length; i += per) {
      this.ctx.out.control.push(encodeNak(this.origin, streamId, s.hi, s.lo, ranges.slice(i, i + per)));
      this.ctx.stats.naksSent++;
      s.naksSent++;
    }
  }

  private statusEntries(s: SourceState): StatusEntry[] {
    const entries: StatusEntry[] = [];
    const free = s.freeBytes();
    for (const stream of s.streams.values()) {
      if (stream.started) entries.push({ streamId: stream.streamId, nextSeq: stream.nextDeliver, freeBytes: free });
    }
    return entries;
  }

  private sendStatus(s: SourceState, nowMs: number): void {
    s.statusDueMs = nowMs + this.ctx.tuning.statusIntervalMs;
    s.progressBytes = 0;
    const entries = this.statusEntries(s);
    if (entries.length === 0) return;
    s.statusSentMs = nowMs;
    this.pushStatus(s.hi, s.lo, entries, 0, this.healthOf(s));
  }

  /** What a STATUS to `s` reports of how this receiver fares with it. */
  private healthOf(s: SourceState): StatusHealth {
    return {
      naksSent: s.naksSent, repairsReceived: s.repairsReceived, messagesLost: s.messagesLost, kernelDrops: this.ctx.config.kernelDrops?.() ?? 0,
      reorderBytes: s.reorderBytes, gapsOpen: s.gapsOpen(),
      repairLatencyUs: Number.isNaN(s.repairLatencyMs) ? NO_REPAIR_LATENCY : Math.min(NO_REPAIR_LATENCY - 1, Math.round(s.repairLatencyMs * 1000)),
      readBacklogBytes: this.ctx.totals.readBacklogBytes,
    };
  }

  /**
   * Closing: tells every source this endpoint reported to that it is leaving
   * (a STATUS with the LEAVING flag), so a sender waiting for its
   * acknowledgements stops waiting now rather than after receiverTimeoutMs.
   * Best effort: a lost one costs that sender the timeout, nothing more.
   */
  close(): void {
    if (this.leaving) return;
    this.leaving = true;
    for (const s of this.sources.values()) {
      if (s.statusSentMs === -Infinity) continue;
      // With where we stand, so a closing source can tell whether we left with everything.
      this.pushStatus(s.hi, s.lo, this.statusEntries(s), StatusFlag.LEAVING, this.healthOf(s));
    }
  }

  /** Queues STATUS datagrams to source (hi, lo): `entries` split over as many as needed, each with `health` when given. A passive endpoint sends none. */
  private pushStatus(hi: number, lo: number, entries: StatusEntry[], flags = 0, health?: StatusHealth): void {
    if (this.observed !== undefined) return;
    if (this.leaving && (flags & StatusFlag.LEAVING) === 0) return;
    const per = entriesPerDatagram(this.ctx.config.maxDatagramBytes, STATUS_FIXED_BYTES + (health === undefined ? 0 : STATUS_HEALTH_BYTES), STATUS_ENTRY_BYTES, MAX_ENTRIES_PER_CONTROL);
    if (entries.length === 0) {
      this.ctx.out.control.push(encodeStatus(this.origin, hi, lo, entries, flags, health));
      this.ctx.stats.statusSent++;
      return;
    }
    for (let i = 0; i < entries.length; i += per) {
      this.ctx.out.control.push(encodeStatus(this.origin, hi, lo, entries.slice(i, i + per), flags, health));
      this.ctx.stats.statusSent++;
    }
  }

  /**
   * The application holds `bytes` unread. When a reader that had used most
   * of its budget (free < ¼) catches up (free ≥ ½), every source hears our
   * status at once: a 'min' sender may be waiting for exactly that.
   */
  setReadBacklog(nowMs: number, bytes: number): void {
    const totals = this.ctx.totals;
    totals.readBacklogBytes = bytes;
    const budget = this.ctx.config.readBudgetBytes;
    if (budget === undefined) return;
    const free = budget - bytes;
    if (free < budget / 4) this.readStarved = true;
    else if (this.readStarved && free >= budget / 2) {
      this.readStarved = false;
      for (const s of this.sources.values()) s.statusSoon(nowMs);
    }
  }

  /** When the earliest source timer is due: the top of the timer heap, its key refreshed until it is exact. */
  nextTimeoutMs(): number | undefined {
    if (this.leaving) return undefined;
    for (;;) {
      const s = this.timers.peek();
      if (s === undefined) return undefined;
      const due = s.nextDueMs();
      if (due === s.timerAtMs) return due;
      this.timers.update(s, due);
    }
  }
}
