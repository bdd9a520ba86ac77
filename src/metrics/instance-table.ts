/**
 * A collector's table of instances: the latest snapshot of each publisher
 * session, and which of them to serve now, under which labels. No clock and no
 * socket: the collector passes `nowMs` and the group's member list in.
 *
 * Served: the sessions that are members of the group now (alive or suspect)
 * and whose last snapshot is younger than {@link STALE_INTERVALS} of their own
 * interval. A member that leaves or is declared dead is forgotten at once
 * (forget()); one that stops publishing, after three intervals.
 *
 * Labels: `instance` is the member's name when no other served instance has
 * that name; names that are empty or shared are replaced, on every instance
 * that shares them, by `host:pid` from the member's metadata, and where that
 * is missing or still shared, by the session id. The rule depends only on the
 * served set, so two collectors that hold the same snapshots label them alike.
 * `job` is the member's metadata `job`, else the collector's.
 */

import type { MemberInfo } from '../index';
import { STALE_INTERVALS } from './constants';
import type { MetricsSnapshot, WireMetric } from './format';

/** One instance as served. */
export interface LiveInstance {
  /** The publisher's session id (= its member id). */
  session: string;
  instance: string;
  job: string;
  metrics: readonly WireMetric[];
}

interface Held {
  snapshot: MetricsSnapshot;
  receivedMs: number;
}

export class InstanceTable {
  private readonly held = new Map<string, Held>();

  constructor(private readonly defaultJob: string) {}

  /** Keeps `snapshot` as the latest of `session`, received at `nowMs`. */
  store(nowMs: number, session: string, snapshot: MetricsSnapshot): void {
    this.held.set(session, { snapshot, receivedMs: nowMs });
  }

  /** Forgets a session (its member left or died). True when it was held. */
  forget(session: string): boolean {
    return this.held.delete(session);
  }

  /** Forgets the stale sessions; returns how many. */
  expire(nowMs: number): number {
    let expired = 0;
    for (const [session, h] of this.held) {
      if (isStale(nowMs, h)) {
        this.held.delete(session);
        expired++;
      }
    }
    return expired;
  }

  /** Sessions held (fresh or not yet expired, members or not yet known). */
  get size(): number {
    return this.held.size;
  }

  /** The instances to serve now, sorted by instance label (then session): the order of the exposition. */
  live(nowMs: number, members: readonly MemberInfo[]): LiveInstance[] {
    const served: { member: MemberInfo; held: Held }[] = [];
    for (const member of members) {
      const held = this.held.get(member.id);
      if (held !== undefined && !isStale(nowMs, held)) served.push({ member, held });
    }
    const labels = instanceLabels(served.map((s) => s.member));
    return served
      .map(({ member, held }, i) => ({ session: member.id, instance: labels[i]!, job: member.metadata.job ?? this.defaultJob, metrics: held.snapshot.metrics }))
      .sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : a.session < b.session ? -1 : 1));
  }
}

function isStale(nowMs: number, held: Held): boolean {
  return nowMs - held.receivedMs > STALE_INTERVALS * held.snapshot.intervalMs;
}

/** The `instance` label of each member, in the same order (the rule in the file comment). */
export function instanceLabels(members: readonly MemberInfo[]): string[] {
  const byName = countBy(members.map((m) => m.name));
  const first = members.map((m) => {
    if (m.name !== '' && byName.get(m.name) === 1) return m.name;
    const { host, pid } = m.metadata;
    return host !== undefined && host !== '' && pid !== undefined && pid !== '' ? `${host}:${pid}` : m.id;
  });
  const byLabel = countBy(first);
  return first.map((label, i) => (byLabel.get(label) === 1 ? label : members[i]!.id));
}

function countBy(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return counts;
}
