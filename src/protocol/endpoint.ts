/**
 * One endpoint = a sender (of what this application sends) and a receiver
 * (of every other session on the group), composed behind the sans-IO
 * {@link Endpoint} contract of api.ts. It reads no clock and owns no socket.
 */

import { InvalidArgumentValueError } from '../util/errors';
import { MIN_DATAGRAM_BYTES } from './constants';
import type { ReceivedBatch } from '../wire/batch';
import { DatagramType, HEADER_BYTES, MAX_PAYLOAD_BYTES, sessionIdHex, type Header } from '../wire/header';
import { createRejectCounts } from '../wire/rejects';
import type { CloseOutcome, Endpoint, EndpointConfig, FlowControl, HealthReader, ProtocolEvent, ProtocolStats, ReceiverHealth, SourceHealth, SourceInfo } from './api';
import { BatchReader } from './batch-reader';
import { NakScheduler } from './nak-scheduler';
import { Output } from './output';
import { decodeStatus, StatusFlag } from './payload';
import { Receiver } from './receiver';
import { Sender } from './sender';
import { createStats, snapshotStats } from './stats';
import { Limits } from './limits';
import { checkTuningLimits, DEFAULT_TUNING, type ProtocolTuning } from './tuning';

export type { ProtocolTuning, NakBackoff } from './tuning';
export { DEFAULT_TUNING } from './tuning';

