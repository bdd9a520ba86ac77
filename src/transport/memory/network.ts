/**
 * An in-process simulated multicast network with a virtual clock.
 *
 * Hosts join groups through {@link MemoryTransport}s; what one sends reaches
 * every member of its group:port, through per-link (sender host → receiver
 * host) conditions drawn from one seeded generator: loss, duplication,
 * reordering, delay and jitter, and partitions. Time moves only when the
 * test calls {@link MemoryNetwork.advance}, {@link MemoryNetwork.runFor} or
 * {@link MemoryNetwork.runUntil}; timers and deliveries then run in time order,
 * ties in the order they were scheduled. Everything a run does is a function
 * of the seed and of what the test does, so the same seed replays the same run.
 *
 * The network is also the {@link Scheduler} of whatever runs on it: pass it
 * where a driver takes a scheduler and its timers run on virtual time.
 * {@link MemoryNetwork.hostScheduler} is the same clock seen from one host:
 * its timers stop when the host {@link MemoryNetwork.crash | crashes} and
 * wait while it is {@link MemoryNetwork.pause | paused}.
 */

import type { Scheduler, TimerHandle } from '../../util/clock';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../util/errors';
import { createRandom, type Random } from '../../util/random';
import { checkTransportOptions } from '../options';
import type { TransportOptions } from '../transport';
import { Heap } from '../../util/heap';
import { checkConditions, LinkState, perfectLink, type LinkConditions, type LinkStats, type ResolvedConditions } from './link';
import { DEFAULT_PAUSE_BUFFER_BYTES, MemoryTransport, type SentDatagram } from './transport';

export interface MemoryNetworkOptions {
  /** Seed of every random decision of the network. Default 1. */
  seed?: number | string;
  /** Conditions of every link unless {@link MemoryNetwork.setLink} says otherwise. */
  link?: LinkConditions;
}

export interface MemoryHostOptions {
  /** The host's IPv4 address (source of what it sends). Default 198.18.x.y, numbered in creation order. */
  address?: string;
  /** The host's IPv6 address. Default 2001:2::n. */
  address6?: string;
}

/** A simulated machine. Transports on the same host share loopback. */
export class MemoryHost {
  readonly name: string;
  readonly address: string;
  readonly address6: string;
  /** @internal dense index, used to find links fast */
  readonly id: number;
  /** @internal outgoing link state, indexed by receiver host id */
  readonly links: (LinkState | undefined)[] = [];
  /** @internal bumped by every crash: a timer armed in an earlier life never fires */
  life = 0;
  /** @internal the end of the current pause, or undefined when running */
  pausedUntilMs: number | undefined;
  /** @internal timers that came due during the pause, in order */
  readonly parked: TimerEvent[] = [];
  /** @internal the Scheduler of what runs on this host in its current life */
  scheduler: Scheduler | undefined;
  /** @internal the life `scheduler` belongs to */
  schedulerLife = -1;
  private nextPort = 49152;

  /** True from {@link MemoryNetwork.pause} until the pause ends. */
  get paused(): boolean {
    return this.pausedUntilMs !== undefined;
  }

  constructor(id: number, name: string, address: string, address6: string) {
    this.id = id;
    this.name = name;
    this.address = address;
    this.address6 = address6;
  }

  /** @internal an ephemeral port for a new transport's sends */
  allocatePort(): number {
    const port = this.nextPort;
    this.nextPort = port >= 65535 ? 49152 : port + 1;
    return port;
  }
}

/** @internal a timer; its object is the handle returned by setTimer */
export class TimerEvent {
  /** Discriminant shared with {@link Delivery} (cheaper than instanceof on the hot path). */
  readonly isTimer = true;
  cancelled = false;
  /** Due time; a timer parked by a pause is due again when the pause ends. */
  atMs: number;
  readonly fn: () => void;
  /** The host whose scheduler armed it (undefined: the network's own), and that host's life then. */
  readonly host: MemoryHost | undefined;
  readonly life: number;

  constructor(atMs: number, fn: () => void, host?: MemoryHost, life = 0) {
    this.atMs = atMs;
    this.fn = fn;
    this.host = host;
    this.life = life;
  }
}

/**
 * @internal the datagrams due at one transport at one instant. Internal only,
 * so the objects are pooled: a run with jitter makes one per datagram and
 * receiver, and recycling them keeps the garbage collector out of the way.
 */
