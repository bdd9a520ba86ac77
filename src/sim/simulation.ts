/**
 * The channel-level simulator: real channels, opened with the public
 * `open()` on the memory transport, one simulated host each, on a seeded
 * {@link MemoryNetwork}. A script of faults over virtual time (link
 * conditions, partitions, host crashes and pauses), runs that interleave
 * virtual time with real event-loop turns so application code runs, and the
 * statistics a user checks: delivery and exact loss, NAKs and repairs,
 * membership convergence and failure detection.
 */

import { open } from '../internal';
import {
  InvalidArgumentTypeError, InvalidArgumentValueError, MemoryNetwork,
  type Channel, type LinkConditions, type LinkStats, type LossInfo, type MemoryHost, type MemoryHostOptions, type OpenOptions,
} from '../index';
import { DEFAULT_STEP_MS, drive } from './drive';
import { ConvergenceTracker, type SimMembershipStats } from './convergence';

/** The group channels join unless their options name another. */
export const DEFAULT_SIM_GROUP = '239.255.77.1:7700';
/** Longest a close() at the end of a run may take, ms of virtual time (a receiver that never acknowledges holds a close for its linger). */
const CLOSE_LIMIT_MS = 120_000;

export interface SimulationOptions {
  /** Seed of every random choice: the network's and every channel's (session ids, NAK back-off…). Default 1. */
  seed?: number | string;
  /** Conditions of every link unless {@link Simulation.setLink} says otherwise. Default: perfect and instant. */
  link?: LinkConditions;
  /** The group of {@link Simulation.channel} when its options name none. Default {@link DEFAULT_SIM_GROUP}. */
  group?: string;
  /** Virtual time between two real event-loop turns while running, ms. Default 1; larger runs faster, but the application reacts at most once per step. */
  stepMs?: number;
}

/** What {@link Simulation.channel} takes: open()'s options without the transport's, the group optional. */
export type SimChannelOptions = Omit<OpenOptions, 'transport' | 'network' | 'host' | 'group'> & { group?: string };

/** A channel of the simulation and what happened to it. */
export interface SimChannel {
  readonly channel: Channel;
  readonly host: MemoryHost;
  /** Virtual time it was opened. */
  readonly openedAtMs: number;
  /** 'crashed' once its host crashed (it is frozen: never close it), 'closed' once closed. */
  state: 'open' | 'crashed' | 'closed';
  /** Virtual time of the crash. */
  crashedAtMs: number | undefined;
  /** Every loss report it emitted ('loss' events), in order. */
  readonly losses: LossInfo[];
}

/** Delivery, NAK and repair figures of one channel (from its stats and loss reports). */
export interface ChannelReport {
  host: string;
  sessionId: string;
  state: SimChannel['state'];
  messagesWritten: number;
  /** Messages handed to its reader. */
  messagesReceived: number;
  /** Messages reported lost, summed over the exact ranges of its loss reports. */
  messagesLost: number;
  /** Its loss reports. */
  losses: LossInfo[];
  naksSent: number;
  naksReceived: number;
  naksSuppressed: number;
  repairsSent: number;
  repairsReceived: number;
}

/** Everything the simulation measured so far. */
export interface SimulationReport {
  /** Virtual time, ms. */
  nowMs: number;
  channels: ChannelReport[];
  /** The figures of `channels` summed (`losses` concatenated). */
  totals: Omit<ChannelReport, 'host' | 'sessionId' | 'state'>;
  /** Every link's counters, summed. */
  links: LinkStats;
  /** Convergence and failure detection of the channels opened with `member`. */
  membership: SimMembershipStats;
}

/**
 * A seeded, virtual-time network of simulated hosts running real channels.
 * Typical use: create hosts and channels, script faults with {@link at},
 * {@link run} or {@link runUntil} while the application reads and writes,
 * then read {@link report}. The same seed and script replay the same run.
 *
 * ```ts
 * const sim = new Simulation({ seed: 7, link: { lossRate: 0.05, delayMs: 1 } });
 * const tx = await sim.channel('a');
 * const rx = await sim.channel('b');
 * sim.at(1000, () => sim.crash('b'));
 * await sim.run(5000);
 * console.log(sim.report().totals);
 * ```
 */
export class Simulation {
  /** The simulated network (links, partitions, link counters), for what this class does not wrap. */
  readonly network: MemoryNetwork;
  private readonly seed: number | string;
  private readonly group: string;
  private readonly stepMs: number;
  private readonly channels: SimChannel[] = [];
  private readonly tracker: ConvergenceTracker;
  /** The first error thrown (or rejected) by a scripted action; run() rethrows it. */
  private actionError: { error: unknown } | undefined;

