/**
 * The core-level simulator: N sans-IO membership cores (src/group) on one
 * multicast group, stepped through virtual time. Every datagram a member
 * sends is one flight delivered to every other running member at the same
 * instant, with per-delivery seeded loss, one-way delay and jitter;
 * partitions are side numbers. Timers and flights share one time-ordered
 * heap; stale timers are skipped by value, as foca does. Nothing touches a
 * socket or a clock, so a thousand members run in minutes and the same seed
 * replays the same run.
 */

import { createMembership } from '../group/membership';
import type { Membership, MembershipEventType, MembershipTuning } from '../group/api';
import { decodeHeader } from '../wire/decode';
import type { Header } from '../wire/header';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import { Heap } from '../util/heap';
import { mulberry32 } from '../util/random';
import { DEFAULT_PAUSE_BUFFER_BYTES } from '../index';

/** One membership event as a member saw it. */
export interface MembershipSimEvent {
  /** Virtual time of the event, ms. */
  atMs: number;
  type: MembershipEventType;
  /** Member id (16 hex digits) the event is about. */
  id: string;
}

/** One simulated member. */
export interface SimMember {
  readonly name: string;
  /** Member id: 16 hex digits, drawn from the simulation's seed. */
  readonly id: string;
  /** The member's membership core (`m` for short: tests read it on every line). */
  readonly m: Membership;
  /** False after kill() or leave(): no timers, no input, nothing sent. */
  running: boolean;
  /** Partition side: members only hear members of the same side. 0 unless {@link MembershipSimulation.partition} says otherwise. */
  side: number;
  /** Events seen by this member, in order (unless {@link onEvent} is set). */
  readonly events: MembershipSimEvent[];
  /** Replaces event recording (a big run counts instead of storing). */
  onEvent?: (e: MembershipSimEvent) => void;
  /** Virtual time at which it joined. */
  readonly joinedAtMs: number;
  /** Paused (kill -STOP) until this virtual time; undefined when not paused. */
  pausedUntilMs: number | undefined;
  /** @internal deadline of the armed timer */
  timerAtMs: number | undefined;
  /** @internal datagrams that reached it while paused (its socket buffer) */
  readonly held: { dg: Uint8Array; header: Header }[];
  /** @internal bytes in `held` */
  heldBytes: number;
}

export interface MembershipSimulationOptions {
  /** Seed of every random choice (member ids, the cores' randomness, loss, jitter). */
  seed: number;
  /** Probability that one delivery (sender → one receiver) is lost, 0..1. Default 0. */
  loss?: number;
  /** One-way delay, ms. Default 0.5. */
  delayMs?: number;
  /** Extra delay, uniform in [0, jitterMs), drawn per datagram (not per receiver), ms. Default 0.5. */
  jitterMs?: number;
  /** Membership tuning of every member (defaults of docs/protocol.md otherwise). */
  tuning?: Partial<MembershipTuning>;
  /**
   * Bytes a paused member's socket buffer holds; datagrams beyond are dropped
   * and counted in {@link MembershipSimulation.overflowed}. Default 212,992
   * (Linux's default `net.core.rmem_default`).
   */
  pauseBufferBytes?: number;
}

interface Flight {
  /** A datagram from `from`… */
  dg: Uint8Array | undefined;
  header: Header | undefined;
  from: SimMember | undefined;
  /** …or `node`'s timer… */
  node: SimMember | undefined;
  /** For a timer: the deadline the core asked for when it was armed. */
  timerMs?: number;
  /** …or a scripted action. */
  action: (() => void) | undefined;
}

/**
 * N membership cores on one simulated group. Script it with {@link at},
 * {@link kill}, {@link pause}, {@link partition}; run it with {@link run},
 * {@link runUntil} and {@link runWhile}; read each member's table through
 * `member.m`. {@link runMembershipScenario} runs the benchmark scenario on it.
 */
