/**
 * A deterministic simulation harness for the sans-IO protocol core: N
 * endpoints on one multicast group, stepped through virtual time over links
 * the test controls directly (seeded loss, duplication, delay jitter that
 * reorders, partitions, per-datagram drop filters). Every datagram sent is a
 * copy in flight in one time-ordered queue; nothing touches a socket or a clock.
 */

import { createEndpoint, type ProtocolTuning } from '../../src/protocol/endpoint';
import { splitMessages } from './split-messages';
import type { Endpoint, EndpointConfig, ProtocolEvent } from '../../src/protocol/api';
import { decodeHeader } from '../../src/wire/decode';
import { type Header } from '../../src/wire/header';
import { Heap } from '../../src/util/heap';

export { seededRandom } from './seeded';
import { seededRandom } from './seeded';

export function testConfig(random: () => number, overrides: Partial<EndpointConfig> = {}): EndpointConfig {
  return {
    sessionHi: Math.floor(random() * 0x1_0000_0000) >>> 0,
    sessionLo: Math.floor(random() * 0x1_0000_0000) >>> 0,
    maxDatagramBytes: 1472,
    windowBytes: 4 * 1024 * 1024,
    windowMessages: 65536,
    rateBytesPerSec: undefined,
    flowControl: 'none',
    lateJoin: 'next',
    maxMessageBytes: 32 * 1024 * 1024,
    maxReorderBytes: 32 * 1024 * 1024,
    maxReassemblyBytes: 32 * 1024 * 1024,
    random,
    ...overrides,
  };
}

export interface LinkOptions {
  /** Probability that one delivery (sender → this receiver) is lost. */
  loss?: number;
  /** Probability that a datagram leaving this node is lost for everyone (shared loss). */
  uplinkLoss?: number;
  /** Probability that a delivery is duplicated. */
  dup?: number;
  /** One-way delay and uniform extra jitter (jitter reorders). */
  delayMs?: number;
  jitterMs?: number;
}

export interface SimNode {
  readonly name: string;
  ep: Endpoint;
  config: EndpointConfig;
  readonly address: string;
  port: number;
  readonly events: ProtocolEvent[];
  link: Required<LinkOptions>;
  /** While true nothing reaches or leaves this node. */
  partitioned: boolean;
  /** While false the node is stopped (no timers, no input), as after kill -STOP or a crash. */
  running: boolean;
  timeoutMs: number | undefined;
  /** Datagrams this node transmitted, by type number. */
  readonly sentByType: number[];
  /** Optional consumer that replaces event collection (e.g. a slow reader). */
  onEvent?: (e: ProtocolEvent) => void;
}

interface Flight {
  atMs: number;
  to: SimNode | undefined;
  dg: Uint8Array | undefined;
  header: Header | undefined;
  from: SimNode | undefined;
  action: (() => void) | undefined;
}


export interface SimOptions {
  seed: number;
  link?: LinkOptions;
  tuning?: Partial<ProtocolTuning>;
}

export class Sim {
  nowMs = 0;
  readonly nodes: SimNode[] = [];
  readonly rng: () => number;
  /** Ties in time go in the order they were pushed. */
  private readonly heap = new Heap<Flight>();
  private readonly link: Required<LinkOptions>;
  /** Return false to drop a delivery (to === undefined: the datagram as it leaves `from`). */
  filter: ((from: SimNode, to: SimNode | undefined, header: Header, dg: Uint8Array) => boolean) | undefined;
  /** Datagrams delivered to endpoints, by type number. */
  readonly deliveredByType: number[] = [];

  constructor(private readonly opts: SimOptions) {
    this.rng = seededRandom(opts.seed);
    this.link = { loss: 0, uplinkLoss: 0, dup: 0, delayMs: 0.1, jitterMs: 0, ...opts.link };
  }