export class Delivery {
  readonly isTimer = false;
  atMs = 0;
  receiver: MemoryTransport | undefined;
  /** Still queued (false once it has run: later datagrams for the same instant need a new one). */
  pending = false;
  /** Listed in its receiver's pendingByTime. */
  indexed = false;
  readonly datagrams: SentDatagram[] = [];
}

/** Bytes of each slab that sent datagrams are copied into (shared, read-only, by every receiver). */
const ARENA_BYTES = 1024 * 1024;
/** Datagrams larger than this get a buffer of their own instead of a slab slice. */
const ARENA_MAX_DATAGRAM_BYTES = ARENA_BYTES / 8;
const WILDCARD = '*';

export class MemoryNetwork implements Scheduler {
  readonly seed: number | string;
  private readonly random: Random;
  private readonly queue = new Heap<TimerEvent | Delivery>();
  private readonly freeDeliveries: Delivery[] = [];
  private now = 0;
  private readonly hostsByName = new Map<string, MemoryHost>();
  private readonly hostList: MemoryHost[] = [];
  /** Members of each group, by `group|port`, in join order. */
  private readonly members = new Map<string, MemoryTransport[]>();
  private readonly linkConfig = new Map<string, LinkConditions>();
  private readonly partitions: Array<[ReadonlySet<string>, ReadonlySet<string>]> = [];
  /** Bumped on every change of links or partitions; a link re-resolves when its version is stale. */
  private configVersion = 0;
  private arena = Buffer.allocUnsafe(ARENA_BYTES);
  private arenaUsedBytes = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.seed = options.seed ?? 1;
    if (typeof this.seed !== 'number' && typeof this.seed !== 'string') throw new InvalidArgumentTypeError(`seed must be a number or a string, got ${typeof this.seed}`);
    this.random = createRandom(this.seed);
    if (options.link) this.setLink(WILDCARD, WILDCARD, options.link);
  }

  // ---- Scheduler -------------------------------------------------------

  /** Virtual time, ms since the network was created. */
  nowMs(): number {
    return this.now;
  }

  /** Runs `fn` once when virtual time reaches now + `delayMs` (negative counts as 0). */
  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const event = new TimerEvent(this.now + (delayMs > 0 ? delayMs : 0), fn);
    this.queue.push(event.atMs, event);
    return event;
  }

  /** Cancels a timer; a handle that already fired (or is not a timer of this network) is ignored. */
  clearTimer(handle: TimerHandle): void {
    if (handle instanceof TimerEvent) handle.cancelled = true;
  }

  /**
   * The virtual clock as seen from `host` in its current life: timers armed
   * through it never fire once the host crashed (not even those armed after
   * the crash: what ran on it is dead), and those due while it is paused fire
   * when the pause ends. A channel opened on the memory transport runs on it.
   * @throws InvalidArgumentValueError for an unknown host.
   */
  hostScheduler(host: string | MemoryHost): Scheduler {
    const h = this.requireHost(host);
    if (h.scheduler === undefined || h.schedulerLife !== h.life) {
      const life = h.life;
      h.schedulerLife = life;
      h.scheduler = {
        nowMs: () => this.now,
        setTimer: (fn, delayMs) => {
          const event = new TimerEvent(this.now + (delayMs > 0 ? delayMs : 0), fn, h, life);
          this.queue.push(event.atMs, event);
          return event;
        },
        clearTimer: (handle) => this.clearTimer(handle),
      };
    }
    return h.scheduler;
  }

  // ---- host faults -----------------------------------------------------

  /**
   * Crashes `host` like kill -9: every transport open on it stops dead (it
   * leaves no group politely, sends nothing more, receives nothing more) and
   * every timer armed through {@link hostScheduler} is dropped. Nothing is
   * closed from the inside: a channel on it just goes silent. The host itself
   * stays: what is opened on it afterwards runs normally (a restart).
   * @throws InvalidArgumentValueError for an unknown host.
   */
  crash(host: string | MemoryHost): void {
    const h = this.requireHost(host);
    h.life++;
    h.pausedUntilMs = undefined;
    h.parked.length = 0;
    for (const list of [...this.members.values()]) {
      for (const transport of [...list]) if (transport.host === h) transport.crash();
    }
  }

  /**
   * Pauses `host` for `ms` like kill -STOP (or a long GC pause): timers armed
   * through {@link hostScheduler} that come due wait, and datagrams that
   * reach its transports wait in their socket buffer — up to the transport's
   * `recvBufferBytes` (default {@link DEFAULT_PAUSE_BUFFER_BYTES}); beyond
   * that they are dropped and counted as `kernelDrops`, as a full socket
   * buffer does. When the pause ends the host runs its overdue timers first,
   * in order, then receives the buffered datagrams (libuv's order: timers,
   * then I/O), with its state intact. Pausing a paused host extends the pause
   * to the later end.
   * @throws InvalidArgumentValueError for an unknown host or a negative or non-finite `ms`.
   */
  pause(host: string | MemoryHost, ms: number): void {
    const h = this.requireHost(host);
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) throw new InvalidArgumentValueError(`ms must be a finite number ≥ 0, got ${ms}`);
    const untilMs = this.now + ms;
    if (h.pausedUntilMs !== undefined && h.pausedUntilMs >= untilMs) return;
    h.pausedUntilMs = untilMs;
    const life = h.life;
    this.setTimer(() => {
      if (h.pausedUntilMs === untilMs && h.life === life) this.resume(h);
    }, ms);
  }

  private resume(host: MemoryHost): void {
    host.pausedUntilMs = undefined;
    for (const event of host.parked.splice(0)) {
      event.atMs = this.now;
      this.queue.push(this.now, event);
    }
    for (const list of this.members.values()) {
      for (const transport of list) {
        if (transport.host !== host) continue;
        for (const sent of transport.takeHeld()) this.schedule(transport, this.now, sent, true);
      }
    }
  }

  // ---- topology --------------------------------------------------------

  /**
   * Creates a host. Names are unique.
   * @throws InvalidArgumentValueError when the name is taken.
   */
  host(name: string, options: MemoryHostOptions = {}): MemoryHost {
    if (typeof name !== 'string' || name === '' || name === WILDCARD) throw new InvalidArgumentValueError(`host name must be a non-empty string other than '*', got '${String(name)}'`);
    if (this.hostsByName.has(name)) throw new InvalidArgumentValueError(`host '${name}' already exists`);
    const n = this.hostList.length + 1;
    const host = new MemoryHost(n - 1, name, options.address ?? `198.18.${(n >> 8) & 0xff}.${n & 0xff}`, options.address6 ?? `2001:2::${n.toString(16)}`);
    this.hostsByName.set(name, host);
    this.hostList.push(host);
    return host;
  }

  /** The host of that name, or undefined. */
  getHost(name: string): MemoryHost | undefined {
    return this.hostsByName.get(name);
  }

  /**
   * Sets the conditions of the link from host `from` to host `to` (names, or
   * `'*'` for any). More specific settings override less specific ones field
   * by field: (from,to) over (from,*) over (*,to) over (*,*). `undefined`
   * removes the setting.
   */
  setLink(from: string, to: string, conditions: LinkConditions | undefined): void {
    const key = `${from}\u0000${to}`;
    if (conditions === undefined) this.linkConfig.delete(key);
    else this.linkConfig.set(key, checkConditions(conditions));
    this.configVersion++;
  }

  /** Cuts every link between a host of `groupA` and a host of `groupB`, both ways, until {@link heal}. */
  partition(groupA: readonly (string | MemoryHost)[], groupB: readonly (string | MemoryHost)[]): void {
    const names = (group: readonly (string | MemoryHost)[]): ReadonlySet<string> => new Set(group.map((h) => (typeof h === 'string' ? h : h.name)));
    this.partitions.push([names(groupA), names(groupB)]);
    this.configVersion++;
  }

  /** Removes every partition. */
  heal(): void {
    this.partitions.length = 0;
    this.configVersion++;
  }

  /** Counters of the link from `from` to `to` (zeros if nothing crossed it yet). */
  linkStats(from: string | MemoryHost, to: string | MemoryHost): LinkStats {
    const f = this.requireHost(from);
    const t = this.requireHost(to);
    const stats = f.links[t.id]?.stats;
    return stats ? { ...stats } : { datagrams: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, partitioned: 0 };
  }

  /** The counters of every link, summed. */
  totalLinkStats(): LinkStats {
    const total: LinkStats = { datagrams: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, partitioned: 0 };
    for (const host of this.hostList) {
      for (const link of host.links) {
        if (!link) continue;
        total.datagrams += link.stats.datagrams;
        total.forwarded += link.stats.forwarded;
        total.dropped += link.stats.dropped;
        total.duplicated += link.stats.duplicated;
        total.reordered += link.stats.reordered;
        total.partitioned += link.stats.partitioned;
      }
    }
    return total;
  }

  /**
   * Opens a transport on `host`, joined to `options.group` at `options.port`.
   * Options are checked as on a real socket (same typed errors), except that
   * `interface` is only recorded: simulated hosts have one interface.
   */
  createTransport(host: string | MemoryHost, options: TransportOptions): MemoryTransport {
    const h = this.requireHost(host);
    const checked = checkTransportOptions({ ...options, interface: undefined });
    const transport = new MemoryTransport(this, h, checked, options.interface, h.allocatePort());
    const key = transport.groupKey;
    let list = this.members.get(key);
    if (!list) this.members.set(key, (list = []));
    list.push(transport);
    return transport;
  }

  // ---- running ---------------------------------------------------------

  /** Moves virtual time forward by `ms`, running every timer and delivery due on the way. */
  advance(ms: number): void {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) throw new InvalidArgumentValueError(`ms must be a finite number ≥ 0, got ${ms}`);
    const untilMs = this.now + ms;
    while (this.queue.peekKey() <= untilMs) this.runNext();
    this.now = untilMs;
  }

  /** Same as {@link advance}. */
  runFor(ms: number): void {
    this.advance(ms);
  }

  /**
   * Runs events in order until `predicate()` is true (checked before the
   * first event and after each one) or `maxMs` of virtual time have passed.
   * Returns whether the predicate became true. Time stops at the event that
   * satisfied it, or at now + maxMs.
   */
  runUntil(predicate: () => boolean, options: { maxMs?: number } = {}): boolean {
    const maxMs = options.maxMs ?? 60_000;
    if (typeof maxMs !== 'number' || !(maxMs >= 0) || !Number.isFinite(maxMs)) throw new InvalidArgumentValueError(`maxMs must be a finite number ≥ 0, got ${maxMs}`);
    const untilMs = this.now + maxMs;
    if (predicate()) return true;
    while (this.queue.peekKey() <= untilMs) {
      if (this.runNext() && predicate()) return true;
    }
    this.now = untilMs;
    return predicate();
  }

  /** Timers and deliveries still queued (cancelled timers included until they surface). */
  get pendingEvents(): number {
    return this.queue.size;
  }

  /** Runs the earliest event; returns false when it was a cancelled timer (nothing happened). */
  private runNext(): boolean {
    const event = this.queue.pop()!;
    if (event.isTimer) {
      if (event.cancelled) return false;
      const host = event.host;
      if (host !== undefined) {
        if (event.life !== host.life) return false; // armed before a crash
        if (host.pausedUntilMs !== undefined) {
          host.parked.push(event);
          return false;
        }
      }
      this.now = event.atMs;
      event.cancelled = true; // a clearTimer() of a timer that already fired must be a no-op
      event.fn();
      return true;
    }
    this.now = event.atMs;
    event.pending = false;
    try {
      event.receiver!.deliver(event);
    } finally {
      event.receiver = undefined;
      event.datagrams.length = 0;
      this.freeDeliveries.push(event);
    }
    return true;
  }

  // ---- the data path (called by MemoryTransport) ------------------------

  /** @internal routes one datagram from `sender` to every member of its group. */
  transmit(sender: MemoryTransport, bytes: Uint8Array): void {
    const members = this.members.get(sender.groupKey);
    if (members === undefined) return;
    const from = sender.host;
    const senderOptions = sender.options;
    const sourceAddress = senderOptions.family === 4 ? from.address : from.address6;
    const random = this.random;
    const now = this.now;
    let sent: SentDatagram | undefined;
    for (let i = 0; i < members.length; i++) {
      const receiver = members[i]!;
      const source = receiver.options.source;
      if (source !== undefined && source !== sourceAddress) continue;
      const to = receiver.host;
      if (to === from) {
        // Like IP_MULTICAST_LOOP on a real interface: host-wide, not per socket.
        if (!senderOptions.loopback) continue;
        sent ??= this.store(bytes, sender);
        this.schedule(receiver, now, sent, true);
        continue;
      }
      if (senderOptions.ttl === 0) continue;
      const link = this.link(from, to);
      const stats = link.stats;
      stats.datagrams++;
      if (link.partitioned) {
        stats.partitioned++;
        continue;
      }
      const c = link.conditions;
      if (c.lossRate > 0 && random.next() < c.lossRate) {
        stats.dropped++;
        continue;
      }
      sent ??= this.store(bytes, sender);
      let copies = 1;
      if (c.duplicateRate > 0 && random.next() < c.duplicateRate) {
        copies = 2;
        stats.duplicated++;
      }
      for (let k = 0; k < copies; k++) {
        let atMs = now + c.delayMs;
        const jittered = c.jitterMs > 0;
        if (jittered) atMs += random.next() * c.jitterMs;
        if (c.reorderRate > 0 && random.next() < c.reorderRate) {
          atMs += c.reorderDelayMs;
          stats.reordered++;
        }
        this.schedule(receiver, atMs, sent, !jittered);
        stats.forwarded++;
      }
    }
  }

  /** @internal removes a closed transport from its group. */
  leave(transport: MemoryTransport): void {
    const list = this.members.get(transport.groupKey);
    if (!list) return;
    const i = list.indexOf(transport);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.members.delete(transport.groupKey);
  }

  /**
   * Adds `sent` to the delivery due at `receiver` at `atMs`: datagrams due at
   * one transport at one instant form one batch. The last delivery scheduled
   * to the receiver is checked first (the usual case: a burst to one
   * receiver); other instants are found in the receiver's pendingByTime map,
   * except `exact` false ones (a jittered time: a random double, equal to
   * another only by a 2^-52 coincidence), which skip the map because a Map
   * with double keys boxes each key and was the hot spot of jittered runs.
   */
  private schedule(receiver: MemoryTransport, atMs: number, sent: SentDatagram, exact: boolean): void {
    let delivery = receiver.lastPending;
    if (delivery === undefined || delivery.atMs !== atMs || !delivery.pending) {
      delivery = exact ? receiver.pendingByTime.get(atMs) : undefined;
      if (delivery === undefined || !delivery.pending) {
        delivery = this.freeDeliveries.pop() ?? new Delivery();
        delivery.atMs = atMs;
        delivery.receiver = receiver;
        delivery.pending = true;
        delivery.indexed = exact;
        if (exact) receiver.pendingByTime.set(atMs, delivery);
        this.queue.push(atMs, delivery);
      }
      receiver.lastPending = delivery;
    }
    delivery.datagrams.push(sent);
  }

  /** Copies a datagram once into a shared slab; every receiver sees the same read-only bytes. */
  private store(bytes: Uint8Array, from: MemoryTransport): SentDatagram {
    const length = bytes.length;
    if (length > ARENA_MAX_DATAGRAM_BYTES) return { chunk: Buffer.from(bytes), offset: 0, length, from };
    if (this.arenaUsedBytes + length > ARENA_BYTES) {
      this.arena = Buffer.allocUnsafe(ARENA_BYTES);
      this.arenaUsedBytes = 0;
    }
    const offset = this.arenaUsedBytes;
    this.arena.set(bytes, offset);
    this.arenaUsedBytes += length;
    return { chunk: this.arena, offset, length, from };
  }

  private link(from: MemoryHost, to: MemoryHost): LinkState {
    let link = from.links[to.id];
    if (link === undefined) from.links[to.id] = link = new LinkState();
    if (link.version !== this.configVersion) {
      link.conditions = this.resolveConditions(from.name, to.name);
      link.partitioned = this.partitions.some(([a, b]) => (a.has(from.name) && b.has(to.name)) || (b.has(from.name) && a.has(to.name)));
      link.version = this.configVersion;
    }
    return link;
  }

  private resolveConditions(from: string, to: string): ResolvedConditions {
    const resolved = perfectLink();
    for (const key of [`*\u0000*`, `*\u0000${to}`, `${from}\u0000*`, `${from}\u0000${to}`]) {
      const c = this.linkConfig.get(key);
      if (c) Object.assign(resolved, c);
    }
    return resolved;
  }

  private requireHost(host: string | MemoryHost): MemoryHost {
    if (host instanceof MemoryHost) {
      if (this.hostList[host.id] !== host) throw new InvalidArgumentValueError(`host '${host.name}' belongs to another network`);
      return host;
    }
    const found = this.hostsByName.get(host);
    if (!found) throw new InvalidArgumentValueError(`no host named '${String(host)}'`);
    return found;
  }
}

export type { LinkConditions, LinkStats } from './link';
