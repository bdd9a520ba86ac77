/**
 * The native transport: the addon's UdpSocket (recvmmsg/sendmmsg over uv_poll).
 *
 * Two sockets per transport:
 * - the receive socket is bound to the wildcard address on the group port
 *   (SO_REUSEADDR, so any number of transports share a port; not SO_REUSEPORT, which hands remote multicast to only one of them)
 *   with IP_MULTICAST_ALL off, so it sees only the groups it joined itself;
 *   it joins the group (any-source or source-specific), reports each
 *   datagram's destination (IP_PKTINFO) and the kernel's drop counter
 *   (SO_RXQ_OVFL), and receives whole batches into one preallocated buffer;
 * - the send socket is bound to an ephemeral port, so every transport has a
 *   source address of its own, and sends with sendmmsg to the group address
 *   prepared once here. It is also connect()ed to the group, which makes the
 *   kernel choose its source address once, so that a socket filter on the
 *   receive socket can drop this transport's own datagrams in the kernel
 *   (multicast loopback hands every one of them back; see {@link OwnFilterKind}).
 *
 * The addon is thin: it returns 0 / -errno and this file validates options and
 * builds the errors ({@link SystemError} named after the failing syscall).
 */

import { networkInterfaces, constants as osConstants } from 'node:os';
import { ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError, SystemError, TransportUnavailableError } from '../util/errors';
import { loadNative, type NativeAddon, type NativeLayout, type NativeUdpSocket } from '../addon/addon';
import { checkTransportOptions, type CheckedTransportOptions } from './options';
import { emptyTransportStats, type DatagramBatch, type ReceiveHandler, type RemoteInfo, type Transport, type TransportInfo, type TransportOptions, type TransportStats } from './transport';

/**
 * Datagram slots per receive batch (one recvmmsg call). 64 follows libuv's
 * recvmmsg batch of 32 upwards: a few syscalls per thousand datagrams, while
 * the ring (64 × maxDatagramBytes, 4 MiB at the 64 KiB default) stays small.
 */
export const NATIVE_RECV_SLOTS = 64;

/**
 * How a native transport keeps its own datagrams out of its receive socket:
 * - `'counting'`: an eBPF socket filter drops them in the kernel and counts
 *   them, so `kernelDrops` stays exact (the kernel counts a filtered datagram
 *   in SO_RXQ_OVFL too). Needs CAP_BPF or root where unprivileged BPF is off
 *   (Debian's default).
 * - `'classic'`: a classic BPF filter (allowed to anyone) drops them; nothing
 *   counts them, so `kernelDrops` subtracts the datagrams this transport sent
 *   that come back to it, and is then a lower bound.
 * - `'none'`: no filter (the source address was unknown, or the kernel refused
 *   both); with `loopback: false` the transport drops them in JavaScript.
 */
export type OwnFilterKind = 'counting' | 'classic' | 'none';

/** A native transport: a {@link Transport} that also says how it keeps its own datagrams out. */
export interface NativeTransportHandle extends Transport {
  readonly kind: 'native';
  /** The kernel filter that keeps this transport's own datagrams out of its receive socket. */
  readonly ownFilter: OwnFilterKind;
  /** The source address and port of what this transport sends, when known. */
  readonly ownSource: Readonly<{ address: string; port: number }> | undefined;
}

const EAGAIN = osConstants.errno.EAGAIN;
const ENOPROTOOPT = osConstants.errno.ENOPROTOOPT;

/**
 * Opens a native transport.
 * @throws TransportUnavailableError when the addon did not load or the platform is unsupported;
 *   the typed option errors of {@link checkTransportOptions} (NotMulticastError, UnknownInterfaceError,
 *   InvalidArgumentValueError…); SystemError (code, errno, syscall) when a socket call fails.
 *   Nothing stays open after a failure.
 */
export async function createNativeTransport(options: TransportOptions): Promise<NativeTransportHandle> {
  const addon = requireAddon();
  const checked = checkTransportOptions(options);
  const recvSocket = new addon.UdpSocket();
  const sendSocket = new addon.UdpSocket();
  const opened: NativeUdpSocket[] = [];
  try {
    check(recvSocket.open(checked.family), 'socket');
    opened.push(recvSocket);
    setupReceiveSocket(recvSocket, checked);
    check(sendSocket.open(checked.family), 'socket');
    opened.push(sendSocket);
    setupSendSocket(sendSocket, checked);
  } catch (err) {
    await Promise.all(opened.map(closeSocket));
    throw err;
  }
  const ownSource = learnOwnSource(sendSocket, checked);
  const ownFilter = attachOwnFilter(recvSocket, ownSource);
  return new NativeTransport(addon, checked, recvSocket, sendSocket, ownSource, ownFilter, enableGro(recvSocket, checked, ownFilter));
}

