/**
 * Datagram-sized buffers (the sender's packed datagrams, the receiver's
 * copies of received payloads) carved out of shared 64 KiB slabs instead of
 * one allocation each. Node's own pool is 8 KiB, so a 1 KiB message cost a new
 * ArrayBuffer every 7 copies; with a slab it is every ~60. The price: a copy
 * keeps its whole slab alive until every copy in it is garbage, so an
 * application that holds on to one message pins at most {@link SLAB_BYTES}.
 * Copies larger than an eighth of a slab get their own allocation.
 */

/** Bytes per slab. */
export const SLAB_BYTES = 64 * 1024;
/** Larger requests get an allocation of their own. */
export const MAX_SLAB_ALLOC_BYTES = SLAB_BYTES / 8;

let slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
let used = 0;

/** `n` uninitialised bytes of their own (no other caller gets them), like Buffer.allocUnsafe. */
export function allocBytes(n: number): Buffer {
  if (n > MAX_SLAB_ALLOC_BYTES) return Buffer.allocUnsafe(n);
  if (used + n > SLAB_BYTES) {
    slab = Buffer.allocUnsafeSlow(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  // 8-byte aligned, like Node's pool (typed-array views over the bytes stay possible).
  used = (at + n + 7) & ~7;
  return slab.subarray(at, at + n);
}

/**
 * `buf` (from {@link allocBytes}) cut to its first `n` bytes; when it is the
 * latest allocation of the current slab, the rest goes back to the slab. For
 * a buffer filled before its final size is known (a datagram being packed).
 */
export function shrinkBytes(buf: Buffer, n: number): Buffer {
  if (buf.buffer === slab.buffer) {
    const at = buf.byteOffset - slab.byteOffset;
    if (((at + buf.length + 7) & ~7) === used) used = (at + n + 7) & ~7;
  }
  return buf.subarray(0, n);
}

/** A private copy of `src[start, end)`, valid for as long as the caller keeps it. */
export function copyBytes(src: Uint8Array, start: number, end: number): Buffer {
  const out = allocBytes(end - start);
  out.set(src.subarray(start, end));
  return out;
}