export class MembershipSimulation {
  /** Virtual time, ms. */
  nowMs = 0;
  /** Every member ever added, in order. */
  readonly nodes: SimMember[] = [];
  /** The simulation's seeded generator (scripts may draw from it: the run stays a function of the seed). */
  readonly rng: () => number;
  /** Deliveries made and lost to `loss` (all members). */
  delivered = 0;
  lost = 0;
  /** Datagrams dropped because a paused member's socket buffer was full. */
  overflowed = 0;
  private lossRate: number;
  private readonly delayMs: number;
  private readonly jitterMs: number;
  private readonly pauseBufferBytes: number;
  private readonly tuning: Partial<MembershipTuning>;
  /** Ties in time go in the order they were pushed. */
  private readonly heap = new Heap<Flight>();

  /** @throws InvalidArgumentTypeError / InvalidArgumentValueError for a bad option; nothing is created. */
  constructor(options: MembershipSimulationOptions) {
    if (typeof options !== 'object' || options === null) throw new InvalidArgumentTypeError('options must be an object like { seed }');
    if (typeof options.seed !== 'number' || !Number.isFinite(options.seed)) throw new InvalidArgumentTypeError(`seed must be a finite number, got ${String(options.seed)}`);
    this.lossRate = checkRate('loss', options.loss ?? 0);
    this.delayMs = checkMs('delayMs', options.delayMs ?? 0.5);
    this.jitterMs = checkMs('jitterMs', options.jitterMs ?? 0.5);
    this.pauseBufferBytes = checkMs('pauseBufferBytes', options.pauseBufferBytes ?? DEFAULT_PAUSE_BUFFER_BYTES);
    this.tuning = options.tuning ?? {};
    this.rng = mulberry32(options.seed);
  }

  /** Probability that one delivery is lost; may be changed between runs. @throws InvalidArgumentValueError outside 0..1. */
  get loss(): number {
    return this.lossRate;
  }

  set loss(value: number) {
    this.lossRate = checkRate('loss', value);
  }

  /**
   * Creates a member and joins it now.
   * @throws InvalidArgumentValueError when the core refuses its name or metadata (too long, announce too big).
   */
  add(name: string, metadata: Record<string, string> = {}): SimMember {
    const random = mulberry32(Math.floor(this.rng() * 2 ** 32));
    let hi = 0;
    let lo = 0;
    while (hi === 0 && lo === 0) {
      hi = Math.floor(random() * 2 ** 32) >>> 0;
      lo = Math.floor(random() * 2 ** 32) >>> 0;
    }
    const m = createMembership({ sessionHi: hi, sessionLo: lo, name, metadata, random }, this.tuning);
    const node: SimMember = {
      name, id: hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0'), m,
      running: true, side: 0, events: [], timerAtMs: undefined, joinedAtMs: this.nowMs,
      pausedUntilMs: undefined, held: [], heldBytes: 0,
    };
    this.nodes.push(node);
    m.join(this.nowMs);
    this.pump(node);
    return node;
  }

  /** The member of that name (the first added, if several share it). @throws InvalidArgumentValueError when there is none. */
  member(name: string): SimMember {
    const node = this.nodes.find((n) => n.name === name);
    if (!node) throw new InvalidArgumentValueError(`no member named '${String(name)}'`);
    return node;
  }

  /** Stops a member dead, without leaving (kill -9): no timer, no input, nothing sent, ever again. @throws InvalidArgumentValueError for a member of another simulation. */
  kill(node: SimMember): void {
    this.own(node).running = false;
  }

  /** Leaves gracefully (the core's LEAVE goes out now), then stops. @throws InvalidArgumentValueError for a member of another simulation. */
  leave(node: SimMember): void {
    this.own(node);
    node.m.leave(this.nowMs);
    this.pump(node);
    node.running = false;
  }

