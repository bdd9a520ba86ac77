/**
 * Loads the native addon (build/Release/blipcast.node, or a prebuild) through
 * node-gyp-build, once, and remembers why it failed if it did. Choosing the
 * dgram fallback (and honouring `BLIPCAST_TRANSPORT=dgram`) happens in the
 * transport factory, not here.
 *
 * `BLIPCAST_NATIVE_PATH` names a `.node` file to load instead, e.g. the
 * AddressSanitizer build from cmake-js (docs/native.md).
 */

import { join, resolve } from 'node:path';

/** The addon's UdpSocket: every method returns 0 or a non-negative value, or -errno. */
export interface NativeUdpSocket {
  /** Creates the socket (non-blocking, close-on-exec). `family` is 4 or 6. */
  open(family: 4 | 6): number;
  /** SO_REUSEADDR (every socket of a port gets its copy of each multicast datagram). */
  setReuse(): number;
  /** IPV6_V6ONLY. */
  setV6Only(): number;
  bind(address: string, port: number, scopeId?: number): number;
  /** The bound port, or -errno. */
  localPort(): number;
  setMulticastAll(on: boolean): number;
  /** By index when `ifIndex` > 0, else (IPv4) by address; '' and 0 for the default. */
  setMulticastInterface(ifAddress: string, ifIndex: number): number;
  setMulticastTtl(ttl: number): number;
  setMulticastLoop(on: boolean): number;
  /** `source` '' for any-source; otherwise source-specific. Leaving is closing the socket. */
  addMembership(group: string, source: string, ifAddress: string, ifIndex: number): number;
  /** Tries SO_RCVBUFFORCE, then SO_RCVBUF. */
  setRecvBufferSize(bytes: number): number;
  /** What the kernel granted (Linux reports double the request). */
  getRecvBufferSize(): number;
  setSendBufferSize(bytes: number): number;
  getSendBufferSize(): number;
  /** SO_RXQ_OVFL. */
  enableDropCounter(): number;
  /** IP_PKTINFO / IPV6_RECVPKTINFO. */
  enablePacketInfo(): number;
  /** UDP_GRO on: runs of datagrams may arrive as one slot, split again into entries by the addon. 0 or -errno. */
  enableGro(): number;
  /** The address sendBatch sends to (not connect(): that would filter received datagrams). */
  setDestination(address: string, port: number, scopeId?: number): number;
  /**
   * connect() to the group, so that the kernel picks the source address once
   * (localAddress() then reports it). Sending still uses setDestination's address.
   */
  connect(address: string, port: number, scopeId?: number): number;
  /** The bound local address as text, or -errno. */
  localAddress(): string | number;
  /**
   * Attaches to this receive socket a kernel filter dropping every datagram
   * from `address`:`port` (our own send socket). `counting`: eBPF with a
   * counter (needs CAP_BPF or root where unprivileged BPF is off), reported as
   * onBatch's `ownDropped`; otherwise classic BPF, allowed to anyone, counting
   * nothing. Replaces an earlier filter. 0 or -errno.
   */
  attachOwnFilter(address: string, port: number, counting: boolean): number;
  /**
   * sendmmsg of `datagrams[start..]`: how many the kernel took. Short at
   * would-block or at another error; a call whose first datagram fails with
   * an error other than would-block returns -errno.
   */
  sendBatch(datagrams: readonly Uint8Array[], start: number): number;
  /**
   * UDP GSO in sendBatch: runs of equal-size datagrams leave as one segmented
   * send (identical datagrams on the wire). Turned off by the addon for good
   * the first time the kernel refuses it.
   */
  setSegmentation(on: boolean): number;
  /** Whether sendBatch currently segments (read by the tests only). */
  segmentation(): boolean;
  /**
   * Starts the uv_poll + recvmmsg loop into caller-owned memory (held by the
   * addon until the socket is closed). `onBatch(count, truncated, drops)` is
   * called once per recvmmsg batch: datagram j of the batch is
   * `data[offsets[j], offsets[j] + lengths[j])`, its raw source sockaddr and
   * destination address are in `addrs` at slot `offsets[j] / slotBytes`
   * (layout in {@link NativeLayout}); `count` < 0 is -errno of a failed
   * recvmmsg; `drops` is the cumulative SO_RXQ_OVFL counter or -1 (it also
   * counts what an own-datagram filter dropped); `ownDropped` is the counting
   * own-datagram filter's total (mod 2^32, read after the batch) or -1, and
   * undefined when `count` < 0.
   */
  startReceiving(
    data: Buffer, slotBytes: number, slotCount: number,
    offsets: Uint32Array, lengths: Uint32Array, flags: Uint32Array, addrs: Buffer,
    onBatch: (count: number, truncated: number, drops: number, ownDropped?: number) => void,
  ): number;
  /**
   * Stops receiving at once (no onBatch call after this returns, even when
   * called from inside onBatch), then closes the fd once libuv has released
   * the handle and calls `onClosed`. -EBADF when not open or already closing.
   */
  close(onClosed?: () => void): number;
}

