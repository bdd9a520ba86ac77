/**
 * Reads the messages of a packed DATA payload (`count` × u16 length + bytes,
 * already validated by parsePacked) as views, without parsing it again for
 * every access: reading them in order costs O(1) each.
 */

import type { MessagesEvent } from './api';
import { PACKED_PREFIX_BYTES } from './payload';

export class PackedView {
  private cursorIndex = 0;
  private cursorOffset = 0;

  /** `payload` must hold exactly `count` well-formed records (see {@link MessagesEvent}). */
  constructor(readonly payload: Buffer, readonly count: number) {}

  /** Message `i` (0-based) as a view into the payload. @throws RangeError when i is out of range. */
  at(i: number): Buffer {
    const o = this.offset(i);
    return this.payload.subarray(o, o + this.length(i));
  }

  /** Where message `i`'s bytes start in the payload. @throws RangeError when i is out of range. */
  offset(i: number): number {
    if (!(i >= 0 && i < this.count) || !Number.isInteger(i)) throw new RangeError(`message index ${i} out of range 0..${this.count - 1}`);
    if (i < this.cursorIndex) {
      this.cursorIndex = 0;
      this.cursorOffset = 0;
    }
    const b = this.payload;
    let o = this.cursorOffset;
    for (let k = this.cursorIndex; k < i; k++) o += PACKED_PREFIX_BYTES + ((b[o]! << 8) | b[o + 1]!);
    this.cursorIndex = i;
    this.cursorOffset = o;
    return o + PACKED_PREFIX_BYTES;
  }

  /** Length of message `i`, bytes. @throws RangeError when i is out of range. */
  length(i: number): number {
    const o = this.offset(i) - PACKED_PREFIX_BYTES;
    return (this.payload[o]! << 8) | this.payload[o + 1]!;
  }
}
