/**
 * openBus(): one member of the bus — a channel that is a group member (role
 * `bus-member`), reads the bus stream with the batch API, and hands each
 * message to the role it is for: requester, server, submitter or worker.
 *
 * Who serves what travels in ANNOUNCE messages: sent when this member starts
 * or stops serving or working something, and whenever another bus member
 * joins (so the newcomer learns it). A newcomer may miss the first messages
 * of a member that was sending before it listened (late join starts at the
 * first message it sees), so every HELLO_MS it names the live members it has
 * no ANNOUNCE from in a HELLO, and they announce again.
 */

import { hostname } from 'node:os';
import { ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError, open, type Channel, type MemberInfo, type MessageBatch, type OpenOptions, type Scheduler } from '../index';
import { checkKnown, describe, numberOption, passThrough, stringOption } from '../apps/options';
import { realScheduler } from '../apps/scheduler';
import { decode, MessageType, targetOf, encode, type BusMessage } from './codec';
import { newCounters, Timer, type BusContext } from './context';
import { BacklogFullError, NoServerError } from './errors';
import { BUS_ROLE, isBusMember, PeerTable } from './peers';
import { checkName, toBytes } from './payload';
import { Requester } from './requester';
import { Server } from './server';
import { Submitter } from './submitter';
import type {
  Bus, BusHandler, BusOptions, BusPayload, BusPeer, BusReply, BusStats, Gather, GatherOptions, RequestOptions, ServeOptions, Service, SubmitOptions,
  TaskHandler, TaskResult, WorkOptions, Worker,
} from './types';
import { WorkerRole } from './worker';

export const DEFAULT_BUS_STREAM = 'bus';
export const DEFAULT_DISCOVERY_MS = 2000;
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_LEASE_MS = 10_000;
export const DEFAULT_CONCURRENCY = 16;
export const DEFAULT_MAX_QUEUED = 1024;
export const DEFAULT_MAX_FAILURES = 3;
export const DEFAULT_MAX_BACKLOG = 65_536;
/** How often a member asks the live members it has no ANNOUNCE from (HELLO), ms. */
export const HELLO_MS = 500;
/** A bus channel's close: give up a peer making no progress after this (ms)… */
const BUS_LINGER_MS = 2000;
/** …and, everything acknowledged, wait this long for a stalled peer to ask (ms): a request or a submit exits promptly. */
const BUS_CLOSE_QUIET_MS = 250;
/** Most ids one HELLO names. */
const MAX_HELLO_IDS = 64;

const KNOWN_OPTIONS = ['group', 'interface', 'ttl', 'transport', 'network', 'host', 'key', 'name', 'stream', 'discoveryMs', 'maxBacklog', 'signal'] as const;

/**
 * Opens a member of the bus on `options.group`.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming the bad
 *   option (nothing opened), and whatever open() throws for the channel options.
 */
export function openBus(options: BusOptions): Promise<Bus> {
  return openBusWith(options, open);
}

/**
 * openBus() on the channel `openChannel` opens (tests: blipcast/internal's
 * open(), with its `seed` for a repeatable run, membership tuning, loss
 * injection). Not exported from `blipcast/bus`.
 */
export async function openBusWith(options: BusOptions, openChannel: (options: OpenOptions) => Promise<Channel>): Promise<Bus> {
  checkKnown(options, KNOWN_OPTIONS);
  const name = stringOption(options, 'name') ?? `${hostname()}:${process.pid}`;
  const stream = stringOption(options, 'stream') ?? DEFAULT_BUS_STREAM;
  const discoveryMs = numberOption(options, 'discoveryMs', 0, 3_600_000) ?? DEFAULT_DISCOVERY_MS;
  const maxBacklog = integer(options, 'maxBacklog', 1, 1 << 30) ?? DEFAULT_MAX_BACKLOG;
  if (Buffer.byteLength(name) > 255) throw new InvalidArgumentValueError(`options.name must be at most 255 UTF-8 bytes, got ${Buffer.byteLength(name)}`);
  const channel = await openChannel({
    ...(passThrough(options, ['group', 'interface', 'ttl', 'transport', 'network', 'host', 'key', 'signal']) as Pick<OpenOptions, 'group'>),
    member: { name, metadata: { role: BUS_ROLE } },
    paceTo: isBusMember,
    streams: [stream],
    lingerMs: BUS_LINGER_MS,
    closeQuietMs: BUS_CLOSE_QUIET_MS,
  });
  const scheduler = options.network ?? realScheduler;
  return new BusMember(channel, name, stream, scheduler, discoveryMs, maxBacklog, options.signal);
}