function checkConfig(c: EndpointConfig): void {
  const positive = (name: string, v: number) => {
    if (!Number.isFinite(v) || v <= 0) throw new InvalidArgumentValueError(`${name} must be a positive number, got ${v}`);
  };
  if (!Number.isInteger(c.maxDatagramBytes) || c.maxDatagramBytes < MIN_DATAGRAM_BYTES || c.maxDatagramBytes > HEADER_BYTES + MAX_PAYLOAD_BYTES) {
    throw new InvalidArgumentValueError(`maxDatagramBytes must be an integer in ${MIN_DATAGRAM_BYTES}..${HEADER_BYTES + MAX_PAYLOAD_BYTES}, got ${c.maxDatagramBytes}`);
  }
  positive('windowBytes', c.windowBytes);
  positive('windowMessages', c.windowMessages);
  positive('maxReorderBytes', c.maxReorderBytes);
  positive('maxReassemblyBytes', c.maxReassemblyBytes);
  if (!Number.isInteger(c.maxMessageBytes) || c.maxMessageBytes < 0 || c.maxMessageBytes > 0xffffffff) throw new InvalidArgumentValueError(`maxMessageBytes must be an integer in 0..2^32-1, got ${c.maxMessageBytes}`);
  if (c.rateBytesPerSec !== undefined) positive('rateBytesPerSec', c.rateBytesPerSec);
  if (c.sendQueueBytes !== undefined) positive('sendQueueBytes', c.sendQueueBytes);
  if (c.readBudgetBytes !== undefined) positive('readBudgetBytes', c.readBudgetBytes);
  for (const [name, v] of [['lingerMs', c.lingerMs], ['closeQuietMs', c.closeQuietMs]] as const) {
    if (v !== undefined && !(v >= 0)) throw new InvalidArgumentValueError(`${name} must be a number of ms ≥ 0 (Infinity allowed), got ${v}`);
  }
  if (!['min', 'max', 'none'].includes(c.flowControl)) throw new InvalidArgumentValueError(`flowControl must be 'min', 'max' or 'none', got ${String(c.flowControl)}`);
  if (!['next', 'earliest'].includes(c.lateJoin)) throw new InvalidArgumentValueError(`lateJoin must be 'next' or 'earliest', got ${String(c.lateJoin)}`);
  for (const [name, v] of [['sessionHi', c.sessionHi], ['sessionLo', c.sessionLo]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new InvalidArgumentValueError(`${name} must be a u32, got ${v}`);
  }
}

class EndpointImpl implements Endpoint, HealthReader {
  private readonly out = new Output();
  private readonly statsObj: ProtocolStats = createStats();
  private readonly limits = new Limits(this.statsObj, this.out);
  /** Receive memory over all sources (gauges in stats()). */
  private readonly totals = { reorderBytes: 0, reassemblyBytes: 0, readBacklogBytes: 0 };
  private readonly sender: Sender;
  private readonly receiver: Receiver;
  private readonly hi: number;
  private readonly lo: number;
  /** Latest time seen, for wake-ups that depend on it (rate limits). */
  private lastNowMs = 0;
  /** When this endpoint started listening (late join 'next' compares stream ages with it). */
  private readonly opened: { atMs: number };
  private readonly flowControl: FlowControl;
  private readonly reader: BatchReader;

  constructor(config: EndpointConfig, tuning: ProtocolTuning) {
    this.reader = new BatchReader(config.rejects ?? createRejectCounts());
    this.hi = config.sessionHi;
    this.lo = config.sessionLo;
    this.sender = new Sender(config, tuning, this.out, this.statsObj, this.limits);
    this.opened = { atMs: config.openedAtMs ?? Number.NaN };
    this.flowControl = config.flowControl;
    this.receiver = new Receiver({ config, tuning, stats: this.statsObj, out: this.out, naks: new NakScheduler(tuning, config.random), opened: this.opened, limits: this.limits, totals: this.totals });
  }

  private touch(nowMs: number): void {
    this.lastNowMs = nowMs;
    this.limits.nowMs = nowMs;
    if (Number.isNaN(this.opened.atMs)) this.opened.atMs = nowMs;
  }

  send(nowMs: number, streamId: number, data: Uint8Array): boolean {
    this.touch(nowMs);
    return this.sender.send(nowMs, streamId, data);
  }

  flush(nowMs: number): void {
    this.touch(nowMs);
    this.sender.flush(nowMs);
  }

  handleBatch(nowMs: number, batch: ReceivedBatch): void {
    this.reader.read(nowMs, batch, this.handleChecked);
  }

  private readonly handleChecked = (nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number }): void => {
    this.handleDatagram(nowMs, datagram, header, from);
  };

  handleDatagram(nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number } | undefined): void {
    this.touch(nowMs);
    // Our own datagrams come back through multicast loopback.
    if (header.sessionHi === this.hi && header.sessionLo === this.lo) return;
    const st = this.statsObj;
    st.datagramsReceived++;
    st.bytesReceived += datagram.length;
    if (datagram.length !== HEADER_BYTES + header.payloadLength) {
      this.limits.invalid('datagram-length');
      return;
    }
    switch (header.type) {
      case DatagramType.DATA:
        this.receiver.handleData(nowMs, datagram, header, from);
        return;
      case DatagramType.HEARTBEAT:
        this.receiver.handleHeartbeat(nowMs, datagram, header, from);
        return;
      case DatagramType.NCF:
        this.receiver.handleNcf(nowMs, datagram, header);
        return;
      case DatagramType.NAK: {
        const nak = this.receiver.decodeNak(datagram, header);
        if (!nak) return;
        if (nak.targetHi === this.hi && nak.targetLo === this.lo) this.sender.handleNak(nowMs, header.streamId, nak, sessionIdHex(header.sessionHi, header.sessionLo));
        else this.receiver.overheardNak(nowMs, header, nak, from);
        return;
      }
      case DatagramType.STATUS: {
        const status = decodeStatus(datagram, HEADER_BYTES, HEADER_BYTES + header.payloadLength, header.flags);
        if (!status) {
          this.limits.invalid('status');
          return;
        }
        if (status.targetHi === this.hi && status.targetLo === this.lo) {
          const key = sessionIdHex(header.sessionHi, header.sessionLo);
          // A receiver closing: stop pacing to it and stop waiting for it at once.
          if ((header.flags & StatusFlag.LEAVING) !== 0) this.sender.handleLeaving(nowMs, status, key);
          else this.sender.handleStatus(nowMs, status, key, { id: key, address: from?.address, port: from?.port });
        } else this.receiver.overheardStatus(nowMs, header, status, from);
        return;
      }
      default:
        // CONTROL belongs to the group layer; anything else is not ours.
        return;
    }
  }

  handleTimeout(nowMs: number): void {
    this.touch(nowMs);
    this.sender.handleTimeout(nowMs);
    this.receiver.handleTimeout(nowMs);
  }

  pollTransmit(nowMs: number): Uint8Array | undefined {
    this.touch(nowMs);
    const dg = this.out.control.shift() ?? this.sender.pollData(nowMs);
    if (dg !== undefined) {
      this.statsObj.datagramsSent++;
      this.statsObj.bytesSent += dg.length;
    }
    return dg;
  }

  pollTimeout(): number | undefined {
    // Rate-limit wake-ups are computed against the last known time; the driver calls pollTimeout right after a call that carried it.
    const a = this.sender.nextTimeoutMs(this.lastNowMs);
    const b = this.receiver.nextTimeoutMs();
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  pollEvent(): ProtocolEvent | undefined {
    return this.out.events.shift();
  }

  expectReceiver(nowMs: number, receiver: SourceInfo): void {
    this.touch(nowMs);
    if (this.flowControl !== 'min') return; // 'max' must not pace to a receiver that has not acknowledged anything
    const { record, created } = this.sender.receivers.upsert(receiver.id, receiver, nowMs);
    record.member = true;
    if (!created) return;
    // It may have been receiving for a while (this sender may be the newcomer, or the member's announce and status may
    // have been lost): until its first status says where it stands, it holds every stream at the oldest data still in
    // the window. (Taking it for having everything sent so far let the window evict what it still needed.)
    for (const s of this.sender.window.streams.values()) record.acks.set(s.streamId, Math.min(s.trailSeq, s.sentNextSeq));
    this.statsObj.receivers = this.sender.receivers.size;
    this.out.events.push({ type: 'receiver', receiver });
  }

  dropReceiver(nowMs: number, id: string, reason: 'dead' | 'left'): void {
    this.touch(nowMs);
    this.sender.dropReceiver(nowMs, id, reason);
  }

  ignoreReceiver(nowMs: number, id: string): void {
    this.touch(nowMs);
    this.sender.ignoreReceiver(nowMs, id);
  }

  isFlushed(): boolean {
    return this.out.control.length === 0 && this.sender.isFlushed();
  }

  close(nowMs: number, immediate = false): void {
    this.touch(nowMs);
    this.sender.close(nowMs, immediate);
    this.receiver.close();
  }

  closeOutcome(): CloseOutcome | undefined {
    // Not before its last datagram (the FINAL heartbeat) has been polled out.
    return this.out.control.length === 0 ? this.sender.closeOutcome() : undefined;
  }

  setReadBacklog(nowMs: number, bytes: number): void {
    this.touch(nowMs);
    this.receiver.setReadBacklog(nowMs, bytes);
  }

  sourceHealth(nowMs: number): SourceHealth[] {
    return this.receiver.sourceHealth(nowMs);
  }

  receiverHealth(nowMs: number): ReceiverHealth[] {
    return [...this.sender.receiverHealth(nowMs), ...this.receiver.observedHealth(nowMs)];
  }

  stats(): ProtocolStats {
    const s = snapshotStats(this.statsObj);
    s.reorderBytes = this.totals.reorderBytes;
    s.reassemblyBytes = this.totals.reassemblyBytes;
    return s;
  }
}

/**
 * Creates an endpoint. `tuning` overrides protocol timers and strategies that
 * are not part of {@link EndpointConfig} (tests shorten them); omitted fields
 * take the defaults of src/protocol/constants.ts. Throws InvalidArgumentValueError for a
 * config out of range.
 */
export function createEndpoint(config: EndpointConfig, tuning: Partial<ProtocolTuning> = {}): Endpoint & HealthReader {
  checkConfig(config);
  const t = { ...DEFAULT_TUNING, ...tuning };
  checkTuningLimits(t);
  return new EndpointImpl(config, t);
}
