/**
 * AES-256-GCM over whole datagram batches (wire format: docs/protocol.md,
 * "Encryption"; native twin: native/aead.cc). Two implementations of one
 * interface: the addon's `AeadKeyring` (one N-API call per batch, EVP contexts
 * kept per key) and node:crypto (one cipher object per datagram) when the
 * addon did not load. Same bytes, same codes: test/crypto.test.ts checks both
 * directions.
 *
 * Neither holds protocol state: which key is current, the counter and the
 * replay window are {@link GroupCrypto}'s.
 */

import { createCipheriv, createDecipheriv } from 'node:crypto';
import { AEAD_TAG_BYTES, MAX_DATAGRAM_COUNTER } from './constants';
import { loadNative, type NativeAeadKeyring } from '../addon/addon';
import { checkPreamble, DECODED_WORDS, reject, writeDecodedFields } from '../wire/decode';
import { HEADER_BYTES, MAX_SEALED_TYPE } from '../wire/header';
import { Reject, SealedReject } from '../wire/rejects';


export interface AeadBackend {
  readonly kind: 'native' | 'node';
  /** Installs (or replaces) the key of `id` (1..255). */
  setKey(id: number, key: Uint8Array): void;
  /** Forgets the key of `id`; datagrams under it are then 'unknown-key'. */
  removeKey(id: number): void;
  /**
   * Seals each clear datagram (a complete header + payload, as the protocol
   * core built it; not modified) with key `keyId` and counters `counter`,
   * `counter + 1`, …, returning new datagrams 16 bytes longer. The caller
   * guarantees `counter + datagrams.length - 1 ≤ MAX_DATAGRAM_COUNTER` and that `keyId` is installed.
   */
  sealBatch(keyId: number, counter: number, datagrams: readonly Uint8Array[]): Uint8Array[];
  /**
   * Opens datagrams 0..count-1 of `buffer` in place; for each writes
   * the decoded words of src/wire/decode.ts (the last one the plaintext
   * length). Code 0 = authentic, else a header {@link Reject} or a
   * {@link SealedReject}. Never throws on network input.
   */
  openBatch(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array): void;
}

/** The addon's backend, or undefined when the addon did not load (or predates AeadKeyring). */
export function createNativeAead(): AeadBackend | undefined {
  const { addon } = loadNative();
  if (addon?.AeadKeyring === undefined) return undefined;
  return new NativeAead(new addon.AeadKeyring());
}

/** Set to `node` to make channels use node:crypto even when the addon loaded (tests, benchmarks). */
export const AEAD_ENV = 'BLIPCAST_AEAD';

/** The addon backend when it is available (and {@link AEAD_ENV} is not `node`), else node:crypto. */
export function createAead(): AeadBackend {
  if (process.env[AEAD_ENV] === 'node') return new NodeAead();
  return createNativeAead() ?? new NodeAead();
}

/**
 * Sealed datagrams are carved out of 1 MiB slabs, never rewritten: a send batch
 * costs no allocation of its own (a fresh ~90 KiB Buffer per batch halved the
 * seal rate), and datagrams the socket would not take yet stay valid.
 */
const SEAL_SLAB_BYTES = 1024 * 1024;

class NativeAead implements AeadBackend {
  readonly kind = 'native' as const;
  private slab = Buffer.alloc(0);
  private slabUsed = 0;
  constructor(private readonly ring: NativeAeadKeyring) {}

  setKey(id: number, key: Uint8Array): void {
    const rc = this.ring.setKey(id, key);
    if (rc < 0) throw new Error(`AeadKeyring.setKey failed (${rc})`);
  }

  removeKey(id: number): void {
    this.ring.removeKey(id);
  }

  sealBatch(keyId: number, counter: number, datagrams: readonly Uint8Array[]): Uint8Array[] {
    let total = 0;
    for (const d of datagrams) total += d.length + AEAD_TAG_BYTES;
    if (this.slab.length - this.slabUsed < total) {
      this.slab = Buffer.allocUnsafeSlow(Math.max(SEAL_SLAB_BYTES, total));
      this.slabUsed = 0;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + total);
    this.slabUsed += total;
    const rc = this.ring.sealBatch(keyId, counter, datagrams, out);
    if (rc !== datagrams.length) throw new Error(`AeadKeyring.sealBatch failed (${rc})`);
    const sealed = new Array<Uint8Array>(datagrams.length);
    let at = 0;
    for (let i = 0; i < datagrams.length; i++) {
      const n = datagrams[i]!.length + AEAD_TAG_BYTES;
      sealed[i] = out.subarray(at, at + n);
      at += n;
    }
    return sealed;
  }

  openBatch(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array): void {
    this.ring.openBatch(buffer, offsets, lengths, count, out);
  }
}