function integer(options: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = numberOption(options, name, min, max);
  if (v !== undefined && !Number.isInteger(v)) throw new InvalidArgumentValueError(`options.${name} must be an integer, got ${v}`);
  return v;
}

/** A call's options object: undefined or a plain object with only the known names. */
function callOptions<T extends object>(options: T | undefined, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  checkKnown(options, known);
  return options as Record<string, unknown>;
}

function signalOption(o: Record<string, unknown>): AbortSignal | undefined {
  const s = o['signal'];
  if (s === undefined) return undefined;
  if (!(s instanceof AbortSignal)) throw new InvalidArgumentTypeError(`options.signal must be an AbortSignal, got ${describe(s)}`);
  return s;
}

class BusMember implements Bus {
  readonly id: string;
  private readonly ctx: BusContext;
  private readonly closing = new AbortController();
  private readonly peers: PeerTable;
  private readonly requester: Requester;
  private readonly server: Server;
  private readonly submitter: Submitter;
  private readonly worker: WorkerRole;
  private readonly announceTimer: Timer;
  private readonly helloTimer: Timer;
  private announceVersion = 0;
  private closed: Promise<void> | undefined;

  constructor(
    readonly channel: Channel,
    readonly name: string,
    private readonly stream: string,
    scheduler: Scheduler,
    discoveryMs: number,
    maxBacklog: number,
    signal: AbortSignal | undefined,
  ) {
    this.id = channel.info.sessionId;
    this.peers = new PeerTable(this.id);
    const self: BusPeer = { id: this.id, name };
    this.ctx = {
      self, scheduler, counters: newCounters(), peers: this.peers, closed: this.closing.signal,
      send: (m) => this.send(m),
      discoveredAtMs: scheduler.nowMs() + discoveryMs,
      announceSoon: () => {
        if (!this.announceTimer.pending && !this.closing.signal.aborted) this.announceTimer.set(0);
      },
      peerOf: (id) => (id === this.id ? self : this.peers.get(id) ?? { id, name: channel.group?.members().find((m) => m.id === id)?.name ?? id }),
    };
    this.server = new Server(this.ctx);
    this.requester = new Requester(this.ctx, (subject) => this.servers(subject));
    this.submitter = new Submitter(this.ctx, maxBacklog);
    this.worker = new WorkerRole(this.ctx);
    this.announceTimer = new Timer(scheduler, () => this.announce());
    this.helloTimer = new Timer(scheduler, () => this.hello());

    channel.subscribe(stream);
    channel.on('messages', (batch: MessageBatch) => {
      const from = batch.source.id;
      for (let i = 0; i < batch.count; i++) this.dispatch(from, batch.data(i));
    });
    channel.on('error', () => this.ctx.counters.sendErrors++);
    const group = channel.group!;
    for (const m of group.members()) if (!m.self && isBusMember(m)) this.peers.joined(m);
    group.on('join', (m: MemberInfo) => {
      if (!isBusMember(m)) return;
      this.peers.joined(m);
      this.ctx.announceSoon(); // the newcomer needs to know what this member serves
    });
    group.on('leave', (m: MemberInfo) => this.peerGone(m.id, 'left'));
    group.on('dead', (m: MemberInfo) => this.peerGone(m.id, 'dead'));
    channel.on('close', () => void this.close());
    if (signal !== undefined) {
      if (signal.aborted) void this.close();
      else signal.addEventListener('abort', () => void this.close(), { once: true });
    }
    this.ctx.announceSoon();
    this.helloTimer.set(HELLO_MS);
  }