/** A receive slot big enough for any run the kernel coalesces (64 KiB, its GSO limit). */
const GRO_SLOT_BYTES = 65536;

/**
 * Turns UDP GRO on where it is safe: a sender's GSO run (or a run the NIC
 * coalesced) then crosses the receiving stack once and reaches the socket as
 * one, and the addon splits it into datagrams again. Only with slots that hold
 * a whole run, and not with the classic own filter (its drops are counted per
 * run, which kernelDrops could not then subtract). BLIPCAST_UDP_GRO=0 turns it
 * off (benchmarks, debugging). Returns whether it is on; failing is not an error.
 */
function enableGro(socket: NativeUdpSocket, o: CheckedTransportOptions, ownFilter: OwnFilterKind): boolean {
  if (process.env.BLIPCAST_UDP_GRO === '0' || o.maxDatagramBytes < GRO_SLOT_BYTES || ownFilter === 'classic') return false;
  return socket.enableGro() === 0;
}

function requireAddon(): NativeAddon {
  const loaded = loadNative();
  if (loaded.error) throw new TransportUnavailableError('native', loaded.error.message, { cause: loaded.error });
  if (!loaded.addon.platformSupported) throw new TransportUnavailableError('native', `not implemented on ${process.platform}`);
  return loaded.addon;
}

function wildcard(family: 4 | 6): string {
  return family === 4 ? '0.0.0.0' : '::';
}

function setupReceiveSocket(socket: NativeUdpSocket, o: CheckedTransportOptions): void {
  check(socket.setReuse(), 'setsockopt');
  if (o.family === 6) check(socket.setV6Only(), 'setsockopt');
  // Without this, Linux hands the socket every group any socket on the host joined on this port.
  const all = socket.setMulticastAll(false);
  if (all < 0 && !(o.family === 6 && all === -ENOPROTOOPT)) throw new SystemError(all, 'setsockopt');
  check(socket.enableDropCounter(), 'setsockopt');
  check(socket.enablePacketInfo(), 'setsockopt');
  if (o.recvBufferBytes !== undefined) check(socket.setRecvBufferSize(o.recvBufferBytes), 'setsockopt');
  // The wildcard, not the group: IP_MULTICAST_ALL off already keeps other groups out.
  check(socket.bind(wildcard(o.family), o.port), 'bind', { address: wildcard(o.family), port: o.port });
  const ifAddress = o.family === 4 ? (o.interfaceAddress ?? '') : '';
  check(socket.addMembership(o.group, o.source ?? '', ifAddress, o.interfaceIndex), 'setsockopt', { address: o.group, join: { interface: o.interfaceName } });
}

function setupSendSocket(socket: NativeUdpSocket, o: CheckedTransportOptions): void {
  const all = socket.setMulticastAll(false);
  if (all < 0 && !(o.family === 6 && all === -ENOPROTOOPT)) throw new SystemError(all, 'setsockopt');
  if (o.family === 6) check(socket.setV6Only(), 'setsockopt');
  if (o.sendBufferBytes !== undefined) check(socket.setSendBufferSize(o.sendBufferBytes), 'setsockopt');
  check(socket.bind(wildcard(o.family), 0), 'bind', { address: wildcard(o.family), port: 0 });
  if (o.interfaceName !== undefined) {
    check(socket.setMulticastInterface(o.family === 4 ? (o.interfaceAddress ?? '') : '', o.interfaceIndex), 'setsockopt');
  }
  check(socket.setMulticastTtl(o.ttl), 'setsockopt');
  check(socket.setMulticastLoop(o.loopback), 'setsockopt');
  // UDP GSO (one trip through the stack per run of equal-size datagrams); BLIPCAST_UDP_GSO=0 turns it off (benchmarks, debugging).
  socket.setSegmentation(process.env.BLIPCAST_UDP_GSO !== '0');
  // A link-local IPv6 group needs its scope; the interface index is it.
  check(socket.setDestination(o.group, o.port, o.family === 6 ? o.interfaceIndex : 0), 'setDestination', { address: o.group, port: o.port });
}

/** Where this transport's own datagrams come from. */
interface OwnSource {
  address: string;
  port: number;
}