  /** Adds an endpoint; `link` overrides the sim-wide link for datagrams it receives (and, for uplinkLoss, sends). */
  add(name: string, config: Partial<EndpointConfig> = {}, link: LinkOptions = {}, tuning: Partial<ProtocolTuning> = {}): SimNode {
    const cfg = testConfig(seededRandom(Math.floor(this.rng() * 2 ** 32)), { openedAtMs: this.nowMs, ...config });
    const node: SimNode = {
      name, config: cfg, ep: createEndpoint(cfg, { ...this.opts.tuning, ...tuning }),
      address: `198.18.0.${this.nodes.length + 1}`, port: 40000 + this.nodes.length,
      events: [], link: { ...this.link, ...link }, partitioned: false, running: true, timeoutMs: undefined, sentByType: [],
    };
    this.nodes.push(node);
    this.pump(node);
    return node;
  }

  /** Replaces a node's endpoint by a new session (a restart), keeping its address. */
  restart(node: SimNode, config: Partial<EndpointConfig> = {}): void {
    const cfg = testConfig(seededRandom(Math.floor(this.rng() * 2 ** 32)), { openedAtMs: this.nowMs, ...config });
    node.config = cfg;
    node.ep = createEndpoint(cfg, this.opts.tuning ?? {});
    node.running = true;
    this.pump(node);
  }

  /** Runs `fn` at virtual time `atMs`. */
  at(atMs: number, fn: () => void): void {
    this.heap.push(atMs, { atMs, to: undefined, dg: undefined, header: undefined, from: undefined, action: fn });
  }

  /** Sends messages on `node` (one turn: send each, then flush). Returns what the last send() returned. */
  write(node: SimNode, streamId: number, messages: readonly Uint8Array[]): boolean {
    let ok = true;
    for (const m of messages) ok = node.ep.send(this.nowMs, streamId, m);
    node.ep.flush(this.nowMs);
    this.pump(node);
    return ok;
  }

  close(node: SimNode): void {
    node.ep.close(this.nowMs);
    this.pump(node);
  }

  /** Drains a node's transmissions and events, and refreshes its timer. */
  pump(node: SimNode): void {
    if (!node.running) return;
    for (;;) {
      const dg = node.ep.pollTransmit(this.nowMs);
      if (dg === undefined) break;
      this.transmit(node, Uint8Array.prototype.slice.call(dg));
    }
    for (;;) {
      const e = node.ep.pollEvent();
      if (e === undefined) break;
      for (const one of splitMessages(e)) {
        if (node.onEvent) node.onEvent(one);
        else node.events.push(one);
      }
    }
    node.timeoutMs = node.ep.pollTimeout();
  }

  private transmit(from: SimNode, dg: Uint8Array): void {
    const d = decodeHeader(dg);
    if (!d.ok) throw new Error(`endpoint ${from.name} emitted an undecodable datagram: ${d.reason}`);
    const h = d.header;
    from.sentByType[h.type] = (from.sentByType[h.type] ?? 0) + 1;
    if (from.partitioned) return;
    if (this.filter && !this.filter(from, undefined, h, dg)) return;
    if (from.link.uplinkLoss > 0 && this.rng() < from.link.uplinkLoss) return;
    for (const to of this.nodes) {
      if (to === from || to.partitioned) continue;
      const l = to.link;
      if (l.loss > 0 && this.rng() < l.loss) continue;
      if (this.filter && !this.filter(from, to, h, dg)) continue;
      const copies = l.dup > 0 && this.rng() < l.dup ? 2 : 1;
      for (let c = 0; c < copies; c++) {
        const atMs = this.nowMs + l.delayMs + (l.jitterMs > 0 ? this.rng() * l.jitterMs : 0);
        this.heap.push(atMs, { atMs, to, dg, header: h, from, action: undefined });
      }
    }
  }