  /** @throws InvalidArgumentTypeError / InvalidArgumentValueError for a bad option; nothing is created. */
  constructor(options: SimulationOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentTypeError('options must be an object');
    this.seed = options.seed ?? 1;
    this.network = new MemoryNetwork({ seed: this.seed, link: options.link });
    this.group = options.group ?? DEFAULT_SIM_GROUP;
    if (typeof this.group !== 'string') throw new InvalidArgumentTypeError(`group must be a string like '239.255.77.1:7700', got ${typeof this.group}`);
    this.stepMs = options.stepMs ?? DEFAULT_STEP_MS;
    if (typeof this.stepMs !== 'number' || !(this.stepMs > 0) || !Number.isFinite(this.stepMs)) throw new InvalidArgumentValueError(`stepMs must be a finite number > 0, got ${String(this.stepMs)}`);
    this.tracker = new ConvergenceTracker(this.network);
  }

  /** Virtual time, ms since the simulation began. */
  get nowMs(): number {
    return this.network.nowMs();
  }

  /** Creates a host. @throws InvalidArgumentValueError when the name is empty or taken. */
  host(name: string, options?: MemoryHostOptions): MemoryHost {
    return this.network.host(name, options);
  }

  /**
   * Opens a real channel on `host` (created if it does not exist yet) with
   * the public `open()`: the memory transport, the simulation's group
   * unless `options.group` names another, and a seed derived from the
   * simulation's (same seed, same session ids — except with `key`, whose
   * session ids are always random: a repeated one would repeat nonces).
   * With `member`, the channel counts in the membership statistics.
   * @throws what open() throws for a bad option (typed errors; nothing is opened).
   */
  async channel(host: string | MemoryHost, options: SimChannelOptions = {}): Promise<Channel> {
    const h = typeof host === 'string' ? (this.network.getHost(host) ?? this.network.host(host)) : host;
    const n = this.channels.length;
    const channel = await open({ group: this.group, ...options, transport: 'memory', network: this.network, host: h, seed: `${String(this.seed)}/${h.name}/${n}` });
    const sc: SimChannel = { channel, host: h, openedAtMs: this.nowMs, state: 'open', crashedAtMs: undefined, losses: [] };
    channel.on('loss', (loss) => sc.losses.push(loss));
    this.channels.push(sc);
    if (channel.group) this.tracker.add(sc, `${h.name} joined`);
    return channel;
  }

  /** The simulation's channels and what happened to them, in the order they were opened. */
  list(): readonly SimChannel[] {
    return this.channels;
  }

  // ---- the script --------------------------------------------------------

  /**
   * Runs `fn` when virtual time reaches `atMs` (absolute, ms), during a run.
   * It runs on the network's own clock, so a host's crash or pause does not
   * stop it. If it throws or its promise rejects, the current run() or
   * runUntil() rejects with that error.
   * @throws InvalidArgumentValueError when `atMs` is in the past or not finite.
   */
  at(atMs: number, fn: () => unknown): void {
    if (typeof atMs !== 'number' || !Number.isFinite(atMs) || atMs < this.nowMs) throw new InvalidArgumentValueError(`atMs must be a finite time ≥ now (${this.nowMs} ms), got ${String(atMs)}`);
    if (typeof fn !== 'function') throw new InvalidArgumentTypeError(`fn must be a function, got ${typeof fn}`);
    this.network.setTimer(() => {
      try {
        const r = fn();
        if (r instanceof Promise) r.catch((error: unknown) => (this.actionError ??= { error }));
      } catch (error) {
        this.actionError ??= { error };
      }
    }, atMs - this.nowMs);
  }

  /** Sets the conditions of the link from host `from` to host `to` (`'*'`: any), as {@link MemoryNetwork.setLink}. @throws InvalidArgumentValueError for bad conditions. */
  setLink(from: string, to: string, conditions: LinkConditions | undefined): void {
    this.network.setLink(from, to, conditions);
  }

  /** Cuts every link between a host of `a` and a host of `b`, both ways, until {@link heal}. @throws InvalidArgumentValueError for an unknown host. */
  partition(a: readonly (string | MemoryHost)[], b: readonly (string | MemoryHost)[]): void {
    const names = (side: readonly (string | MemoryHost)[]): string[] => side.map((h) => this.requireHost(h).name);
    const sideA = names(a);
    const sideB = names(b);
    this.network.partition(sideA, sideB);
    this.tracker.partition(sideA, sideB);
  }

  /** Removes every partition. */
  heal(): void {
    this.network.heal();
    this.tracker.heal();
  }

  /**
   * Crashes `host` like kill -9: its channels stop dead — no leave, nothing
   * more sent or received, their timers never fire again. They are frozen,
   * never closed: do not await anything of theirs. A channel opened on the
   * host afterwards is a restart (a new session).
   * @throws InvalidArgumentValueError for an unknown host.
   */
  crash(host: string | MemoryHost): void {
    const h = this.requireHost(host);
    this.network.crash(h);
    for (const sc of this.channels) {
      if (sc.host !== h || sc.state !== 'open') continue;
      sc.state = 'crashed';
      sc.crashedAtMs = this.nowMs;
      this.tracker.crashed(sc);
    }
  }

