/**
 * Turns messages into DATA datagrams: small messages written before the next
 * flush are packed into one datagram (u16 length + bytes each) up to
 * maxDatagramBytes; a message that does not fit one datagram is split into
 * fragments (u32 message length, u32 byte offset, bytes), one per datagram.
 * Every message (or fragment) takes one sequence number of its stream.
 */

import { DatagramType, HEADER_BYTES, writeHeader, type Header } from '../wire/header';
import { DataFlag, FRAGMENT_PREFIX_BYTES, PACKED_PREFIX_BYTES, writeU32, type Origin } from './payload';
import type { StreamSendState, WindowEntry } from './send-window';
import { allocBytes, MAX_SLAB_ALLOC_BYTES, shrinkBytes } from '../util/slab';

export class Packer {
  /** The datagram being packed (room for maxDatagramBytes), or undefined between datagrams. */
  private open: Buffer | undefined;
  private stream: StreamSendState | undefined;
  private used = HEADER_BYTES;
  private count = 0;
  private firstSeq = 0;
  private readonly header: Header;
  private readonly checksum: boolean;
  /** Largest message that is packed rather than fragmented. */
  readonly maxPackedBytes: number;
  /** Data bytes per fragment. */
  readonly fragmentBytes: number;

  constructor(private readonly maxDatagramBytes: number, origin: Origin, private readonly onDatagram: (e: WindowEntry) => void) {
    this.maxPackedBytes = maxDatagramBytes - HEADER_BYTES - PACKED_PREFIX_BYTES;
    this.fragmentBytes = maxDatagramBytes - HEADER_BYTES - FRAGMENT_PREFIX_BYTES;
    this.header = { type: DatagramType.DATA, flags: 0, keyId: 0, streamId: 0, sessionHi: origin.sessionHi, sessionLo: origin.sessionLo, sequence: 0, payloadLength: 0 };
    this.checksum = origin.checksum !== false;
  }

  /** Bytes waiting in the open datagram (not yet in the window). */
  pendingBytes(): number {
    return this.count === 0 ? 0 : this.used;
  }

  /** Adds one message; assigns its sequence number(s) from `s`. */
  add(s: StreamSendState, data: Uint8Array): void {
    const len = data.length;
    if (len <= this.maxPackedBytes) {
      if (this.count > 0 && (this.stream !== s || this.used + PACKED_PREFIX_BYTES + len > this.maxDatagramBytes)) this.close();
      if (this.count === 0) {
        this.stream = s;
        this.firstSeq = s.nextSeq;
        this.used = HEADER_BYTES;
      }
      const b = (this.open ??= allocBytes(this.maxDatagramBytes));
      b[this.used] = len >>> 8;
      b[this.used + 1] = len & 0xff;
      b.set(data, this.used + PACKED_PREFIX_BYTES);
      this.used += PACKED_PREFIX_BYTES + len;
      this.count++;
      s.nextSeq++;
      return;
    }
    this.close();
    for (let offset = 0; offset < len; offset += this.fragmentBytes) {
      const n = Math.min(this.fragmentBytes, len - offset);
      const dg = allocBytes(HEADER_BYTES + FRAGMENT_PREFIX_BYTES + n);
      writeU32(dg, HEADER_BYTES, len);
      writeU32(dg, HEADER_BYTES + 4, offset);
      dg.set(data.subarray(offset, offset + n), HEADER_BYTES + FRAGMENT_PREFIX_BYTES);
      this.emit(s, dg, DataFlag.FRAGMENT, s.nextSeq, 1);
      s.nextSeq++;
    }
  }

  /** Closes the open datagram, if any, and hands it to the window. */
  close(): void {
    if (this.count === 0) return;
    const buf = this.open!;
    let dg: Buffer;
    if (buf.length <= MAX_SLAB_ALLOC_BYTES) {
      // Packed in place: cut to its size (the slab takes the rest back when it can), no copy.
      dg = shrinkBytes(buf, this.used);
      this.open = undefined;
    } else {
      // Large datagrams (loopback): copy out at the exact size, so the window holds no slack; the buffer is reused.
      dg = allocBytes(this.used);
      buf.copy(dg, 0, 0, this.used);
    }
    const s = this.stream!;
    const count = this.count;
    this.count = 0;
    this.stream = undefined;
    this.emit(s, dg, 0, this.firstSeq, count);
  }

  private emit(s: StreamSendState, dg: Buffer, flags: number, firstSeq: number, count: number): void {
    const h = this.header;
    h.flags = flags;
    h.streamId = s.streamId;
    h.sequence = firstSeq;
    h.payloadLength = dg.length - HEADER_BYTES;
    writeHeader(dg, 0, h, this.checksum);
    this.onDatagram({ streamId: s.streamId, firstSeq, count, datagram: dg, sent: false, evicted: false, repairQueued: false, lastRepairMs: -Infinity, lastRepairAsker: undefined, streamOffset: 0 });
  }
}