/**
 * The send socket's source address and port, or undefined when unknown.
 * connect() to the group makes the kernel choose the source address now (the
 * one every later send uses); when it fails (no route to the group yet), an IPv4 interface given by address is the source too
 * (IP_MULTICAST_IF). Never fatal: sending reports its own errors.
 */
function learnOwnSource(socket: NativeUdpSocket, o: CheckedTransportOptions): OwnSource | undefined {
  const port = socket.localPort();
  if (port <= 0) return undefined;
  if (socket.connect(o.group, o.port, o.family === 6 ? o.interfaceIndex : 0) === 0) {
    const address = socket.localAddress();
    if (typeof address === 'string' && address !== wildcard(o.family)) return { address, port };
  }
  if (o.family === 4 && o.interfaceAddress !== undefined) return { address: o.interfaceAddress, port };
  return undefined;
}

/** Attaches the best own-datagram filter the kernel accepts; failing is not an error (see {@link OwnFilterKind}). */
function attachOwnFilter(socket: NativeUdpSocket, source: OwnSource | undefined): OwnFilterKind {
  if (source === undefined) return 'none';
  if (socket.attachOwnFilter(source.address, source.port, true) === 0) return 'counting';
  if (socket.attachOwnFilter(source.address, source.port, false) === 0) return 'classic';
  return 'none';
}

/** Whether `name` is a loopback device, where Linux hands multicast back whatever IP_MULTICAST_LOOP says. */
function isLoopbackDevice(name: string | undefined): boolean {
  if (name === undefined) return false;
  return networkInterfaces()[name]?.some((a) => a.internal) ?? false;
}

function check(rc: number, syscall: string, details?: ConstructorParameters<typeof SystemError>[2]): number {
  if (rc < 0) throw new SystemError(rc, syscall, details);
  return rc;
}

function closeSocket(socket: NativeUdpSocket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.close(() => resolve()) < 0) resolve();
  });
}

/** The reusable batch: views over the receive ring, rewritten by every recvmmsg. */
class NativeBatch implements DatagramBatch {
  readonly shared = false;
  count = 0;
  readonly buffer: Buffer;
  readonly offsets: Uint32Array;
  readonly lengths: Uint32Array;
  /** Per-datagram flags from the addon (NativeLayout.flagHasDestination…). */
  readonly flags: Uint32Array;
  /** Raw source sockaddr and destination address per slot. */
  readonly addrs: Buffer;

  constructor(
    private readonly family: 4 | 6,
    readonly slotBytes: number,
    readonly slots: number,
    /** Datagram entries (offsets, lengths, flags): slots, or more with UDP GRO. */
    entries: number,
    private readonly layout: NativeLayout,
  ) {
    // Zero-filled and never from the pool: the kernel writes into this memory.
    this.buffer = Buffer.alloc(slotBytes * slots);
    this.offsets = new Uint32Array(entries);
    this.lengths = new Uint32Array(entries);
    this.flags = new Uint32Array(entries);
    this.addrs = Buffer.alloc(layout.addrSlotBytes * slots);
  }

  private slotOf(i: number): number {
    this.checkIndex(i);
    return Math.floor(this.offsets[i]! / this.slotBytes) * this.layout.addrSlotBytes;
  }

  private checkIndex(i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.count) throw new InvalidArgumentValueError(`datagram index must be in 0..${this.count - 1}, got ${i}`);
  }

  source(i: number): RemoteInfo {
    // sockaddr_in / sockaddr_in6: the port is big-endian at byte 2 in both.
    const at = this.slotOf(i) + this.layout.addrSourceOffset;
    const port = this.addrs.readUInt16BE(at + 2);
    if (this.family === 4) {
      const a = this.addrs;
      return { address: `${a[at + 4]}.${a[at + 5]}.${a[at + 6]}.${a[at + 7]}`, port, family: 4 };
    }
    return { address: formatIPv6(this.addrs, at + 8), port, family: 6 };
  }

  destination(i: number): string | undefined {
    const at = this.slotOf(i) + this.layout.addrDestinationOffset;
    if ((this.flags[i]! & this.layout.flagHasDestination) === 0) return undefined;
    const a = this.addrs;
    return this.family === 4 ? `${a[at]}.${a[at + 1]}.${a[at + 2]}.${a[at + 3]}` : formatIPv6(a, at);
  }

  datagram(i: number): Buffer {
    this.checkIndex(i);
    const start = this.offsets[i]!;
    return this.buffer.subarray(start, start + this.lengths[i]!);
  }
}

