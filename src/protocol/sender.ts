/**
 * The sending half of an endpoint: packing and fragmentation, the transmit
 * queue and the retransmission window, heartbeats, NAK answers (NCF +
 * repairs), the receiver table that flow control reads, the optional rate
 * limit, and the graceful close (close.ts decides when it is over).
 */

import { sessionIdHex } from '../wire/header';
import { ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import { CLOSE_QUIET_MS, DEFAULT_LINGER_MS, MIN_SEND_QUEUE_BYTES, RATE_BURST_MS } from './constants';
import type { CloseOutcome, EndpointConfig, ProtocolStats, ReceiverDropReason, ReceiverHealth, SourceInfo } from './api';
import { CloseTracker, ReceiverHistory } from './close';
import { flowControlByName, type FlowControlStrategy } from './flow-control';
import { HeartbeatSchedule } from './heartbeat';
import type { Limits } from './limits';
import { NakLimiter } from './nak-limiter';
import type { Output } from './output';
import { Packer } from './packer';
import {
  encodeHeartbeat, encodeNcf, HEARTBEAT_ENTRY_BYTES, HEARTBEAT_FIXED_BYTES, HeartbeatFlag, NcfReason, reportOf,
  RANGE_BYTES, NCF_FIXED_BYTES, type HeartbeatEntry, type NakPayload, type Origin, type SeqRange, type StatusPayload,
} from './payload';
import { entriesPerDatagram } from './datagram-room';
import { ReceiverTable, type ReceiverRecord } from './receiver-table';
import { RepairQueue } from './repair';
import { SendWindow, type WindowEntry } from './send-window';
import { bucketDepthBytes, TokenBucket } from './token-bucket';
import type { ProtocolTuning } from './tuning';
import { MAX_ENTRIES_PER_CONTROL, MAX_RANGES_PER_NAK, REPAIR_SHARE_PER_RECEIVER } from './constants';

export class Sender {
  readonly window: SendWindow;
  readonly receivers = new ReceiverTable();
  private readonly packer: Packer;
  private readonly heartbeat: HeartbeatSchedule;
  private readonly repairs: RepairQueue;
  private readonly rate: TokenBucket | undefined;
  private readonly flow: FlowControlStrategy;
  private readonly origin: Origin;
  private needDrain = false;
  private readonly releaseLimit = (streamId: number): number => this.flow.releaseLimit(this.receivers, streamId);
  private readonly nakLimiter: NakLimiter;
  /** Transmit queue bounds: send() returns false beyond them, 'drain' follows below half. */
  private readonly queueBytes: number;
  private readonly queueMessages: number;
  /**
   * 'min': transmission stops at this total of transmitted bytes
   * (window.sentTotalBytes): what every receiver that advertised free space
   * can still take. Infinity when no receiver limits it.
   */
  private transmitLimit = Infinity;
  /** The receiver that set {@link transmitLimit} (recomputed over all when it moves up or leaves). */
  private limiter: ReceiverRecord | undefined;
  /** Transmission is waiting for flow control (window or receivers' free space): heartbeats ask for status. */
  private blocked = false;
  /**
   * 'min' before any receiver is known: until this time (receiverTimeoutMs
   * after the first transmission) nothing transmitted leaves the window
   * unacknowledged. A receiver listening from the start may not have reported
   * yet — behind a flood its first status takes a few hundred ms — and data
   * evicted before it is known could never be repaired for it. With still no
   * receiver after that, the window only bounds memory. NaN until the first transmission.
   */
  private discoveryUntilMs = Number.NaN;
  /** This sender's session id (16 hex digits): the `sourceId` of its receivers' health. */
  private readonly sessionId: string;
  /** Receivers dropped lately (at most RECENT_DROPS, for RECENT_DROP_MS), newest last: receiverHealth() still shows them. */
  private readonly recentDrops: { health: ReceiverHealth; atMs: number }[] = [];
  /** Who acknowledged everything, who was given up, who left: for the close outcome. */
  readonly history = new ReceiverHistory();
  private closer: CloseTracker | undefined;

  constructor(
    private readonly config: EndpointConfig,
    private readonly tuning: ProtocolTuning,
    private readonly out: Output,
    private readonly stats: ProtocolStats,
    private readonly limits: Limits,
  ) {
    this.origin = { sessionHi: config.sessionHi, sessionLo: config.sessionLo, checksum: config.checksum !== false };
    this.sessionId = sessionIdHex(config.sessionHi, config.sessionLo);
    this.window = new SendWindow(config.windowBytes, config.windowMessages);
    this.packer = new Packer(config.maxDatagramBytes, this.origin, (e) => this.window.append(e));
    this.heartbeat = new HeartbeatSchedule(tuning.heartbeatMinMs, tuning.heartbeatIdleMs, tuning.heartbeatBlockedMs);
    const burst = (rate: number) => bucketDepthBytes(rate, RATE_BURST_MS, config.maxDatagramBytes);
    this.repairs = new RepairQueue(this.window, tuning.repairLingerMs, config.maxDatagramBytes, tuning.repairRateBytesPerSec,
      tuning.repairRateBytesPerSec === undefined ? 0 : burst(tuning.repairRateBytesPerSec), limits, config.checksum !== false);
    const share = tuning.repairRateBytesPerSec === undefined ? undefined : tuning.repairRateBytesPerSec * REPAIR_SHARE_PER_RECEIVER;
    this.nakLimiter = new NakLimiter(tuning.maxNaksPerSecPerReceiver, tuning.maxReceivers, share, this.repairs.backlogLimitBytes);
    this.rate = config.rateBytesPerSec === undefined ? undefined : new TokenBucket(config.rateBytesPerSec, burst(config.rateBytesPerSec));
    this.flow = flowControlByName(config.flowControl);
    this.queueBytes = config.sendQueueBytes ?? defaultSendQueueBytes(config);
    this.queueMessages = Math.max(1, Math.floor(config.windowMessages / 4));
  }

  send(nowMs: number, streamId: number, data: Uint8Array): boolean {
    if (this.closer !== undefined) throw new ClosedError('endpoint');
    if (!(data instanceof Uint8Array)) throw new InvalidArgumentTypeError('data must be a Buffer or Uint8Array');
    if (!Number.isInteger(streamId) || streamId < 0 || streamId > 0xffff) throw new InvalidArgumentValueError(`streamId must be an integer in 0..65535, got ${streamId}`);
    if (data.length > this.config.maxMessageBytes) throw new InvalidArgumentValueError(`message of ${data.length} bytes exceeds maxMessageBytes (${this.config.maxMessageBytes})`);
    const s = this.window.stream(streamId);
    if (s.nextSeq + Math.ceil(data.length / this.packer.fragmentBytes) + 1 > Number.MAX_SAFE_INTEGER) throw new InvalidArgumentValueError('sequence space of this stream is exhausted');
    this.packer.add(s, data);
    this.stats.messagesSent++;
    if (this.isFull()) {
      this.needDrain = true;
      return false;
    }
    return true;
  }

  flush(_nowMs: number): void {
    this.packer.close();
  }

  /** Whether the transmit queue (with what is being packed) is over a bound: send() says so, 'drain' follows. */
  private isFull(): boolean {
    return this.window.queuedBytes + this.packer.pendingBytes() > this.queueBytes || this.window.queuedMessages > this.queueMessages;
  }

  /** 'drain' once the queue is back under half its bounds (not at every datagram, or a writer would refill it one message at a time). */
  private checkDrain(): void {
    if (this.needDrain && this.window.queuedBytes + this.packer.pendingBytes() <= this.queueBytes / 2 && this.window.queuedMessages <= this.queueMessages / 2) {
      this.needDrain = false;
      this.out.events.push({ type: 'drain' });
    }
  }

  /** Whether 'min' still waits for a first receiver before evicting unacknowledged data (see discoveryUntilMs). */
  private holdsForDiscovery(nowMs: number): boolean {
    return this.flow.pacesTransmit && this.receivers.byKey.size === 0 && nowMs < this.discoveryUntilMs;
  }

  /** Evicts what flow control releases while the window lacks room for `need`; reports laggards under 'max'. */
  private evict(need: WindowEntry): void {
    const n = this.window.evict(this.releaseLimit, need);
    if (n > 0 && this.flow.reportsLaggards) this.reportLaggards();
  }

  private reportLaggards(): void {
    for (const r of this.receivers.byKey.values()) {
      if (r.lagging) continue;
      for (const [streamId, ack] of r.acks) {
        const s = this.window.streams.get(streamId);
        if (s && ack < Math.min(s.trailSeq, s.sentNextSeq)) {
          r.lagging = true;
          this.out.events.push({ type: 'receiver-dropped', receiver: r.info, reason: 'slow' });
          break;
        }
      }
    }
  }

  /** Whether the sender has anything at all (it sends heartbeats only once it has streams, and none after its close ended). */
  private active(): boolean {
    return this.window.streams.size > 0 && this.closer?.outcome === undefined;
  }

  /**
   * Whether flow control lets `e` be transmitted now: the window has room
   * for it (after evicting what flow control releases), and under 'min' every
   * receiver that advertised free space can take it.
   */
  private mayTransmit(e: WindowEntry, nowMs: number): boolean {
    if (!this.window.roomFor(e)) {
      if (!this.holdsForDiscovery(nowMs)) this.evict(e);
      if (!this.window.roomFor(e)) return false;
    }
    return this.window.sentTotalBytes < this.transmitLimit || this.window.bytes === 0;
  }

  /** Next data datagram (repair first, then new data), or undefined when none may go now. */
  pollData(nowMs: number): Uint8Array | undefined {
    if (this.repairs.ready(nowMs)) {
      // Repairs go before new data, under the overall rate too.
      const n = this.repairs.headBytes();
      if (this.rate && !this.rate.canSpend(nowMs, n)) return undefined;
      this.rate?.spend(n);
      this.stats.repairsSent++;
      return this.repairs.take(nowMs);
    }
    const e = this.window.peekUnsent();
    if (!e) return undefined;
    if (!this.mayTransmit(e, nowMs)) {
      if (!this.blocked) {
        this.blocked = true;
        // Ask the receivers for status now, not at the next periodic heartbeat.
        if (this.active()) this.heartbeat.soon(nowMs);
      }
      return undefined;
    }
    if (this.rate && !this.rate.canSpend(nowMs, e.datagram.length)) return undefined;
    this.rate?.spend(e.datagram.length);
    this.blocked = false;
    if (Number.isNaN(this.discoveryUntilMs)) this.discoveryUntilMs = nowMs + this.tuning.receiverTimeoutMs;
    this.window.markSent(nowMs);
    this.heartbeat.onData(nowMs);
    this.closer?.onProgress(nowMs);
    this.checkDrain();
    return e.datagram;
  }

  handleNak(nowMs: number, streamId: number, nak: NakPayload, receiverKey: string): void {
    this.stats.naksReceived++;
    const budget = this.nakLimiter.allow(receiverKey, nowMs);
    if (budget === undefined) {
      this.limits.hit('nak-rate');
      return;
    }
    this.closer?.onNews(nowMs);
    const r = this.receivers.byKey.get(receiverKey);
    if (r) r.naks++;
    const outcome = this.repairs.onNak(nowMs, streamId, nak.ranges, budget.repairBytes, budget);
    if (r) r.repairs += outcome.queued;
    if (outcome.repairing.length > 0) this.sendNcf(streamId, NcfReason.REPAIRING, outcome.repairing);
    if (outcome.unavailable.length > 0) {
      // A live receiver we evicted past (flow control chose to) loses to flow control; anyone else to the window.
      const reason = this.flow.name !== 'none' && r !== undefined ? NcfReason.FLOW_CONTROL : NcfReason.WINDOW;
      this.sendNcf(streamId, reason, outcome.unavailable);
    }
  }

  private sendNcf(streamId: number, reason: number, ranges: SeqRange[]): void {
    const per = entriesPerDatagram(this.config.maxDatagramBytes, NCF_FIXED_BYTES, RANGE_BYTES, MAX_RANGES_PER_NAK);
    for (let i = 0; i < ranges.length; i += per) {
      this.out.control.push(encodeNcf(this.origin, streamId, reason, ranges.slice(i, i + per)));
      this.stats.ncfsSent++;
    }
  }

  handleStatus(nowMs: number, status: StatusPayload, receiverKey: string, info: SourceInfo): void {
    if (this.ignored.size > 0 && this.ignored.has(receiverKey)) return;
    if (this.receivers.size >= this.tuning.maxReceivers && !this.receivers.byKey.has(receiverKey)) {
      // A silent receiver times out within receiverTimeoutMs and frees its place.
      this.limits.hit('receivers');
      return;
    }
    const { record, created } = this.receivers.upsert(receiverKey, info, nowMs);
    if (created) {
      this.stats.receivers = this.receivers.size;
      this.out.events.push({ type: 'receiver', receiver: info });
      this.history.noteFirstStatus(nowMs, this.firstSentMs(), this.tuning.statusIntervalMs);
      this.closer?.onNews(nowMs);
      this.closer?.onProgress(nowMs);
    }
    let caughtUp = true;
    let complete = true;
    let advanced = false;
    for (const e of status.entries) {
      const s = this.window.streams.get(e.streamId);
      if (!s) continue;
      // Never trust an ack beyond what was sent.
      const ack = Math.min(e.nextSeq, s.sentNextSeq);
      const prev = record.acks.get(e.streamId);
      if (prev === undefined || ack > prev) {
        record.acks.set(e.streamId, ack);
        advanced = true;
      }
      if (ack < Math.min(s.trailSeq, s.sentNextSeq)) caughtUp = false;
      if (ack < s.sentNextSeq) complete = false;
      record.freeBytes = e.freeBytes;
    }
    if (status.health !== undefined) record.health = status.health;
    if (caughtUp) record.lagging = false;
    if (this.closer !== undefined) {
      if (advanced) this.closer.onProgress(nowMs);
      // A receiver that still needs something is news: the close waits for it.
      if (!complete || !this.hasAllStreams(record)) this.closer.onNews(nowMs);
    }
    if (this.flow.pacesTransmit && status.entries.length > 0) this.updateLimit(record);
  }

  /** A known receiver said goodbye (STATUS LEAVING, with where it stood): stop waiting for it, noting whether it had everything. */
  handleLeaving(nowMs: number, status: StatusPayload, receiverKey: string): void {
    const r = this.receivers.byKey.get(receiverKey);
    if (r === undefined) return;
    if (status.health !== undefined) r.health = status.health;
    for (const e of status.entries) {
      const s = this.window.streams.get(e.streamId);
      if (!s) continue;
      const ack = Math.min(e.nextSeq, s.sentNextSeq);
      if (ack > (r.acks.get(e.streamId) ?? -1)) r.acks.set(e.streamId, ack);
    }
    this.dropReceiver(nowMs, receiverKey, 'left');
  }

  /** Whether `r` reported every stream this sender has transmitted on. */
  private hasAllStreams(r: ReceiverRecord): boolean {
    for (const s of this.window.streams.values()) if (s.sentNextSeq > 0 && !r.acks.has(s.streamId)) return false;
    return true;
  }

  /**
   * 'min': the transmitted-bytes total up to which `r` can take data — what
   * it advertised free, less what was transmitted beyond its acknowledgements
   * since — and the group's limit, the least of them.
   */
  private updateLimit(r: ReceiverRecord): void {
    let outstanding = 0;
    for (const s of this.window.streams.values()) {
      const ack = r.acks.get(s.streamId);
      if (ack !== undefined) outstanding += s.bytesFrom(ack);
    }
    r.limitBytes = this.window.sentTotalBytes + r.freeBytes - outstanding;
    if (r.limitBytes <= this.transmitLimit) {
      this.transmitLimit = r.limitBytes;
      this.limiter = r;
    } else if (this.limiter === r) this.recomputeLimit();
  }

  private recomputeLimit(): void {
    this.transmitLimit = Infinity;
    this.limiter = undefined;
    for (const r of this.receivers.byKey.values()) {
      if (r.limitBytes < this.transmitLimit) {
        this.transmitLimit = r.limitBytes;
        this.limiter = r;
      }
    }
  }

  /**
   * Stops waiting for receiver `key`: event 'receiver-dropped' with `reason`,
   * recorded for the close outcome (flushed if it had everything). Returns
   * false for an unknown receiver.
   */
  /** Receivers whose status never counts (group members outside the channel's `paceTo`), by session id; bounded by the membership's member cap. */
  private readonly ignored = new Set<string>();

  /** See Endpoint.ignoreReceiver. */
  ignoreReceiver(nowMs: number, key: string): void {
    this.ignored.add(key);
    this.dropReceiver(nowMs, key, 'ignored');
  }

  dropReceiver(nowMs: number, key: string, reason: ReceiverDropReason): boolean {
    if (reason === 'dead' || reason === 'left') this.ignored.delete(key);
    const r = this.receivers.remove(key);
    if (r === undefined) return false;
    this.forget(nowMs, r, reason);
    return true;
  }

  private forget(nowMs: number, r: ReceiverRecord, reason: ReceiverDropReason): void {
    this.stats.receivers = this.receivers.size;
    if (this.recentDrops.length >= RECENT_DROPS) this.recentDrops.shift();
    this.recentDrops.push({ health: { ...this.healthOf(r), state: 'dropped', dropReason: reason, holdsWindow: false }, atMs: nowMs });
    // An ignored receiver was never one to wait for: not given up, not in the close outcome.
    if (reason !== 'ignored') this.history.noteGone(r.info, reason, this.missing(r));
    this.out.events.push({ type: 'receiver-dropped', receiver: r.info, reason });
    if (this.limiter === r) this.recomputeLimit();
    this.closer?.onProgress(nowMs);
  }

  /** Once something was sent: every receiver this sender paces to or heard, and those dropped in the last RECENT_DROP_MS (see ReceiverHealth). */
  receiverHealth(nowMs: number): ReceiverHealth[] {
    const out: ReceiverHealth[] = [];
    // Members are expected from their join, but a sender that never sent has no receivers to speak of.
    if (this.window.streams.size === 0) return out;
    // The lowest acknowledgement of each stream, once per call (not per receiver: a sender may have thousands).
    const minAcks = new Map<number, number>();
    if (this.flow.pacesTransmit && this.blocked) {
      for (const s of this.window.streams.values()) {
        const bounds = this.receivers.ackBounds(s.streamId);
        if (bounds !== undefined) minAcks.set(s.streamId, bounds.min);
      }
    }
    for (const r of this.receivers.byKey.values()) out.push(this.healthOf(r, minAcks));
    while (this.recentDrops.length > 0 && nowMs - this.recentDrops[0]!.atMs > RECENT_DROP_MS) this.recentDrops.shift();
    for (const d of this.recentDrops) if (!this.receivers.byKey.has(d.health.receiver.id)) out.push(d.health);
    return out;
  }

  /** `minAcks`: the lowest acknowledgement per stream while transmission is blocked (empty otherwise: nobody holds the window). */
  private healthOf(r: ReceiverRecord, minAcks: ReadonlyMap<number, number> = new Map()): ReceiverHealth {
    // One walk for what missing() counts (lagMessages) and its bytes.
    let ackSeq = 0;
    let lagMessages = 0;
    let lagBytes = 0;
    for (const s of this.window.streams.values()) {
      const ack = r.acks.get(s.streamId) ?? (r.member ? 0 : undefined);
      if (ack === undefined) continue;
      ackSeq += ack;
      if (ack >= s.sentNextSeq) continue;
      lagMessages += s.sentNextSeq - ack;
      lagBytes += s.bytesFrom(ack);
    }
    const h = r.health;
    return {
      receiver: r.info, sourceId: this.sessionId, ackSeq, lagMessages, lagBytes,
      naks: r.naks, repairsSent: r.repairs,
      report: h === undefined ? undefined : reportOf(h),
      lastHeardMs: r.lastHeardMs, firstHeardMs: r.firstHeardMs, holdsWindow: this.holdsWindow(r, minAcks), member: r.member, state: 'live', dropReason: undefined,
    };
  }

  /**
   * Whether flow control waits for `r` now: under 'min', transmission is
   * blocked and `r` is the receiver whose advertised space set the limit, or
   * one whose acknowledgement is the lowest of a stream it has not caught up on.
   */
  private holdsWindow(r: ReceiverRecord, minAcks: ReadonlyMap<number, number>): boolean {
    if (!this.flow.pacesTransmit || !this.blocked) return false;
    if (this.limiter === r && this.window.sentTotalBytes >= this.transmitLimit) return true;
    for (const s of this.window.streams.values()) {
      const ack = r.acks.get(s.streamId) ?? (r.member ? 0 : undefined);
      if (ack === undefined || ack >= s.sentNextSeq) continue;
      if (ack === minAcks.get(s.streamId)) return true;
    }
    return false;
  }

  /** Sequence numbers transmitted that `r` has not acknowledged, over the streams it reported (all streams for a group member). */
  private missing(r: ReceiverRecord): number {
    let n = 0;
    for (const s of this.window.streams.values()) {
      const ack = r.acks.get(s.streamId) ?? (r.member ? 0 : undefined);
      if (ack !== undefined && ack < s.sentNextSeq) n += s.sentNextSeq - ack;
    }
    return n;
  }

  handleTimeout(nowMs: number): void {
    const gone = this.receivers.expire(nowMs, this.tuning.receiverTimeoutMs);
    for (const r of gone) this.forget(nowMs, r, 'timeout');
    if (this.closer !== undefined && this.closer.outcome === undefined) this.runClose(nowMs);
    if (this.active() && this.heartbeat.isDue(nowMs)) this.sendHeartbeat(nowMs, 0);
  }

  private sendHeartbeat(nowMs: number, extraFlags: number): void {
    let flags = extraFlags;
    // CLOSED says the leads are final: only once everything written has been transmitted.
    if (this.closer?.announced === true) flags |= HeartbeatFlag.CLOSED;
    if (this.blocked) flags |= HeartbeatFlag.STATUS_REQUEST;
    if (this.flow.name !== 'none') flags |= HeartbeatFlag.FLOW_CONTROLLED;
    const entries: HeartbeatEntry[] = [];
    for (const s of this.window.streams.values()) {
      entries.push({ streamId: s.streamId, trailSeq: Math.min(s.trailSeq, s.sentNextSeq), nextSeq: s.sentNextSeq, ageMs: Number.isNaN(s.firstSentMs) ? 0 : nowMs - s.firstSentMs });
    }
    const per = entriesPerDatagram(this.config.maxDatagramBytes, HEARTBEAT_FIXED_BYTES, HEARTBEAT_ENTRY_BYTES, MAX_ENTRIES_PER_CONTROL);
    for (let i = 0; i < entries.length; i += per) {
      this.out.control.push(encodeHeartbeat(this.origin, flags, entries.slice(i, i + per)));
      this.stats.heartbeatsSent++;
    }
    this.heartbeat.onBeat(nowMs, this.blocked);
  }

  nextTimeoutMs(nowMs: number): number | undefined {
    let t: number | undefined;
    const take = (v: number | undefined) => {
      if (v !== undefined && (t === undefined || v < t)) t = v;
    };
    if (this.active()) take(this.heartbeat.nextDueMs());
    take(this.receivers.nextExpiryMs(this.tuning.receiverTimeoutMs));
    const repairAtMs = this.repairs.readyAtMs(nowMs);
    if (repairAtMs !== undefined) {
      take(this.rate ? Math.max(repairAtMs, this.rate.readyAtMs(nowMs, this.repairs.headBytes())) : repairAtMs);
    }
    // Waiting for flow control: a status (which runs a turn) or a heartbeat wakes it, not a timer. A
    // repair that is due goes first: new data waits for its budget too, whatever its own size.
    const repairFirst = repairAtMs !== undefined && repairAtMs <= nowMs;
    const e = this.blocked || repairFirst ? undefined : this.window.peekUnsent();
    // Blocked while waiting for a first receiver: the wait ends by itself (heartbeats asking for status also wake it).
    if (this.blocked && this.holdsForDiscovery(nowMs)) take(this.discoveryUntilMs);
    if (e && this.rate) take(this.rate.readyAtMs(nowMs, e.datagram.length));
    else if (e) take(nowMs);
    if (this.closer !== undefined && this.closer.outcome === undefined) take(this.closer.nextDueMs(nowMs));
    return t;
  }

  // ------------------------------------------------------------ close

  /** Starts the graceful close (see close.ts); `immediate` ends it now. */
  close(nowMs: number, immediate = false): void {
    if (this.closer === undefined) {
      this.packer.close();
      const lingerMs = this.config.lingerMs ?? DEFAULT_LINGER_MS;
      this.closer = new CloseTracker(nowMs, lingerMs, Math.min(this.config.closeQuietMs ?? CLOSE_QUIET_MS, lingerMs), this.history.discoveryUntilMs(this.firstSentMs(), this.tuning.statusIntervalMs, lingerMs));
    }
    // A session that never transmitted has nothing to serve.
    if (immediate || this.closer.lingerMs === 0 || (this.window.streams.size === 0 && this.packer.pendingBytes() === 0)) this.finishClose(nowMs, 'linger');
    else this.runClose(nowMs);
  }

  closeOutcome(): CloseOutcome | undefined {
    return this.closer?.outcome;
  }

  /** One step of the close: announce the end once everything is transmitted, then end when confident or when nothing moves for lingerMs. */
  private runClose(nowMs: number): void {
    const c = this.closer!;
    const transmitted = !this.window.hasUnsent() && this.packer.pendingBytes() === 0;
    if (transmitted && !c.announced) {
      c.announce(nowMs);
      if (this.active()) this.heartbeat.soon(nowMs);
    }
    if (c.stalled(nowMs)) {
      // Nothing moved for lingerMs: stop waiting for those who still miss something.
      for (const r of [...this.receivers.byKey.values()]) {
        if (this.missing(r) > 0) this.dropReceiver(nowMs, sessionKey(r), 'linger');
      }
      if (!transmitted) {
        // Flow control held the queue back for those receivers; it may go now.
        c.onProgress(nowMs);
        return;
      }
      this.finishClose(nowMs, undefined);
      return;
    }
    if (transmitted && this.repairs.length === 0 && this.allAcknowledged() && c.confident(nowMs)) this.finishClose(nowMs, undefined);
  }

  /** Every receiver still known has acknowledged everything transmitted. */
  private allAcknowledged(): boolean {
    for (const r of this.receivers.byKey.values()) if (this.missing(r) > 0 || !this.hasAllStreams(r)) return false;
    return true;
  }

  /** Ends the close: receivers still owed something are given up with `dropReason`; a last heartbeat says the session is gone. */
  private finishClose(nowMs: number, dropReason: ReceiverDropReason | undefined): void {
    const c = this.closer!;
    if (c.outcome !== undefined) return;
    for (const r of [...this.receivers.byKey.values()]) {
      if (this.missing(r) > 0 && dropReason !== undefined) this.dropReceiver(nowMs, sessionKey(r), dropReason);
    }
    // Those still here have everything.
    for (const r of this.receivers.byKey.values()) this.history.noteGone(r.info, 'left', this.missing(r));
    const wasActive = this.active();
    c.announce(nowMs);
    c.finish(nowMs, this.history.outcome(), this.window.queuedMessages > 0 || this.packer.pendingBytes() > 0 ? this.unsentDatagrams() : 0);
    // The session is over: receivers still missing something need not wait for sourceTimeoutMs.
    if (wasActive) this.sendHeartbeat(nowMs, HeartbeatFlag.FINAL);
  }

  private unsentDatagrams(): number {
    return this.window.queuedCount() + (this.packer.pendingBytes() > 0 ? 1 : 0);
  }

  /** When the first datagram of any stream was transmitted (NaN before). */
  private firstSentMs(): number {
    let t = Number.NaN;
    for (const s of this.window.streams.values()) if (!(s.firstSentMs >= t)) t = s.firstSentMs;
    return t;
  }

  isFlushed(): boolean {
    if (this.packer.pendingBytes() > 0 || this.window.hasUnsent() || this.repairs.length > 0) return false;
    for (const r of this.receivers.byKey.values()) {
      for (const s of this.window.streams.values()) {
        const ack = r.acks.get(s.streamId);
        if (ack === undefined || ack < s.sentNextSeq) return false;
      }
    }
    return true;
  }
}

/** Dropped receivers receiverHealth() keeps showing: at most this many, for this long. */
const RECENT_DROPS = 64;
const RECENT_DROP_MS = 60_000;

function sessionKey(r: ReceiverRecord): string {
  return r.info.id;
}

/** A quarter of the window, or one second at the rate limit if less; at least MIN_SEND_QUEUE_BYTES. */
function defaultSendQueueBytes(config: EndpointConfig): number {
  const quarter = Math.floor(config.windowBytes / 4);
  const second = config.rateBytesPerSec === undefined ? Infinity : config.rateBytesPerSec;
  return Math.max(MIN_SEND_QUEUE_BYTES, Math.min(quarter, second));
}
