/**
 * The node:dgram transport: the fallback when the native addon cannot load.
 *
 * Two sockets per transport:
 * - the receive socket is bound to GROUP:PORT (on Linux, the group address
 *   itself: node:dgram cannot turn IP_MULTICAST_ALL off, and binding to the
 *   group is what keeps two sockets on one port with different groups from
 *   seeing each other's traffic) with SO_REUSEADDR, and joins the group;
 * - the send socket is bound to an ephemeral port and connect()ed to the
 *   group, because node:dgram only sends synchronously on a connected socket
 *   (an unconnected send goes through dns.lookup and a nextTick first), and a
 *   connected socket would filter out every sender but the group itself.
 *
 * Datagrams that arrive in one event-loop turn are copied into one pooled
 * buffer and handed over as one {@link DatagramBatch}, so the protocol sees
 * batches as it does on the native transport. What node:dgram cannot tell:
 * the destination address of a datagram, and kernel drops (both stay unknown).
 */

import * as dgram from 'node:dgram';
import { ClosedError, SystemError } from '../util/errors';
import { checkTransportOptions, type CheckedTransportOptions } from './options';
import { emptyTransportStats, type DatagramBatch, type ReceiveHandler, type RemoteInfo, type Transport, type TransportInfo, type TransportOptions, type TransportStats } from './transport';

/** Most datagrams in one receive batch; the batch is handed over early when it fills. */
export const DGRAM_MAX_BATCH_DATAGRAMS = 1024;
/** Receive pool size, bytes (at least maxDatagramBytes). 256 KiB ≈ one default kernel receive buffer's worth. */
export const DGRAM_RECV_POOL_BYTES = 256 * 1024;
/**
 * Bytes libuv may hold queued (because the kernel send buffer was full)
 * before `send()` reports would-block. node:dgram never blocks: it queues
 * without limit, so this is where back-pressure comes from. 256 KiB ≈ the
 * default kernel send buffer, so the queue drains within a few milliseconds.
 */
export const DGRAM_MAX_QUEUED_SEND_BYTES = 256 * 1024;

/** Opens a node:dgram transport. Rejects with a typed error for bad options, or Node's own system error (code, errno, syscall) when a socket call fails. */
export async function createDgramTransport(options: TransportOptions): Promise<Transport> {
  const checked = checkTransportOptions(options);
  const type = checked.family === 4 ? 'udp4' : 'udp6';
  const recvSocket = dgram.createSocket({ type, reuseAddr: true });
  const sendSocket = dgram.createSocket({ type });
  try {
    await bind(recvSocket, checked.port, receiveBindAddress(checked));
    join(recvSocket, checked);
    if (checked.recvBufferBytes !== undefined) recvSocket.setRecvBufferSize(checked.recvBufferBytes);

    await bind(sendSocket, 0, checked.family === 4 ? '0.0.0.0' : '::');
    // The multicast interface must be set before connect(): the route (and so the source address) is chosen at connect.
    if (checked.interfaceAddress !== undefined) sendSocket.setMulticastInterface(checked.interfaceAddress);
    sendSocket.setMulticastTTL(checked.ttl);
    sendSocket.setMulticastLoopback(checked.loopback);
    if (checked.sendBufferBytes !== undefined) sendSocket.setSendBufferSize(checked.sendBufferBytes);
    await connect(sendSocket, checked.port, checked.group);
  } catch (err) {
    recvSocket.close();
    sendSocket.close();
    throw err;
  }
  return new DgramTransport(checked, recvSocket, sendSocket);
}

/** Joins the group; a failure becomes a SystemError that names the interface (Node's own says only 'addMembership ENODEV'). */
function join(socket: dgram.Socket, o: CheckedTransportOptions): void {
  try {
    if (o.source !== undefined) socket.addSourceSpecificMembership(o.source, o.group, o.interfaceAddress);
    else socket.addMembership(o.group, o.interfaceAddress);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.errno !== 'number') throw err;
    throw new SystemError(e.errno, e.syscall ?? 'addMembership', { address: o.group, join: { interface: o.interfaceName } });
  }
}

function receiveBindAddress(options: CheckedTransportOptions): string {
  if (process.platform !== 'linux') return options.family === 4 ? '0.0.0.0' : '::';
  // A link-local IPv6 group needs its scope to be bound.
  if (options.family === 6 && options.interfaceName !== undefined) return `${options.group}%${options.interfaceName}`;
  return options.group;
}

function bind(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    // exclusive: in a cluster worker, bind a socket of our own instead of sharing the primary's handle.
    socket.bind({ port, address, exclusive: true }, () => {
      socket.off('error', reject);
      resolve();
    });
  });
}

function connect(socket: dgram.Socket, port: number, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.connect(port, address, (err?: Error) => (err ? reject(err) : resolve()));
  });
}

/** The reusable batch: one pool buffer, overwritten after each handler call. */
class DgramBatch implements DatagramBatch {
  readonly shared = false;
  count = 0;
  usedBytes = 0;
  readonly buffer: Buffer;
  readonly offsets = new Uint32Array(DGRAM_MAX_BATCH_DATAGRAMS);
  readonly lengths = new Uint32Array(DGRAM_MAX_BATCH_DATAGRAMS);
  readonly addresses: string[] = new Array<string>(DGRAM_MAX_BATCH_DATAGRAMS).fill('');
  readonly ports = new Uint16Array(DGRAM_MAX_BATCH_DATAGRAMS);
  readonly family: 4 | 6;

  constructor(poolBytes: number, family: 4 | 6) {
    this.buffer = Buffer.allocUnsafe(poolBytes);
    this.family = family;
  }