  /**
   * Pauses `host` for `ms` like kill -STOP: its channels' timers wait and
   * what reaches it waits in its socket buffer (`recvBufferBytes`, default
   * 212,992 bytes; the rest is dropped and counted as `kernelDrops`), then
   * it resumes with its state: timers first, then the buffered datagrams
   * ({@link MemoryNetwork.pause}). Application code keeps running: only the
   * channels stop.
   * @throws InvalidArgumentValueError for an unknown host or a bad duration.
   */
  pause(host: string | MemoryHost, ms: number): void {
    this.network.pause(this.requireHost(host), ms);
  }

  // ---- running -----------------------------------------------------------

  /** Runs `ms` of virtual time, one real event-loop turn per step. @throws what a scripted action threw. */
  async run(ms: number): Promise<void> {
    if (typeof ms !== 'number' || !(ms >= 0) || !Number.isFinite(ms)) throw new InvalidArgumentValueError(`ms must be a finite number ≥ 0, got ${String(ms)}`);
    const endMs = this.nowMs + ms;
    await this.runUntil(() => this.nowMs >= endMs, ms + this.stepMs);
  }

  /**
   * Runs until `predicate()` holds (checked before each step) or `maxMs` of
   * virtual time passed; resolves whether it held.
   * @throws what a scripted action threw; InvalidArgumentValueError for a bad `maxMs`.
   */
  async runUntil(predicate: () => boolean, maxMs = 60_000): Promise<boolean> {
    if (typeof maxMs !== 'number' || !(maxMs >= 0) || !Number.isFinite(maxMs)) throw new InvalidArgumentValueError(`maxMs must be a finite number ≥ 0, got ${String(maxMs)}`);
    const held = await drive(this.network, () => this.actionError !== undefined || predicate(), maxMs, this.stepMs, () => this.tracker.check());
    if (this.actionError) {
      const { error } = this.actionError;
      this.actionError = undefined;
      throw error;
    }
    return held;
  }

  /** Settles `promise` while running virtual time (a close(), a request…). @throws its rejection, or an Error when it does not settle within `maxMs` of virtual time. */
  async settle<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    let done = false;
    promise.then(() => (done = true), () => (done = true));
    if (!(await this.runUntil(() => done, maxMs))) throw new Error(`the promise did not settle within ${maxMs} ms of virtual time`);
    return promise;
  }

  /**
   * Closes a channel gracefully (its members see `leave`) while running
   * virtual time. A crashed channel is frozen: it is left as it is (state 'crashed').
   * @throws InvalidArgumentValueError for a channel of another simulation.
   */
  async close(channel: Channel): Promise<void> {
    const sc = this.channels.find((c) => c.channel === channel);
    if (!sc) throw new InvalidArgumentValueError('not a channel of this simulation');
    if (sc.state === 'open') {
      sc.state = 'closed';
      this.tracker.closed(sc);
      await this.settle(channel.close(), CLOSE_LIMIT_MS);
    }
  }

  /** Closes every open channel (at the end of a run). */
  async closeAll(): Promise<void> {
    for (const sc of this.channels) if (sc.state === 'open') await this.close(sc.channel);
  }

  // ---- statistics --------------------------------------------------------

  /** Delivery, NAK and membership figures so far. Cheap: call it as often as needed. */
  report(): SimulationReport {
    const channels = this.channels.map((sc): ChannelReport => {
      const stats = sc.channel.stats();
      const p = stats.protocol;
      return {
        host: sc.host.name,
        sessionId: sc.channel.info.sessionId,
        state: sc.state,
        messagesWritten: stats.channel.messagesWritten,
        messagesReceived: stats.channel.messagesReceived,
        messagesLost: sc.losses.reduce((s, l) => s + l.toSeq - l.fromSeq + 1, 0),
        losses: [...sc.losses],
        naksSent: p.naksSent,
        naksReceived: p.naksReceived,
        naksSuppressed: p.naksSuppressed,
        repairsSent: p.repairsSent,
        repairsReceived: p.repairsReceived,
      };
    });
    const totals: SimulationReport['totals'] = { messagesWritten: 0, messagesReceived: 0, messagesLost: 0, losses: [], naksSent: 0, naksReceived: 0, naksSuppressed: 0, repairsSent: 0, repairsReceived: 0 };
    for (const c of channels) {
      for (const k of ['messagesWritten', 'messagesReceived', 'messagesLost', 'naksSent', 'naksReceived', 'naksSuppressed', 'repairsSent', 'repairsReceived'] as const) totals[k] += c[k];
      totals.losses.push(...c.losses);
    }
    return { nowMs: this.nowMs, channels, totals, links: this.network.totalLinkStats(), membership: this.tracker.stats() };
  }

  /** Every live member channel knows exactly the live members it can reach, all alive (partitions respected). */
  converged(): boolean {
    return this.tracker.converged();
  }

  private requireHost(host: string | MemoryHost): MemoryHost {
    const name = typeof host === 'string' ? host : host?.name;
    const h = typeof name === 'string' ? this.network.getHost(name) : undefined;
    if (!h || (typeof host !== 'string' && h !== host)) throw new InvalidArgumentValueError(`unknown host '${String(name)}'`);
    return h;
  }
}

