/**
 * A batch of received messages for the batch-level read API
 * (`channel.on('messages', (batch) => …)`): consecutive messages of one
 * (source, stream), in order, handed over together — usually all the messages
 * of one received datagram. Reading a batch allocates nothing until a
 * message's bytes are asked for, and then only a view.
 */

import type { Message } from './channel-types';
import type { SourceInfo } from '../protocol/api';
import { PackedView } from '../protocol/packed-view';

export class MessageBatch implements Iterable<Message> {
  /** Number of messages, ≥ 1. */
  readonly count: number;
  /** Sequence number of the first message; message i has `firstSeq + i`. */
  readonly firstSeq: number;
  readonly source: SourceInfo;
  /** Stream name, as in {@link Message.stream}. */
  readonly stream: string;
  private readonly view: PackedView | undefined;
  private readonly single: Buffer | undefined;

  /** @internal built by the channel: `payload` is either packed records (`packed`) or the one message's bytes. */
  constructor(source: SourceInfo, stream: string, firstSeq: number, count: number, payload: Buffer, packed: boolean) {
    this.source = source;
    this.stream = stream;
    this.firstSeq = firstSeq;
    this.count = count;
    this.view = packed ? new PackedView(payload, count) : undefined;
    this.single = packed ? undefined : payload;
  }

  /**
   * Bytes of message `i` (0-based): a view into this batch's own copy of the
   * datagram, which the application may keep (it is never reused). Reading
   * in order is O(1) per message.
   * @throws RangeError when i is not in 0 … count − 1.
   */
  data(i: number): Buffer {
    if (this.view !== undefined) return this.view.at(i);
    if (i !== 0) throw new RangeError(`message index ${i} out of range 0..0`);
    return this.single!;
  }

  /** Sequence number of message `i`. */
  seq(i: number): number {
    return this.firstSeq + i;
  }

  /**
   * The batch's own bytes (never reused): message `i` is
   * `buffer[offset(i), offset(i) + length(i))`. For parsing without a view per
   * message; {@link data} is the simpler way.
   */
  get buffer(): Buffer {
    return this.view !== undefined ? this.view.payload : this.single!;
  }

  /** Where message `i` starts in {@link buffer}. @throws RangeError when i is not in 0 … count − 1. */
  offset(i: number): number {
    if (this.view !== undefined) return this.view.offset(i);
    if (i !== 0) throw new RangeError(`message index ${i} out of range 0..0`);
    return 0;
  }

  /** Length of message `i`, bytes. @throws RangeError when i is not in 0 … count − 1. */
  length(i: number): number {
    if (this.view !== undefined) return this.view.length(i);
    if (i !== 0) throw new RangeError(`message index ${i} out of range 0..0`);
    return this.single!.length;
  }

  /** Message `i` as a {@link Message} object (what the per-message API delivers). */
  message(i: number): Message {
    return { data: this.data(i), source: this.source, stream: this.stream, seq: this.firstSeq + i };
  }

  *[Symbol.iterator](): Iterator<Message> {
    for (let i = 0; i < this.count; i++) yield this.message(i);
  }
}
