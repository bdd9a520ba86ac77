/**
 * A channel's read side: its own queue in front of the object-mode Readable,
 * so that what the reader holds is counted in bytes. Past
 * `maxReadBufferBytes` messages are dropped (reported as 'read-buffer' loss,
 * one event per source and stream and turn) rather than stall the protocol
 * for every receiver; below it, the backlog is reported to the core, whose
 * receivers advertise the rest of their read budget so that a 'min' sender
 * waits for a slow reader (docs/api.md, "Slow readers").
 */

import { Readable } from 'node:stream';
import type { SourceInfo } from '../protocol/api';
import { Fifo } from '../util/fifo';
import type { ChannelCounters, LossInfo, Message } from './channel-types';

export interface ReadQueueOptions {
  highWaterMark: number;
  /** maxReadBufferBytes. */
  maxBytes: number;
  /** The channel's counters section (messagesReceived, readDropped). */
  counters: ChannelCounters;
  /** The name of a stream id. */
  nameOf(streamId: number): string;
  /** A read-buffer loss to report. */
  onLoss(loss: LossInfo): void;
  /** The backlog the core should advertise against (see {@link ReadQueue.reportBacklog}). */
  onBacklog(bytes: number): void;
}

interface PendingLoss {
  source: SourceInfo;
  streamId: number;
  fromSeq: number;
  toSeq: number;
}

export class ReadQueue {
  /** Received messages as an object-mode Readable of {@link Message}. */
  readonly readable: Readable;
  /** What receivers advertise as their read budget: half of maxReadBufferBytes (the other half absorbs several sources and in-flight data). */
  readonly budgetBytes: number;
  private readonly options: ReadQueueOptions;
  private readonly queue = new Fifo<Message>();
  private bytes = 0;
  private wantRead = false;
  private pumping = false;
  private ended = false;
  private nullPushed = false;
  private overflowing = false;
  private readonly pendingLoss = new Map<string, PendingLoss>();
  /** The application has started reading (the readable asked for data once): from then on its backlog paces 'min' senders. */
  private reading = false;
  /** The backlog the core was last told of. */
  private backlogReported = 0;

  constructor(options: ReadQueueOptions) {
    this.options = options;
    this.budgetBytes = readBudgetOf(options.maxBytes);
    this.readable = new Readable({
      objectMode: true,
      highWaterMark: options.highWaterMark,
      read: () => {
        this.reading = true;
        this.wantRead = true;
        this.pump();
      },
    });
  }

  get bufferedMessages(): number {
    return this.queue.length;
  }

  get bufferedBytes(): number {
    return this.bytes;
  }

  /** Queues one message for the reader, or drops it when the reader is too far behind. */
  deliver(message: Message, streamId: number): void {
    const counters = this.options.counters;
    if (this.readable.destroyed) {
      // Nobody can read any more; keep nothing.
      counters.readDropped++;
      return;
    }
    const max = this.options.maxBytes;
    if (this.overflowing && this.bytes <= max / 2) this.overflowing = false;
    if (this.overflowing || this.bytes + message.data.length > max) {
      // The reader is far behind: drop rather than grow without bound or stall the protocol (which would stall every receiver).
      this.overflowing = true;
      counters.readDropped++;
      this.recordDrop(message, streamId);
      return;
    }
    counters.messagesReceived++;
    this.queue.push(message);
    this.bytes += message.data.length;
    if (this.wantRead) this.pump();
  }

  /** At the end of every driver turn: reports this turn's drops, and the backlog if it moved. */
  endOfTurn(): void {
    this.flushPendingLoss();
    this.reportBacklog();
  }

  /** No more messages: the readable ends once the reader has taken what is queued. */
  end(): void {
    this.flushPendingLoss();
    this.ended = true;
    this.pump();
  }

  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let m: Message | undefined;
      while (this.wantRead && (m = this.queue.shift()) !== undefined) {
        this.bytes -= m.data.length;
        this.wantRead = this.readable.push(m);
      }
      if (this.ended && this.queue.length === 0 && !this.nullPushed && !this.readable.destroyed) {
        this.nullPushed = true;
        this.readable.push(null);
      }
    } finally {
      this.pumping = false;
    }
    if (!this.ended) this.reportBacklog();
  }

  /**
   * Tells the core how much the reader holds unread, when that changed by an
   * eighth of the budget or emptied: not per message.
   */
  private reportBacklog(): void {
    // A channel nobody reads from (no iterator, no 'data' listener) is not a reader to wait for: it drops at maxReadBufferBytes.
    const bytes = this.reading ? this.bytes : 0;
    if (bytes === this.backlogReported) return;
    if (bytes !== 0 && Math.abs(bytes - this.backlogReported) < this.budgetBytes / 8) return;
    this.backlogReported = bytes;
    this.options.onBacklog(bytes);
  }

  private recordDrop(message: Message, streamId: number): void {
    const key = `${message.source.id}/${streamId}`;
    const pending = this.pendingLoss.get(key);
    if (pending === undefined) this.pendingLoss.set(key, { source: message.source, streamId, fromSeq: message.seq, toSeq: message.seq });
    else pending.toSeq = message.seq;
  }

  private flushPendingLoss(): void {
    if (this.pendingLoss.size === 0) return;
    const all = [...this.pendingLoss.values()];
    this.pendingLoss.clear();
    for (const p of all) {
      this.options.onLoss({ source: p.source, stream: this.options.nameOf(p.streamId), fromSeq: p.fromSeq, toSeq: p.toSeq, reason: 'read-buffer' });
    }
  }
}

/** Half of maxReadBufferBytes, at least 1. */
export function readBudgetOf(maxReadBufferBytes: number): number {
  return Math.max(1, Math.floor(maxReadBufferBytes / 2));
}