  // ---- the API ----

  serve(subject: string, handler: BusHandler, options?: ServeOptions): Service {
    this.open();
    checkName(subject, 'subject');
    if (typeof handler !== 'function') throw new InvalidArgumentTypeError(`handler must be a function, got ${describe(handler)}`);
    const o = callOptions(options, ['concurrency', 'maxQueued']);
    const concurrency = integer(o, 'concurrency', 1, 1_000_000) ?? DEFAULT_CONCURRENCY;
    const maxQueued = integer(o, 'maxQueued', 0, 1 << 30) ?? DEFAULT_MAX_QUEUED;
    return this.server.serve(subject, handler, concurrency, maxQueued);
  }

  async request(subject: string, payload?: BusPayload, options?: RequestOptions): Promise<BusReply> {
    this.open();
    checkName(subject, 'subject');
    const data = toBytes(payload, 'payload');
    const o = callOptions(options, ['timeoutMs', 'attemptTimeoutMs', 'signal']);
    const timeoutMs = numberOption(o, 'timeoutMs', 1, 2 ** 31 - 1) ?? DEFAULT_TIMEOUT_MS;
    const attemptTimeoutMs = numberOption(o, 'attemptTimeoutMs', 1, 2 ** 31 - 1) ?? timeoutMs / 2;
    return this.requester.request(subject, data, timeoutMs, attemptTimeoutMs, signalOption(o));
  }

  gather(subject: string, payload?: BusPayload, options?: GatherOptions): Gather {
    this.open();
    checkName(subject, 'subject');
    const data = toBytes(payload, 'payload');
    const o = callOptions(options, ['expect', 'deadlineMs', 'signal']);
    const expect = o['expect'] ?? 'members';
    if (expect !== 'members' && !(typeof expect === 'number' && Number.isInteger(expect) && expect >= 1)) {
      const Bad = typeof expect === 'number' ? InvalidArgumentValueError : InvalidArgumentTypeError;
      throw new Bad(`options.expect must be 'members' or an integer ≥ 1, got ${describe(expect)}`);
    }
    const deadlineMs = numberOption(o, 'deadlineMs', 1, 2 ** 31 - 1) ?? DEFAULT_TIMEOUT_MS;
    return this.requester.gather(subject, data, expect as 'members' | number, deadlineMs, signalOption(o));
  }

  work(queue: string, handler: TaskHandler, options?: WorkOptions): Worker {
    this.open();
    checkName(queue, 'queue');
    if (typeof handler !== 'function') throw new InvalidArgumentTypeError(`handler must be a function, got ${describe(handler)}`);
    const o = callOptions(options, ['capacity']);
    const capacity = integer(o, 'capacity', 1, 0xffff) ?? 1;
    return this.worker.work(queue, handler, capacity);
  }

  async submit(queue: string, task: BusPayload, options?: SubmitOptions): Promise<TaskResult> {
    this.open();
    checkName(queue, 'queue');
    const data = toBytes(task, 'task');
    const o = callOptions(options, ['leaseMs', 'replicas', 'reconcile', 'maxFailures', 'signal']);
    const leaseMs = integer(o, 'leaseMs', 10, 0xffffffff) ?? DEFAULT_LEASE_MS;
    const replicas = integer(o, 'replicas', 1, 0xffff) ?? 1;
    const maxFailures = integer(o, 'maxFailures', 1, 1_000_000) ?? DEFAULT_MAX_FAILURES;
    const reconcile = o['reconcile'];
    if (reconcile !== undefined && typeof reconcile !== 'function') throw new InvalidArgumentTypeError(`options.reconcile must be a function, got ${describe(reconcile)}`);
    if (this.submitter.backlogFull) throw new BacklogFullError(queue, this.submitter.size);
    const signal = signalOption(o);
    // Nobody works the queue once discovery is over: say so rather than wait forever.
    if (this.ctx.scheduler.nowMs() >= this.ctx.discoveredAtMs && this.workers(queue).length === 0) {
      throw new NoServerError(queue, 'works queue');
    }
    return this.submitter.submit(queue, data, { leaseMs, replicas, maxFailures, reconcile: reconcile as SubmitOptions['reconcile'], signal });
  }