  /** Advances virtual time to `untilMs`, delivering datagrams and firing timers in order. */
  runUntil(untilMs: number): void {
    for (;;) {
      let next = this.heap.peek()?.atMs ?? Infinity;
      let timerNode: SimNode | undefined;
      for (const n of this.nodes) {
        if (n.running && n.timeoutMs !== undefined && n.timeoutMs < next) {
          next = n.timeoutMs;
          timerNode = n;
        }
      }
      if (next > untilMs) {
        this.nowMs = Math.max(this.nowMs, untilMs);
        return;
      }
      this.nowMs = Math.max(this.nowMs, next);
      if (timerNode) {
        timerNode.ep.handleTimeout(this.nowMs);
        this.pump(timerNode);
        continue;
      }
      const f = this.heap.pop()!;
      if (f.action) {
        f.action();
        continue;
      }
      const to = f.to!;
      if (!to.running || to.partitioned) continue;
      this.deliveredByType[f.header!.type] = (this.deliveredByType[f.header!.type] ?? 0) + 1;
      to.ep.handleDatagram(this.nowMs, f.dg!, f.header!, { address: f.from!.address, port: f.from!.port });
      this.pump(to);
    }
  }

  /** Runs for `ms` more. */
  run(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  /** Runs until `done()` holds (checked after every step batch of `stepMs`) or `maxMs` passes; returns whether it held. */
  runWhile(notDone: () => boolean, maxMs: number, stepMs = 1): boolean {
    const end = this.nowMs + maxMs;
    while (notDone()) {
      if (this.nowMs >= end) return false;
      this.runUntil(Math.min(end, this.nowMs + stepMs));
    }
    return true;
  }
}

/** A test message: u32 index then `size - 4` filler bytes derived from the index. */
export function message(index: number, size = 64): Buffer {
  const b = Buffer.alloc(Math.max(4, size));
  b.writeUInt32BE(index >>> 0, 0);
  for (let i = 4; i < b.length; i++) b[i] = (index + i) & 0xff;
  return b;
}

export function messageIndex(data: Buffer): number {
  return data.readUInt32BE(0);
}

export interface StreamAccount {
  /** Message events, in order. */
  seqs: number[];
  indexes: number[];
  losses: { fromSeq: number; toSeq: number; reason: string }[];
  /** Sequence numbers delivered or lost, counted once. */
  covered: number;
  errors: string[];
}

/**
 * Checks the events of one (source, stream) at a receiver: message sequence
 * numbers strictly increasing, loss ranges and messages never overlapping,
 * each message's bytes intact (`check`), and nothing delivered twice.
 */
export function account(events: readonly ProtocolEvent[], sourceId: string, streamId = 0, sizeOf?: (index: number) => number): StreamAccount {
  const acc: StreamAccount = { seqs: [], indexes: [], losses: [], covered: 0, errors: [] };
  let nextSeq = -1;
  for (const e of events) {
    if (e.type === 'message' && e.source.id === sourceId && e.streamId === streamId) {
      if (e.seq < nextSeq) acc.errors.push(`message seq ${e.seq} after ${nextSeq - 1}`);
      const idx = messageIndex(e.data);
      if (sizeOf && e.data.length !== sizeOf(idx)) acc.errors.push(`message ${idx} has ${e.data.length} bytes, expected ${sizeOf(idx)}`);
      else if (!e.data.equals(message(idx, e.data.length))) acc.errors.push(`message ${idx} corrupted`);
      acc.seqs.push(e.seq);
      acc.indexes.push(idx);
      nextSeq = e.seq + 1;
    } else if (e.type === 'loss' && e.source.id === sourceId && e.streamId === streamId) {
      if (e.fromSeq < nextSeq || e.toSeq < e.fromSeq) acc.errors.push(`loss ${e.fromSeq}-${e.toSeq} overlaps/precedes ${nextSeq - 1}`);
      acc.losses.push({ fromSeq: e.fromSeq, toSeq: e.toSeq, reason: e.reason });
      nextSeq = e.toSeq + 1;
    }
  }
  for (let i = 1; i < acc.indexes.length; i++) {
    if (acc.indexes[i]! <= acc.indexes[i - 1]!) acc.errors.push(`index ${acc.indexes[i]} after ${acc.indexes[i - 1]}`);
  }
  return acc;
}

export function sourceIdOf(node: SimNode): string {
  return node.config.sessionHi.toString(16).padStart(8, '0') + node.config.sessionLo.toString(16).padStart(8, '0');
}