/** The nonce of a sealed header (see native/aead.h): session id with its top 16 bits XOR counter bits 47..32, then counter bits 31..0. */
export function nonceOf(header: Uint8Array, offset: number): Buffer {
  const nonce = Buffer.allocUnsafe(12);
  for (let i = 0; i < 8; i++) nonce[i] = header[offset + 8 + i]!;
  nonce[0]! ^= header[offset + 26]!;
  nonce[1]! ^= header[offset + 27]!;
  for (let i = 0; i < 4; i++) nonce[8 + i] = header[offset + 28 + i]!;
  return nonce;
}

/** Writes the sealed-datagram fields of the header at `buf[0, 32)`: key id, sealed length, counter. */
function writeSealedFields(buf: Uint8Array, keyId: number, plainLength: number, counter: number): void {
  const sealedLength = plainLength + AEAD_TAG_BYTES;
  buf[5] = keyId;
  buf[24] = sealedLength >>> 8;
  buf[25] = sealedLength & 0xff;
  const hi = Math.floor(counter / 0x1_0000_0000);
  buf[26] = hi >>> 8;
  buf[27] = hi & 0xff;
  buf[28] = counter >>> 24;
  buf[29] = (counter >>> 16) & 0xff;
  buf[30] = (counter >>> 8) & 0xff;
  buf[31] = counter & 0xff;
}

/** The counter of the sealed datagram at `buf[offset, …)` (header bytes 26..31). */
export function readCounter(buf: Uint8Array, offset: number): number {
  const hi = (buf[offset + 26]! << 8) | buf[offset + 27]!;
  const lo = ((buf[offset + 28]! << 24) | (buf[offset + 29]! << 16) | (buf[offset + 30]! << 8) | buf[offset + 31]!) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

/** node:crypto, one cipher per datagram: the fallback when the addon is not there, and the reference the tests compare against. */
export class NodeAead implements AeadBackend {
  readonly kind = 'node' as const;
  private readonly keys = new Map<number, Buffer>();

  setKey(id: number, key: Uint8Array): void {
    this.keys.set(id, Buffer.from(key));
  }

  removeKey(id: number): void {
    this.keys.delete(id);
  }

  sealBatch(keyId: number, counter: number, datagrams: readonly Uint8Array[]): Uint8Array[] {
    const key = this.keys.get(keyId);
    if (key === undefined || counter + datagrams.length - 1 > MAX_DATAGRAM_COUNTER) throw new RangeError('sealBatch: no such key or counter exhausted');
    return datagrams.map((d, i) => {
      const plain = d.length - HEADER_BYTES;
      const out = Buffer.allocUnsafe(d.length + AEAD_TAG_BYTES);
      out.set(d.subarray(0, HEADER_BYTES), 0);
      writeSealedFields(out, keyId, plain, counter + i);
      const cipher = createCipheriv('aes-256-gcm', key, nonceOf(out, 0));
      cipher.setAAD(out.subarray(0, HEADER_BYTES));
      let at = HEADER_BYTES;
      at += cipher.update(d.subarray(HEADER_BYTES)).copy(out, at);
      at += cipher.final().copy(out, at);
      cipher.getAuthTag().copy(out, at);
      return out;
    });
  }

  openBatch(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array): void {
    for (let i = 0; i < count; i++) this.openOne(buffer, offsets[i]!, lengths[i]!, out, i * DECODED_WORDS);
  }

  private openOne(buf: Uint8Array, o: number, length: number, out: Uint32Array, w: number): void {
    // The cheap checks first, in the clear decoder's order, so that junk costs no AES.
    const pre = checkPreamble(buf, o, length);
    if (pre !== Reject.OK) return void reject(out, w, pre);
    const keyId = buf[o + 5]!;
    if (keyId === 0) return void reject(out, w, SealedReject.CLEAR_ON_KEYED);
    const sealedLength = (buf[o + 24]! << 8) | buf[o + 25]!;
    if (sealedLength !== length - HEADER_BYTES || sealedLength < AEAD_TAG_BYTES) return void reject(out, w, Reject.BAD_LENGTH);
    const key = this.keys.get(keyId);
    if (key === undefined) return void reject(out, w, SealedReject.UNKNOWN_KEY);
    const plain = sealedLength - AEAD_TAG_BYTES;
    const body = o + HEADER_BYTES;
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, nonceOf(buf, o));
      decipher.setAAD(buf.subarray(o, body));
      decipher.setAuthTag(buf.subarray(body + plain, body + sealedLength));
      const clear = decipher.update(buf.subarray(body, body + plain));
      decipher.final();
      buf.set(clear, body);
    } catch {
      return void reject(out, w, SealedReject.AUTH_FAILED);
    }
    // Authentic: the fields are what a key holder wrote; still check them like the clear decoder.
    writeDecodedFields(buf, o, plain, MAX_SEALED_TYPE, out, w);
  }
}