  /**
   * Pauses a member for `ms` (kill -STOP, a long GC): its timers do not run
   * and what reaches it waits in its socket buffer (up to `pauseBufferBytes`;
   * the rest is dropped and counted in {@link overflowed}). When the pause
   * ends it runs its overdue timers first, then reads the buffered datagrams
   * in arrival order (libuv's order: timers, then I/O), with its state intact.
   * Pausing a paused member extends the pause to the later end.
   * @throws InvalidArgumentValueError for a negative or non-finite `ms`, or a member of another simulation.
   */
  pause(node: SimMember, ms: number): void {
    this.own(node);
    checkMs('ms', ms);
    if (!node.running) return;
    const untilMs = this.nowMs + ms;
    if (node.pausedUntilMs !== undefined && node.pausedUntilMs >= untilMs) return;
    node.pausedUntilMs = untilMs;
    this.at(untilMs, () => this.resume(node, untilMs));
  }

  /**
   * Splits the group: members of `sides[i]` get side i + 1 (members not named
   * keep theirs) and hear only members of their own side, until {@link heal}.
   * @throws InvalidArgumentValueError for a member of another simulation.
   */
  partition(...sides: readonly SimMember[][]): void {
    sides.forEach((side) => side.forEach((n) => this.own(n)));
    sides.forEach((side, i) => side.forEach((n) => (n.side = i + 1)));
  }

  /** Ends every partition: everybody hears everybody again. */
  heal(): void {
    for (const n of this.nodes) n.side = 0;
  }

  /** Runs `fn` at virtual time `atMs` (a past time runs first thing in the next run). @throws InvalidArgumentValueError for a non-finite time. */
  at(atMs: number, fn: () => void): void {
    if (typeof atMs !== 'number' || !Number.isFinite(atMs)) throw new InvalidArgumentValueError(`atMs must be a finite number, got ${String(atMs)}`);
    if (typeof fn !== 'function') throw new InvalidArgumentTypeError(`fn must be a function, got ${typeof fn}`);
    this.heap.push(atMs, { dg: undefined, header: undefined, from: undefined, node: undefined, action: fn });
  }

  /** Drains a member's transmissions and events and re-arms its timer. Call it after feeding a core by hand. */
  pump(node: SimMember): void {
    for (;;) {
      const dg = node.m.pollTransmit();
      if (dg === undefined) break;
      this.transmit(node, dg);
    }
    for (;;) {
      const e = node.m.pollEvent();
      if (e === undefined) break;
      const ge = { atMs: this.nowMs, type: e.type, id: e.member.id };
      if (node.onEvent) node.onEvent(ge);
      else node.events.push(ge);
    }
    if (!node.running) return;
    const t = node.m.pollTimeout();
    if (t !== undefined && t !== node.timerAtMs) {
      node.timerAtMs = t;
      const atMs = Math.max(t, this.nowMs);
      this.heap.push(atMs, { dg: undefined, header: undefined, from: undefined, node, action: undefined, timerMs: t });
    } else if (t === undefined) node.timerAtMs = undefined;
  }

  /** Advances virtual time to `untilMs`, delivering datagrams and firing timers and actions in time order. */
  runUntil(untilMs: number): void {
    for (;;) {
      const key = this.heap.peekKey();
      if (key > untilMs) {
        this.nowMs = Math.max(this.nowMs, untilMs);
        return;
      }
      const f = this.heap.pop()!;
      this.nowMs = Math.max(this.nowMs, key);
      if (f.action) {
        f.action();
      } else if (f.node) {
        const n = f.node;
        // A timer value the core no longer asks for is stale: skip it. A paused member's timer runs at resume.
        if (!n.running || n.timerAtMs !== f.timerMs || n.pausedUntilMs !== undefined) continue;
        n.timerAtMs = undefined;
        n.m.handleTimeout(this.nowMs);
        this.pump(n);
      } else {
        const from = f.from!;
        for (const to of this.nodes) {
          if (to === from || !to.running || to.side !== from.side) continue;
          if (this.lossRate > 0 && this.rng() < this.lossRate) {
            this.lost++;
            continue;
          }
          this.delivered++;
          if (to.pausedUntilMs !== undefined) {
            this.hold(to, f.dg!, f.header!);
            continue;
          }
          to.m.handleDatagram(this.nowMs, f.dg!, f.header!);
          this.pump(to);
        }
      }
    }
  }