/** RFC 5952 text of the 16 bytes at `at` (longest run of zero groups as '::'). */
function formatIPv6(bytes: Buffer, at: number): string {
  const groups: number[] = [];
  for (let g = 0; g < 8; g++) groups.push(bytes.readUInt16BE(at + 2 * g));
  if (groups.slice(0, 5).every((x) => x === 0) && groups[5] === 0xffff) {
    return `::ffff:${bytes[at + 12]}.${bytes[at + 13]}.${bytes[at + 14]}.${bytes[at + 15]}`;
  }
  let bestStart = -1;
  let bestLength = 0;
  for (let g = 0; g < 8; ) {
    if (groups[g] !== 0) {
      g++;
      continue;
    }
    let end = g;
    while (end < 8 && groups[end] === 0) end++;
    if (end - g > bestLength && end - g >= 2) {
      bestStart = g;
      bestLength = end - g;
    }
    g = end;
  }
  const hex = groups.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

class NativeTransport implements NativeTransportHandle {
  readonly kind = 'native' as const;
  readonly info: TransportInfo;
  private readonly counters: TransportStats = emptyTransportStats();
  private handler: ReceiveHandler | undefined;
  private batch: NativeBatch | undefined;
  private errorListener: ((err: Error) => void) | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  /**
   * Last value of the socket's cumulative SO_RXQ_OVFL counter less what the
   * own-datagram filter dropped (which the kernel counts there too).
   */
  private lastDropCounter = 0;
  /**
   * Without a kernel filter and with loopback off, the source (port, IPv4
   * address as u32) of our own datagrams, dropped on receipt in JS; undefined
   * when nothing needs filtering here. Needed because on the loopback device
   * Linux hands multicast back to every socket whatever IP_MULTICAST_LOOP says:
   * the datagram goes out through lo and comes in again.
   */
  private readonly ownSourceJs: { port: number; address: number } | undefined;
  /** With the classic filter: whether our own datagrams come back to this host (so the filter drops, and the kernel counts, each one). */
  private readonly ownDatagramsLoopBack: boolean;

  constructor(
    private readonly addon: NativeAddon,
    private readonly options: CheckedTransportOptions,
    private readonly recvSocket: NativeUdpSocket,
    private readonly sendSocket: NativeUdpSocket,
    /** Where our own datagrams come from, when known. */
    readonly ownSource: Readonly<OwnSource> | undefined,
    /** The kernel filter keeping our own datagrams out of the receive socket. */
    readonly ownFilter: OwnFilterKind,
    /** UDP GRO is on: a receive slot may hold a run of datagrams. */
    readonly gro: boolean,
  ) {
    const recvBufferBytes = recvSocket.getRecvBufferSize();
    const sendBufferBytes = sendSocket.getSendBufferSize();
    this.info = {
      kind: 'native',
      family: options.family,
      group: options.group,
      port: check(recvSocket.localPort(), 'getsockname'),
      interface: options.interfaceName,
      recvBufferBytes: recvBufferBytes >= 0 ? recvBufferBytes : undefined,
      sendBufferBytes: sendBufferBytes >= 0 ? sendBufferBytes : undefined,
    };
    if (ownFilter === 'none' && !options.loopback && options.family === 4 && ownSource !== undefined) {
      const octets = ownSource.address.split('.').map(Number);
      this.ownSourceJs = {
        port: ownSource.port,
        address: ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0,
      };
    }
    this.ownDatagramsLoopBack = options.loopback || isLoopbackDevice(options.interfaceName);
  }

  receive(handler: ReceiveHandler): void {
    if (typeof handler !== 'function') throw new InvalidArgumentTypeError(`receive handler must be a function, got ${typeof handler}`);
    if (this.closed) return;
    this.handler = handler;
    if (this.batch) return;
    // The ring is allocated on first use: a send-only transport never pays for it.
    const entries = this.gro ? NATIVE_RECV_SLOTS * this.addon.layout.maxGroSegments : NATIVE_RECV_SLOTS;
    const batch = new NativeBatch(this.options.family, this.options.maxDatagramBytes, NATIVE_RECV_SLOTS, entries, this.addon.layout);
    check(
      this.recvSocket.startReceiving(batch.buffer, batch.slotBytes, batch.slots, batch.offsets, batch.lengths, batch.flags, batch.addrs, this.onBatch),
      'uv_poll_start',
    );
    this.batch = batch;
  }

  send(datagrams: readonly Uint8Array[]): number {
    if (this.closed) throw new ClosedError('native transport');
    if (!Array.isArray(datagrams)) throw new InvalidArgumentTypeError('send() takes an array of Uint8Array datagrams');
    const n = datagrams.length;
    for (let k = 0; k < n; k++) {
      if (!(datagrams[k] instanceof Uint8Array)) throw new InvalidArgumentTypeError(`datagram ${k} is not a Uint8Array`);
    }
    const counters = this.counters;
    let i = 0;
    while (i < n) {
      const rc = this.sendSocket.sendBatch(datagrams, i);
      if (rc > 0) {
        for (let k = i; k < i + rc; k++) counters.bytesSent += datagrams[k]!.length;
        counters.datagramsSent += rc;
        i += rc;
        continue;
      }
      if (rc === 0 || rc === -EAGAIN) {
        counters.sendWouldBlock += n - i;
        break;
      }
      // Datagram i failed for another reason: it counts as sent and lost, and the rest go on.
      counters.sendErrors++;
      counters.datagramsSent++;
      counters.bytesSent += datagrams[i]!.length;
      i++;
      this.emitError(new SystemError(rc, 'sendmmsg', { address: this.options.group, port: this.options.port }));
    }
    return i;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.handler = undefined;
    // close() stops the receive loop synchronously: no batch after this line, even when called from the handler.
    this.closing = Promise.all([closeSocket(this.recvSocket), closeSocket(this.sendSocket)]).then(() => undefined);
    return this.closing;
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  onError(listener: (err: Error) => void): void {
    this.errorListener = listener;
  }

  private emitError(err: Error): void {
    if (!this.closed) this.errorListener?.(err);
  }

  /** Compacts the batch's entries in place without the datagrams we sent ourselves; returns the new count. */
  private dropOwnDatagrams(batch: NativeBatch, count: number, own: { port: number; address: number }): number {
    const { offsets, lengths, flags, addrs, slotBytes } = batch;
    const addrSlotBytes = this.addon.layout.addrSlotBytes;
    const sourceOffset = this.addon.layout.addrSourceOffset;
    let kept = 0;
    for (let i = 0; i < count; i++) {
      const at = Math.floor(offsets[i]! / slotBytes) * addrSlotBytes + sourceOffset;
      if (addrs.readUInt16BE(at + 2) === own.port && addrs.readUInt32BE(at + 4) === own.address) continue;
      offsets[kept] = offsets[i]!;
      lengths[kept] = lengths[i]!;
      flags[kept] = flags[i]!;
      kept++;
    }
    return kept;
  }

  /**
   * The drops the kernel counted that were not our own datagrams (u32, may
   * wrap). `drops` was stamped when the batch's last datagram was queued,
   * `ownDropped` read later, so the difference never exceeds the true value;
   * a smaller one than last time is ignored.
   */
  private countKernelDrops(drops: number, ownDropped: number | undefined): void {
    let own = 0;
    if (ownDropped !== undefined && ownDropped >= 0) own = ownDropped;
    // Classic filter: every own datagram that came back was dropped and counted, and no more than we sent.
    else if (this.ownFilter === 'classic' && this.ownDatagramsLoopBack) own = this.counters.datagramsSent;
    const overflow = (drops - own) >>> 0;
    const grew = (overflow - this.lastDropCounter) | 0;
    if (grew > 0) {
      this.counters.kernelDrops += grew;
      this.lastDropCounter = overflow;
    }
  }

  private readonly onBatch = (count: number, truncated: number, drops: number, ownDropped?: number): void => {
    if (this.closed) return;
    const counters = this.counters;
    if (count < 0) {
      this.emitError(new SystemError(count, 'recvmmsg'));
      return;
    }
    counters.truncated += truncated;
    if (drops >= 0) this.countKernelDrops(drops, ownDropped);
    const batch = this.batch!;
    if (this.ownSourceJs !== undefined && count > 0) count = this.dropOwnDatagrams(batch, count, this.ownSourceJs);
    if (count === 0) return;
    batch.count = count;
    const lengths = batch.lengths;
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += lengths[i]!;
    counters.datagramsReceived += count;
    counters.bytesReceived += bytes;
    const handler = this.handler;
    if (!handler) return;
    counters.batches++;
    try {
      handler(batch);
    } catch (err) {
      // Like a throwing event listener: an uncaught exception, not a broken receive loop.
      process.nextTick(() => {
        throw err;
      });
    } finally {
      batch.count = 0;
    }
  };
}
