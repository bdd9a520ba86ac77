/**
 * The sending half of an endpoint: packing and fragmentation, the
 * retransmission window, heartbeats, NAK answers (NCF + repairs), the
 * receiver table that flow control reads, and the optional rate limit.
 */

import { ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../errors';
import { RATE_BURST_MS } from '../constants';
import { HEADER_BYTES } from '../wire/header';
import type { EndpointConfig, ProtocolStats, SourceInfo } from './api';
import { flowControlByName, type FlowControlStrategy } from './flow-control';
import { HeartbeatSchedule } from './heartbeat';
import type { Limits } from './limits';
import { NakLimiter } from './nak-limiter';
import type { Output } from './output';
import { Packer } from './packer';
import {
  encodeHeartbeat, encodeNcf, HEARTBEAT_ENTRY_BYTES, HEARTBEAT_FIXED_BYTES, HeartbeatFlag, NcfReason,
  RANGE_BYTES, NCF_FIXED_BYTES, type HeartbeatEntry, type NakPayload, type Origin, type SeqRange, type StatusPayload,
} from './payload';
import { ReceiverTable } from './receiver-table';
import { RepairQueue } from './repair';
import { SendWindow, type WindowEntry } from './send-window';
import { bucketDepthBytes, TokenBucket } from './token-bucket';
import type { ProtocolTuning } from './tuning';
import { MAX_ENTRIES_PER_CONTROL, MAX_RANGES_PER_NAK, REPAIR_SHARE_PER_RECEIVER } from '../constants';

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
  private closed = false;
  private readonly nakLimiter: NakLimiter;

  constructor(
    private readonly config: EndpointConfig,
    private readonly tuning: ProtocolTuning,
    private readonly out: Output,
    private readonly stats: ProtocolStats,
    private readonly limits: Limits,
  ) {

    this.origin = { sessionHi: config.sessionHi, sessionLo: config.sessionLo, checksum: config.checksum !== false };
    this.window = new SendWindow(config.windowBytes, config.windowMessages);
    this.packer = new Packer(config.maxDatagramBytes, this.origin, (e) => this.onClosedDatagram(e));
    this.heartbeat = new HeartbeatSchedule(tuning.heartbeatMinMs, tuning.heartbeatIdleMs, tuning.heartbeatBlockedMs);
    const burst = (rate: number) => bucketDepthBytes(rate, RATE_BURST_MS, config.maxDatagramBytes);
    this.repairs = new RepairQueue(this.window, tuning.repairLingerMs, config.maxDatagramBytes, tuning.repairRateBytesPerSec,
      tuning.repairRateBytesPerSec === undefined ? 0 : burst(tuning.repairRateBytesPerSec), limits, config.checksum !== false);
    const share = tuning.repairRateBytesPerSec === undefined ? undefined : tuning.repairRateBytesPerSec * REPAIR_SHARE_PER_RECEIVER;
    this.nakLimiter = new NakLimiter(tuning.maxNaksPerSecPerReceiver, tuning.maxReceivers, share, this.repairs.backlogLimitBytes);
    this.rate = config.rateBytesPerSec === undefined ? undefined : new TokenBucket(config.rateBytesPerSec, burst(config.rateBytesPerSec));
    this.flow = flowControlByName(config.flowControl);
  }

  send(nowMs: number, streamId: number, data: Uint8Array): boolean {
    if (this.closed) throw new ClosedError('endpoint');
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

  /**
   * Whether the window cannot take what is being packed. The window is kept
   * full of repairable data on purpose, so "full" means: even after evicting
   * everything flow control lets go, there is no room for the pending bytes.
   */
  private isFull(): boolean {
    const pendingBytes = this.packer.pendingBytes();
    if (!this.window.isOverBound() && this.window.bytes + pendingBytes <= this.config.windowBytes) return false;
    this.evict(pendingBytes);
    return this.window.isOverBound() || this.window.bytes + pendingBytes > this.config.windowBytes;
  }

  private onClosedDatagram(e: WindowEntry): void {
    this.window.append(e);
    this.evict();
  }

  private evict(headroomBytes = 0): void {
    if (!this.window.isOverBound() && this.window.bytes + headroomBytes <= this.config.windowBytes) return;
    const n = this.window.evict(this.releaseLimit, headroomBytes);
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

  /** Whether the sender has anything at all (it sends heartbeats only once it has streams). */
  private active(): boolean {
    return this.window.streams.size > 0;
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
    if (this.rate && !this.rate.canSpend(nowMs, e.datagram.length)) return undefined;
    this.rate?.spend(e.datagram.length);
    this.window.markSent(nowMs);
    this.heartbeat.onData(nowMs);
    // Eviction may have waited for this entry to be transmitted.
    this.evict();
    this.checkDrain();
    return e.datagram;
  }

  private checkDrain(): void {
    if (this.needDrain && !this.isFull()) {
      this.needDrain = false;
      this.out.events.push({ type: 'drain' });
    }
  }

  handleNak(nowMs: number, streamId: number, nak: NakPayload, receiverKey: string): void {
    this.stats.naksReceived++;
    const budget = this.nakLimiter.allow(receiverKey, nowMs);
    if (budget === undefined) {
      this.limits.hit('nak-rate');
      return;
    }
    const r = this.receivers.byKey.get(receiverKey);
    if (r) r.naks++;
    const outcome = this.repairs.onNak(nowMs, streamId, nak.ranges, budget.repairBytes);
    if (outcome.repairing.length > 0) this.sendNcf(streamId, NcfReason.REPAIRING, outcome.repairing);
    if (outcome.unavailable.length > 0) {
      // A live receiver we evicted past (flow control chose to) loses to flow control; anyone else to the window.
      const reason = this.flow.name !== 'none' && r !== undefined ? NcfReason.FLOW_CONTROL : NcfReason.WINDOW;
      this.sendNcf(streamId, reason, outcome.unavailable);
    }
  }

  private sendNcf(streamId: number, reason: number, ranges: SeqRange[]): void {
    const per = Math.max(1, Math.min(MAX_RANGES_PER_NAK, Math.floor((this.config.maxDatagramBytes - HEADER_BYTES - NCF_FIXED_BYTES) / RANGE_BYTES)));
    for (let i = 0; i < ranges.length; i += per) {
      this.out.control.push(encodeNcf(this.origin, streamId, reason, ranges.slice(i, i + per)));
      this.stats.ncfsSent++;
    }
  }

  handleStatus(nowMs: number, status: StatusPayload, receiverKey: string, info: SourceInfo, leaving = false): void {
    if (leaving) {
      // A receiver closing: stop pacing to it and stop waiting for it at once.
      const gone = this.receivers.remove(receiverKey);
      if (gone) {
        this.stats.receivers = this.receivers.size;
        this.out.events.push({ type: 'receiver-dropped', receiver: gone.info, reason: 'left' });
        this.evict();
        this.checkDrain();
      }
      return;
    }
    if (this.receivers.size >= this.tuning.maxReceivers && !this.receivers.byKey.has(receiverKey)) {
      // A silent receiver times out within receiverTimeoutMs and frees its place.
      this.limits.hit('receivers');
      return;
    }
    const { record, created } = this.receivers.upsert(receiverKey, info, nowMs);
    if (created) {
      this.stats.receivers = this.receivers.size;
      this.out.events.push({ type: 'receiver', receiver: info });
    }
    record.freeBytes = 0;
    let caughtUp = true;
    for (const e of status.entries) {
      const s = this.window.streams.get(e.streamId);
      if (!s) continue;
      // Never trust an ack beyond what was sent.
      const ack = Math.min(e.nextSeq, s.sentNextSeq);
      const prev = record.acks.get(e.streamId);
      if (prev === undefined || ack > prev) record.acks.set(e.streamId, ack);
      if (ack < Math.min(s.trailSeq, s.sentNextSeq)) caughtUp = false;
      record.freeBytes = e.freeBytes;
    }
    if (caughtUp) record.lagging = false;
    this.evict();
    this.checkDrain();
  }

  handleTimeout(nowMs: number): void {
    const gone = this.receivers.expire(nowMs, this.tuning.receiverTimeoutMs);
    if (gone.length > 0) {
      this.stats.receivers = this.receivers.size;
      for (const r of gone) this.out.events.push({ type: 'receiver-dropped', receiver: r.info, reason: 'timeout' });
      this.evict();
      this.checkDrain();
    }
    if (this.active() && this.heartbeat.isDue(nowMs)) this.sendHeartbeat(nowMs);
  }

  private sendHeartbeat(nowMs: number): void {
    const blocked = this.needDrain && this.isFull();
    let flags = 0;
    if (this.closed) flags |= HeartbeatFlag.CLOSED;
    if (blocked) flags |= HeartbeatFlag.STATUS_REQUEST;
    if (this.flow.name !== 'none') flags |= HeartbeatFlag.FLOW_CONTROLLED;
    const entries: HeartbeatEntry[] = [];
    for (const s of this.window.streams.values()) {
      entries.push({ streamId: s.streamId, trailSeq: Math.min(s.trailSeq, s.sentNextSeq), nextSeq: s.sentNextSeq, ageMs: Number.isNaN(s.firstSentMs) ? 0 : nowMs - s.firstSentMs });
    }
    const per = Math.max(1, Math.min(MAX_ENTRIES_PER_CONTROL, Math.floor((this.config.maxDatagramBytes - HEADER_BYTES - HEARTBEAT_FIXED_BYTES) / HEARTBEAT_ENTRY_BYTES)));
    for (let i = 0; i < entries.length; i += per) {
      this.out.control.push(encodeHeartbeat(this.origin, flags, entries.slice(i, i + per)));
      this.stats.heartbeatsSent++;
    }
    this.heartbeat.onBeat(nowMs, blocked);
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
    const e = this.window.peekUnsent();
    if (e && this.rate) take(this.rate.readyAtMs(nowMs, e.datagram.length));
    else if (e) take(nowMs);
    return t;
  }

  close(nowMs: number): void {
    if (this.closed) return;
    this.packer.close();
    this.closed = true;
    if (this.active()) this.heartbeat.soon(nowMs);
    this.handleTimeout(nowMs);
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
