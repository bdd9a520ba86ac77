/**
 * Who serves what: the bus members this one knows, from two sources that must
 * agree before a member is asked for anything — the group's membership (is it
 * alive?) and the member's own ANNOUNCE on the bus stream (what does it serve
 * and work?). A member is routable once both have spoken and until the group
 * says it died or left.
 */

import type { MemberInfo } from '../index';
import type { BusPeer } from './types';

/** Member metadata `role` of a bus member; the bus paces to these only. */
export const BUS_ROLE = 'bus-member';

export function isBusMember(m: MemberInfo): boolean {
  return m.metadata.role === BUS_ROLE;
}

interface PeerState {
  peer: BusPeer;
  /** In the group's member table (alive or suspect). */
  live: boolean;
  /** undefined until its first ANNOUNCE. */
  version: number | undefined;
  subjects: Set<string>;
  queues: Map<string, number>;
}

export type GoneReason = 'dead' | 'left';

export class PeerTable {
  private readonly states = new Map<string, PeerState>();
  private waiters: (() => void)[] = [];

  constructor(private readonly selfId: string) {}

  private state(id: string, name: string): PeerState {
    let s = this.states.get(id);
    if (s === undefined) {
      s = { peer: { id, name }, live: false, version: undefined, subjects: new Set(), queues: new Map() };
      this.states.set(id, s);
    }
    return s;
  }

  /** The group says `m` is a member (join, or in members() at start). */
  joined(m: MemberInfo): void {
    if (m.id === this.selfId) return;
    const s = this.state(m.id, m.name);
    s.live = true;
    this.changed();
  }

  /** The group says `id` died or left: forgotten (a member that comes back announces again). True when it was known. */
  gone(id: string): boolean {
    const known = this.states.delete(id);
    if (known) this.changed();
    return known;
  }

  /** Its ANNOUNCE: replaces what it serves and works, unless older than what we hold. */
  announced(id: string, name: string, version: number, subjects: string[], queues: { queue: string; capacity: number }[]): void {
    if (id === this.selfId) return;
    const s = this.state(id, name);
    if (s.version !== undefined && version <= s.version) return;
    s.peer.name = name;
    s.version = version;
    s.subjects = new Set(subjects);
    s.queues = new Map(queues.map((q) => [q.queue, q.capacity]));
    this.changed();
  }

  get(id: string): BusPeer | undefined {
    return this.states.get(id)?.peer;
  }

  /** Live bus members whose ANNOUNCE we lack (to ask with HELLO). */
  unannounced(): string[] {
    const out: string[] = [];
    for (const [id, s] of this.states) if (s.live && s.version === undefined) out.push(id);
    return out;
  }

  /** Live, announced members serving `subject`. */
  servers(subject: string): BusPeer[] {
    const out: BusPeer[] = [];
    for (const s of this.states.values()) if (s.live && s.subjects.has(subject)) out.push(s.peer);
    return out;
  }

  /** Live, announced members working `queue`. */
  workers(queue: string): BusPeer[] {
    const out: BusPeer[] = [];
    for (const s of this.states.values()) if (s.live && s.queues.has(queue)) out.push(s.peer);
    return out;
  }

  /** Resolves at the next change of the table (a join, an announce, a departure). */
  nextChange(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private changed(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }
}
