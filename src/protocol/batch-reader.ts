/**
 * How a clear endpoint takes in a receive batch: one decode call for the
 * whole batch (the wire's decode contract, native when the addon loaded),
 * each rejected datagram counted by reason in the channel's `rejects`
 * section, each checked one handed on with its decoded header. The sender's
 * address is decoded only if the handler asks for it (a new source or
 * receiver). Sans-IO: it reads nothing but the batch.
 */

import type { ReceivedBatch } from '../wire/batch';
import { batchDecoder, DECODED_WORDS, unpackHeader, wordsFor, type BatchDecoder } from '../wire/decode';
import { emptyHeader, type Header } from '../wire/header';
import { countReject, Reject, SealedReject, type RejectCounts } from '../wire/rejects';

/** Takes one checked datagram: a view valid only during the call. */
export type DatagramHandler = (nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number }) => void;

/** `{ address, port }` of datagram `index` of `batch`, read only when accessed. */
export class LazySource {
  batch: ReceivedBatch | undefined;
  index = 0;
  get address(): string {
    return this.batch!.source(this.index).address;
  }
  get port(): number {
    return this.batch!.source(this.index).port;
  }
}

/** Offset of the key-id byte: a sealed datagram (key id ≠ 0) on a clear channel is named for what it is. */
const KEY_ID_OFFSET = 5;

export class BatchReader {
  private readonly header = emptyHeader();
  private readonly from = new LazySource();
  /** Decoded words, DECODED_WORDS per datagram, grown to the largest batch seen. */
  private words: Uint32Array = new Uint32Array(64 * DECODED_WORDS);

  constructor(
    /** The channel's `rejects` counters section. */
    private readonly rejects: RejectCounts,
    private readonly decode: BatchDecoder = batchDecoder(),
  ) {}

  /** Decodes `batch` and hands every clear datagram that passes the checks to `handle`, in order. */
  read(nowMs: number, batch: ReceivedBatch, handle: DatagramHandler): void {
    const count = batch.count;
    const words = (this.words = wordsFor(this.words, count));
    const buffer = batch.buffer;
    this.decode(buffer, batch.offsets, batch.lengths, count, words);
    const header = this.header;
    const from = this.from;
    from.batch = batch;
    for (let i = 0; i < count; i++) {
      const w = i * DECODED_WORDS;
      const code = words[w]!;
      const offset = batch.offsets[i]!;
      // A sealed datagram fails the CRC (its CRC field holds the counter) or, if it passes by chance, carries a key id.
      if (code === Reject.OK ? (words[w + 1]! >>> 16) !== 0 : code === Reject.BAD_CHECKSUM && buffer[offset + KEY_ID_OFFSET] !== 0) {
        countReject(this.rejects, SealedReject.KEYED_ON_CLEAR);
        continue;
      }
      if (code !== Reject.OK) {
        countReject(this.rejects, code);
        continue;
      }
      unpackHeader(words, w, header);
      from.index = i;
      handle(nowMs, buffer.subarray(offset, offset + batch.lengths[i]!), header, from);
    }
    from.batch = undefined;
  }
}
