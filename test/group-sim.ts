/**
 * A deterministic network simulator for the sans-IO membership core: N
 * cores on one multicast group, stepped through virtual time. Every datagram
 * sent is one flight delivered to every other running member at the same
 * instant (per-delivery seeded loss; partitions by side number). Timers and
 * flights share one time-ordered heap; stale timers are skipped by value, as
 * foca does. Nothing touches a socket or a clock.
 */

import { createMembership } from '../src/group/membership';
import type { Membership, MembershipEventType, MembershipTuning } from '../src/group/api';
import { decodeHeader } from '../src/wire/decode';
import { type Header } from '../src/wire/header';
import { Heap } from '../src/util/heap';

export { seededRandom } from './helpers/seeded';
import { seededRandom } from './helpers/seeded';

export interface GroupEvent {
  atMs: number;
  type: MembershipEventType;
  /** Member id (16 hex digits) the event is about. */
  id: string;
}

export interface GroupNode {
  readonly name: string;
  readonly id: string;
  readonly m: Membership;
  /** False after kill(): no timers, no input, nothing sent (kill -9). */
  running: boolean;
  /** Members only hear members on the same side. */
  side: number;
  readonly events: GroupEvent[];
  /** Replaces event recording (the bench counts instead of storing). */
  onEvent?: (e: GroupEvent) => void;
  timerAtMs: number | undefined;
  readonly joinedAtMs: number;
}

interface Flight {
  atMs: number;
  /** A datagram from `from`, or (when undefined) `node`'s timer. */
  dg: Uint8Array | undefined;
  header: Header | undefined;
  from: GroupNode | undefined;
  node: GroupNode | undefined;
  action: (() => void) | undefined;
  /** For a timer: the deadline the core asked for when it was armed. */
  timerMs?: number;
}


export interface GroupSimOptions {
  seed: number;
  /** Probability that one delivery (sender → one receiver) is lost. */
  loss?: number;
  /** One-way delay, plus a uniform jitter drawn per datagram. */
  delayMs?: number;
  jitterMs?: number;
  tuning?: Partial<MembershipTuning>;
}

export class GroupSim {
  nowMs = 0;
  readonly nodes: GroupNode[] = [];
  readonly rng: () => number;
  loss: number;
  private readonly delayMs: number;
  private readonly jitterMs: number;
  /** Ties in time go in the order they were pushed. */
  private readonly heap = new Heap<Flight>();
  /** Deliveries made and lost (all members). */
  delivered = 0;
  lost = 0;

  constructor(private readonly opts: GroupSimOptions) {
    this.rng = seededRandom(opts.seed);
    this.loss = opts.loss ?? 0;
    this.delayMs = opts.delayMs ?? 0.5;
    this.jitterMs = opts.jitterMs ?? 0.5;
  }

  /** Creates a member and joins it now. */
  add(name: string, metadata: Record<string, string> = {}): GroupNode {
    const random = seededRandom(Math.floor(this.rng() * 2 ** 32));
    let hi = 0;
    let lo = 0;
    while (hi === 0 && lo === 0) {
      hi = Math.floor(random() * 2 ** 32) >>> 0;
      lo = Math.floor(random() * 2 ** 32) >>> 0;
    }
    const m = createMembership({ sessionHi: hi, sessionLo: lo, name, metadata, random }, this.opts.tuning ?? {});
    const node: GroupNode = {
      name, id: hi.toString(16).padStart(8, '0') + lo.toString(16).padStart(8, '0'), m,
      running: true, side: 0, events: [], timerAtMs: undefined, joinedAtMs: this.nowMs,
    };
    this.nodes.push(node);
    m.join(this.nowMs);
    this.pump(node);
    return node;
  }

  /** Stops a member without leaving (kill -9). */
  kill(node: GroupNode): void {
    node.running = false;
  }

  leave(node: GroupNode): void {
    node.m.leave(this.nowMs);
    this.pump(node);
    node.running = false;
  }

  /** Runs `fn` at virtual time `atMs`. */
  at(atMs: number, fn: () => void): void {
    this.heap.push(atMs, { atMs, dg: undefined, header: undefined, from: undefined, node: undefined, action: fn });
  }

  /** Drains a member's transmissions and events and re-arms its timer. */
  pump(node: GroupNode): void {
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
      this.heap.push(Math.max(t, this.nowMs), { atMs: Math.max(t, this.nowMs), dg: undefined, header: undefined, from: undefined, node, action: undefined, timerMs: t });
    } else if (t === undefined) node.timerAtMs = undefined;
  }

  private transmit(from: GroupNode, dg: Uint8Array): void {
    const d = decodeHeader(dg);
    if (!d.ok) throw new Error(`member ${from.name} emitted an undecodable datagram: ${d.reason}`);
    const atMs = this.nowMs + this.delayMs + (this.jitterMs > 0 ? this.rng() * this.jitterMs : 0);
    this.heap.push(atMs, { atMs, dg, header: d.header, from, node: undefined, action: undefined });
  }

  /** Advances virtual time to `untilMs`, delivering datagrams and firing timers in order. */
  runUntil(untilMs: number): void {
    for (;;) {
      const f = this.heap.peek();
      if (!f || f.atMs > untilMs) {
        this.nowMs = Math.max(this.nowMs, untilMs);
        return;
      }
      this.heap.pop();
      this.nowMs = Math.max(this.nowMs, f.atMs);
      if (f.action) {
        f.action();
      } else if (f.node) {
        const n = f.node;
        // A timer value the core no longer asks for is stale: skip it.
        if (!n.running || n.timerAtMs !== f.timerMs) continue;
        n.timerAtMs = undefined;
        n.m.handleTimeout(this.nowMs);
        this.pump(n);
      } else {
        const from = f.from!;
        for (const to of this.nodes) {
          if (to === from || !to.running || to.side !== from.side) continue;
          if (this.loss > 0 && this.rng() < this.loss) {
            this.lost++;
            continue;
          }
          this.delivered++;
          to.m.handleDatagram(this.nowMs, f.dg!, f.header!);
          this.pump(to);
        }
      }
    }
  }

  run(ms: number): void {
    this.runUntil(this.nowMs + ms);
  }

  /** Runs until `notDone()` is false (checked every `stepMs`) or `maxMs` passes; returns whether it finished. */
  runWhile(notDone: () => boolean, maxMs: number, stepMs = 10): boolean {
    const end = this.nowMs + maxMs;
    while (notDone()) {
      if (this.nowMs >= end) return false;
      this.runUntil(Math.min(end, this.nowMs + stepMs));
    }
    return true;
  }

  running(): GroupNode[] {
    return this.nodes.filter((n) => n.running);
  }

  /** Every running member knows exactly the running members of its side (and none suspect). */
  converged(): boolean {
    const live = this.running();
    for (const n of live) {
      const expected = live.filter((o) => o.side === n.side).length;
      const ms = n.m.members();
      if (ms.length !== expected || ms.some((x) => x.state !== 'alive')) return false;
    }
    return true;
  }

  /** Cheaper check for big groups: every running member's table holds exactly the other running members of its side. */
  sizesConverged(): boolean {
    const perSide = new Map<number, number>();
    for (const n of this.nodes) if (n.running) perSide.set(n.side, (perSide.get(n.side) ?? 0) + 1);
    for (const n of this.nodes) if (n.running && n.m.stats().members !== perSide.get(n.side)! - 1) return false;
    return true;
  }
}