  servers(subject: string): BusPeer[] {
    const list = this.peers.servers(subject);
    if (this.server.serves(subject)) list.push(this.ctx.self);
    return list;
  }

  workers(queue: string): BusPeer[] {
    const list = this.peers.workers(queue);
    if (this.worker.works(queue)) list.push(this.ctx.self);
    return list;
  }

  stats(): BusStats {
    return { ...this.ctx.counters, tasksInFlight: this.submitter.inFlightCount };
  }

  close(): Promise<void> {
    this.closed ??= (async () => {
      this.closing.abort(new ClosedError('bus'));
      this.announceTimer.clear();
      this.helloTimer.clear();
      this.requester.closeAll();
      this.submitter.closeAll();
      this.worker.closeAll();
      await this.channel.close();
    })();
    return this.closed;
  }

  private open(): void {
    if (this.closing.signal.aborted) throw new ClosedError('bus');
  }

  // ---- the wire ----

  private send(m: BusMessage): void {
    const bytes = encode(m);
    const target = 'target' in m ? m.target : undefined;
    if (target !== this.id) {
      try {
        this.channel.write(bytes, this.stream);
      } catch {
        this.ctx.counters.sendErrors++;
      }
    }
    // A channel never reads its own messages: what is for this member (or for all, but announces) comes straight back.
    if (target === this.id || (target === undefined && m.type !== MessageType.Announce && m.type !== MessageType.Hello)) {
      queueMicrotask(() => this.dispatch(this.id, bytes));
    }
  }

  private dispatch(from: string, bytes: Buffer): void {
    if (this.closing.signal.aborted) return;
    const target = targetOf(bytes);
    if (target === null) {
      this.ctx.counters.invalidMessages++;
      return;
    }
    if (target !== undefined && target !== this.id) return; // for another member
    const m = decode(bytes);
    if (m === undefined) {
      this.ctx.counters.invalidMessages++;
      return;
    }
    switch (m.type) {
      case MessageType.Announce:
        this.peers.announced(from, m.name, m.version, m.subjects, m.queues);
        if (m.queues.length > 0) this.submitter.onWorkerAnnounced(m.queues.map((q) => q.queue));
        return;
      case MessageType.Hello:
        if (m.ids.length === 0 || m.ids.includes(this.id)) this.ctx.announceSoon();
        return;
      case MessageType.Request:
      case MessageType.Gather:
        return this.server.onRequest(from, m);
      case MessageType.Reply:
        return this.requester.onReply(from, m);
      case MessageType.Offer:
        return this.worker.onOffer(from, m);
      case MessageType.Bid:
        return this.submitter.onBid(from, m.queue, m.free);
      case MessageType.Award:
        return this.worker.onAward(from, m);
      case MessageType.Refuse:
        return this.submitter.onRefuse(from, m);
      case MessageType.Renew:
        return this.submitter.onRenew(from, m);
      case MessageType.Result:
        return this.submitter.onResult(from, m);
      case MessageType.Cancel:
        return this.worker.onCancel(from, m);
    }
  }

  private announce(): void {
    if (this.closing.signal.aborted) return;
    this.send({ type: MessageType.Announce, name: this.name, version: ++this.announceVersion, subjects: this.server.subjects(), queues: this.worker.queueList() });
  }

  private hello(): void {
    const ids = this.peers.unannounced();
    if (ids.length > 0) this.send({ type: MessageType.Hello, ids: ids.slice(0, MAX_HELLO_IDS) });
    this.helloTimer.set(HELLO_MS);
  }

  private peerGone(id: string, reason: 'dead' | 'left'): void {
    if (!this.peers.gone(id)) return;
    this.requester.onPeerGone(id, reason);
    this.submitter.onPeerGone(id);
    this.worker.onPeerGone(id);
  }
}