  /** Advances virtual time by `ms`. @throws InvalidArgumentValueError for a negative or non-finite `ms`. */
  run(ms: number): void {
    this.runUntil(this.nowMs + checkMs('ms', ms));
  }

  /** Runs until `notDone()` is false (checked every `stepMs`) or `maxMs` passes; returns whether it finished. */
  runWhile(notDone: () => boolean, maxMs: number, stepMs = 10): boolean {
    checkMs('maxMs', maxMs);
    if (!(stepMs > 0) || !Number.isFinite(stepMs)) throw new InvalidArgumentValueError(`stepMs must be a finite number > 0, got ${String(stepMs)}`);
    const end = this.nowMs + maxMs;
    while (notDone()) {
      if (this.nowMs >= end) return false;
      this.runUntil(Math.min(end, this.nowMs + stepMs));
    }
    return true;
  }

  /** Members not killed and not left (paused ones included). */
  running(): SimMember[] {
    return this.nodes.filter((n) => n.running);
  }

  /** Every running member knows exactly the running members of its side, and suspects none. */
  converged(): boolean {
    const live = this.running();
    for (const n of live) {
      const expected = live.filter((o) => o.side === n.side).length;
      const ms = n.m.members();
      if (ms.length !== expected || ms.some((x) => x.state !== 'alive')) return false;
    }
    return true;
  }

  /** The cheaper check for big groups: every running member's table holds as many others as its side has running members. */
  sizesConverged(): boolean {
    const perSide = new Map<number, number>();
    for (const n of this.nodes) if (n.running) perSide.set(n.side, (perSide.get(n.side) ?? 0) + 1);
    for (const n of this.nodes) if (n.running && n.m.stats().members !== perSide.get(n.side)! - 1) return false;
    return true;
  }

  private transmit(from: SimMember, dg: Uint8Array): void {
    const d = decodeHeader(dg);
    // A core that emits what it cannot decode is a bug in the core, not an input to count.
    if (!d.ok) throw new Error(`member ${from.name} emitted an undecodable datagram: ${d.reason}`);
    const atMs = this.nowMs + this.delayMs + (this.jitterMs > 0 ? this.rng() * this.jitterMs : 0);
    this.heap.push(atMs, { dg, header: d.header, from, node: undefined, action: undefined });
  }

  private hold(to: SimMember, dg: Uint8Array, header: Header): void {
    if (to.heldBytes + dg.length > this.pauseBufferBytes) {
      this.overflowed++;
      return;
    }
    to.held.push({ dg, header });
    to.heldBytes += dg.length;
  }

  private resume(node: SimMember, untilMs: number): void {
    if (node.pausedUntilMs !== untilMs) return; // extended by a later pause()
    node.pausedUntilMs = undefined;
    const held = node.held.splice(0);
    node.heldBytes = 0;
    if (!node.running) return;
    node.timerAtMs = undefined;
    node.m.handleTimeout(this.nowMs);
    this.pump(node);
    for (const { dg, header } of held) {
      if (!node.running) break;
      node.m.handleDatagram(this.nowMs, dg, header);
      this.pump(node);
    }
  }

  private own(node: SimMember): SimMember {
    if (!this.nodes.includes(node)) throw new InvalidArgumentValueError(`unknown member '${String((node as SimMember | undefined)?.name)}': not of this simulation`);
    return node;
  }
}

function checkRate(name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new InvalidArgumentValueError(`${name} must be a number in 0..1, got ${String(v)}`);
  return v;
}

function checkMs(name: string, v: number): number {
  if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new InvalidArgumentValueError(`${name} must be a finite number ≥ 0, got ${String(v)}`);
  return v;
}