/** Byte layout shared by the addon and src/transport/native.ts. */
export interface NativeLayout {
  /** Bytes per datagram slot in the address buffer. */
  addrSlotBytes: number;
  /** Offset of the raw source sockaddr (sockaddr_in / sockaddr_in6) in a slot. */
  addrSourceOffset: number;
  /** Offset of the destination address (4 or 16 bytes) in a slot. */
  addrDestinationOffset: number;
  /** Per-datagram flag: the destination address is present. */
  flagHasDestination: number;
  /** Per-datagram flag: the ancillary data was truncated (MSG_CTRUNC). */
  flagControlTruncated: number;
  /** u32 words per datagram written by decodeHeaders. */
  decodedWords: number;
  /** Most slots per receive ring. */
  maxSlots: number;
  /** Most datagrams one slot can hold with UDP GRO: offsets/lengths/flags need slots × this entries. */
  maxGroSegments: number;
}

/**
 * The addon's AES-256-GCM key material for one channel (native/aead.h): one
 * EVP context pair per key id. Wire format in docs/protocol.md, "Encryption".
 */
export interface NativeAeadKeyring {
  /** Installs or replaces key `id` (1..255) from 32 bytes. 0 or -errno (-EINVAL for a bad id or length). */
  setKey(id: number, key: Uint8Array): number;
  /** Forgets key `id`. Always 0. */
  removeKey(id: number): number;
  /**
   * Seals clear datagram i (header + payload) with counter `counter + i` into
   * `out`, one after another, each 16 bytes longer than its input. Returns
   * `datagrams.length`, or -EINVAL (bad arguments, unknown key, `out` too
   * short, counter past 2^48 - 1), -EIO (OpenSSL failed).
   */
  sealBatch(keyId: number, counter: number, datagrams: readonly Uint8Array[], out: Uint8Array): number;
  /**
   * Opens datagrams 0..count-1 in place and decodes their headers: 8 u32 per
   * datagram in `out`, decodeHeaders' layout, code 0 or a header Reject or
   * 64 (clear) / 65 (unknown key) / 66 (tag did not verify); the last word is
   * the plaintext length. Returns how many were OK, or -EINVAL.
   */
  openBatch(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array): number;
}

export interface NativeAddon {
  UdpSocket: new () => NativeUdpSocket;
  /** AES-256-GCM batch seal/open (ABI 2). */
  AeadKeyring: new () => NativeAeadKeyring;
  /**
   * Validates and decodes the header of datagrams 0..count-1 exactly like
   * decodeHeaderInto, writing 8 u32 per datagram into `out`: code,
   * type | flags << 8 | keyId << 16, streamId, sessionHi, sessionLo, seqHi,
   * seqLo, payloadLength (words 1..7 zero unless code is 0). Returns how many
   * were OK, or -EINVAL for arguments too short for `count`.
   */
  decodeHeaders(buffer: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, count: number, out: Uint32Array): number;
  /** CRC32C continued from `crc`; `portable` forces the table implementation (the tests check both against the vectors). */
  crc32c(bytes: Uint8Array, crc?: number, portable?: boolean): number;
  /**
   * The datagram checksum (CRC32C of header bytes 0..27, then the payload) of
   * the datagram at `bytes[offset..]` in one call; -1 when it does not fit.
   */
  datagramChecksum(bytes: Uint8Array, offset: number, payloadLength: number): number;
  /** 'sse4.2' or 'table'. */
  crc32cImplementation: string;
  /** False where sockets are not implemented (everything returns -ENOSYS). */
  platformSupported: boolean;
  layout: NativeLayout;
  abiVersion: number;
}

export type NativeLoadResult = { addon: NativeAddon; error?: undefined } | { addon?: undefined; error: Error };

/**
 * The addon's ABI this file is written against; a stale build is refused
 * instead of misused, so nothing below is optional. 2: AeadKeyring. 3: the
 * own-datagram filter (connect, localAddress, attachOwnFilter), UDP GSO
 * (setSegmentation, segmentation) and datagramChecksum required; UdpSocket
 * send and dropMembership removed. 4: UDP GRO (enableGro, layout.maxGroSegments).
 */
const ABI_VERSION = 4;

/** The package root: this file is compiled to dist/src/addon/addon.js. */
export const PACKAGE_ROOT = resolve(__dirname, '..', '..', '..');

let cached: NativeLoadResult | undefined;

/** Loads the addon once; later calls return the same result (the addon, or the error that stopped it). */
export function loadNative(): NativeLoadResult {
  if (cached) return cached;
  cached = tryLoad();
  return cached;
}

function tryLoad(): NativeLoadResult {
  try {
    const override = process.env.BLIPCAST_NATIVE_PATH;
    let addon: NativeAddon;
    if (override !== undefined && override !== '') {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = require(resolve(override)) as NativeAddon;
    } else {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const build = require('node-gyp-build') as (root: string) => unknown;
      addon = build(PACKAGE_ROOT) as NativeAddon;
    }
    if (addon.abiVersion !== ABI_VERSION) {
      return { error: new Error(`native addon ABI ${String(addon.abiVersion)} does not match ${ABI_VERSION}: rebuild it (npm run build:native)`) };
    }
    return { addon };
  } catch (err) {
    // First line only: node-gyp-build and require() add lines of paths tried, too long for a warning.
    const error = err instanceof Error ? err : new Error(String(err));
    return { error: new Error(error.message.split('\n', 1)[0]!.trim(), { cause: error }) };
  }
}

/** What a user does to get the native transport when no prebuilt addon fits (scripts/install.js builds it then). */
export const NATIVE_BUILD_HINT = 'install make, a C++17 compiler and python3, then run `npm rebuild blipcast`';

/** Where node-gyp builds the addon (for messages and docs). */
export const DEFAULT_ADDON_PATH = join(PACKAGE_ROOT, 'build', 'Release', 'blipcast.node');