  fits(bytes: number): boolean {
    return this.count < DGRAM_MAX_BATCH_DATAGRAMS && this.usedBytes + bytes <= this.buffer.length;
  }

  push(message: Buffer, address: string, port: number): void {
    const i = this.count++;
    message.copy(this.buffer, this.usedBytes);
    this.offsets[i] = this.usedBytes;
    this.lengths[i] = message.length;
    this.addresses[i] = address;
    this.ports[i] = port;
    this.usedBytes += message.length;
  }

  source(i: number): RemoteInfo {
    return { address: this.addresses[i]!, port: this.ports[i]!, family: this.family };
  }

  destination(): string | undefined {
    return undefined; // node:dgram does not expose IP_PKTINFO
  }

  datagram(i: number): Buffer {
    const offset = this.offsets[i]!;
    return this.buffer.subarray(offset, offset + this.lengths[i]!);
  }
}

class DgramTransport implements Transport {
  readonly kind = 'dgram' as const;
  readonly info: TransportInfo;
  private readonly options: CheckedTransportOptions;
  private readonly recvSocket: dgram.Socket;
  private readonly sendSocket: dgram.Socket;
  private readonly counters: TransportStats = emptyTransportStats();
  private readonly batch: DgramBatch;
  /** Our own send socket's address, to drop our own datagrams when loopback is off (see onMessage). */
  private readonly ownAddress: string;
  private readonly ownPort: number;
  private handler: ReceiveHandler | undefined;
  private errorListener: ((err: Error) => void) | undefined;
  private flushImmediate: NodeJS.Immediate | undefined;
  private closed = false;
  private closing: Promise<void> | undefined;
  private readonly flushBound = (): void => this.flush();
  private readonly afterSend = (err: Error | null): void => {
    if (!err) return;
    this.counters.sendErrors++;
    this.errorListener?.(err);
  };

  constructor(options: CheckedTransportOptions, recvSocket: dgram.Socket, sendSocket: dgram.Socket) {
    this.options = options;
    this.recvSocket = recvSocket;
    this.sendSocket = sendSocket;
    this.batch = new DgramBatch(Math.max(DGRAM_RECV_POOL_BYTES, options.maxDatagramBytes), options.family);
    const own = sendSocket.address();
    this.ownAddress = own.address;
    this.ownPort = own.port;
    this.info = {
      kind: 'dgram',
      family: options.family,
      group: options.group,
      port: recvSocket.address().port,
      interface: options.interfaceName,
      recvBufferBytes: recvSocket.getRecvBufferSize(),
      sendBufferBytes: sendSocket.getSendBufferSize(),
    };
    recvSocket.on('message', (message: Buffer, rinfo: dgram.RemoteInfo) => this.onMessage(message, rinfo));
    const onSocketError = (err: Error): void => {
      if (!this.closed) this.errorListener?.(err);
    };
    recvSocket.on('error', onSocketError);
    sendSocket.on('error', onSocketError);
  }

  receive(handler: ReceiveHandler): void {
    if (this.closed) return;
    this.handler = handler;
  }

  send(datagrams: readonly Uint8Array[]): number {
    if (this.closed) throw new ClosedError('dgram transport');
    const counters = this.counters;
    let i = 0;
    for (; i < datagrams.length; i++) {
      if (this.sendSocket.getSendQueueSize() > DGRAM_MAX_QUEUED_SEND_BYTES) break;
      const datagram = datagrams[i]!;
      // Copied because libuv keeps a reference to a datagram it had to queue (kernel
      // buffer full), and the caller may reuse its bytes as soon as send() returns.
      this.sendSocket.send(Buffer.from(datagram), this.afterSend);
      counters.datagramsSent++;
      counters.bytesSent += datagram.length;
    }
    if (i < datagrams.length) counters.sendWouldBlock += datagrams.length - i;
    return i;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.handler = undefined;
    if (this.flushImmediate) clearImmediate(this.flushImmediate);
    this.flushImmediate = undefined;
    this.batch.count = 0;
    this.batch.usedBytes = 0;
    this.closing = Promise.all([closeSocket(this.recvSocket), closeSocket(this.sendSocket)]).then(() => undefined);
    return this.closing;
  }

  stats(): TransportStats {
    return { ...this.counters };
  }

  onError(listener: (err: Error) => void): void {
    this.errorListener = listener;
  }

  private onMessage(message: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.closed) return;
    // On the loopback interface Linux delivers multicast back to every socket
    // whatever IP_MULTICAST_LOOP says; filtering our own source keeps
    // "loopback: false" meaning at least "not to myself" everywhere.
    if (!this.options.loopback && rinfo.port === this.ownPort && rinfo.address === this.ownAddress) return;
    if (message.length > this.options.maxDatagramBytes) {
      this.counters.truncated++;
      return;
    }
    const batch = this.batch;
    if (!batch.fits(message.length)) this.flush();
    if (this.closed) return; // the handler closed us while flushing
    batch.push(message, rinfo.address, rinfo.port);
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += message.length;
    if (this.flushImmediate === undefined) this.flushImmediate = setImmediate(this.flushBound);
  }

  private flush(): void {
    if (this.flushImmediate !== undefined) {
      clearImmediate(this.flushImmediate);
      this.flushImmediate = undefined;
    }
    const batch = this.batch;
    if (batch.count === 0 || this.closed) return;
    const handler = this.handler;
    try {
      if (handler) {
        this.counters.batches++;
        handler(batch);
      }
    } finally {
      batch.count = 0;
      batch.usedBytes = 0;
    }
  }
}

function closeSocket(socket: dgram.Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // already closed
    }
  });
}
