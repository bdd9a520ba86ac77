/**
 * What the cores see of a receive batch: the datagrams laid out in one
 * buffer, and who sent each. Every transport's batch (src/transport) is one;
 * the cores (src/protocol, src/crypto) read it during the call that hands it
 * to them and keep nothing of it.
 */

export interface ReceivedBatch {
  readonly count: number;
  /** Memory holding every datagram of the batch. */
  readonly buffer: Buffer;
  /** Datagram i is `buffer[offsets[i], offsets[i] + lengths[i])`. Only the first `count` entries are meaningful. */
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /**
   * True when the buffer is shared with other receivers (the simulated
   * network hands every receiver views of one copy): read it, never modify
   * it in place. False for a socket's own receive buffer.
   */
  readonly shared: boolean;
  /** Sender of datagram i (decoded lazily: the cores ask only for a new source or receiver). */
  source(i: number): { address: string; port: number };
}
