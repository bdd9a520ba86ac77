/**
 * Membership statistics of a {@link Simulation}: for every change of the
 * simulated group (a member joined, crashed or closed, a partition, a heal)
 * how long until every live member's table was right again; for every
 * crashed member how long until the others declared it dead; and the deaths
 * and suspicions of members that were alive all along.
 */

import type { MemoryNetwork } from '../index';
import type { SimChannel } from './simulation';

/** One change of the group, or several in a row before the tables settled. */
export interface ConvergenceEpisode {
  /** What changed, in order: 'b joined', 'c crashed', 'c closed', 'partition a | b,c', 'heal'. */
  causes: string[];
  /** Virtual time of the first and of the last change, ms. */
  startMs: number;
  lastChangeMs: number;
  /** From the last change until every live member knew exactly the live members it can reach, all alive, ms; null until then. */
  convergedMs: number | null;
}

/** How the group noticed one crashed member. */
export interface FailureDetection {
  host: string;
  /** The crashed member's id (its channel's session id). */
  id: string;
  crashedAtMs: number;
  /** Members that knew it at the crash, still open and able to reach its host: the ones that should declare it dead. */
  expected: number;
  /** How many of them did. */
  declared: number;
  /** Crash → first and last `dead` event about it, ms; null before the first. */
  firstMs: number | null;
  lastMs: number | null;
}

export interface SimMembershipStats {
  convergence: ConvergenceEpisode[];
  detections: FailureDetection[];
  /** `dead` events about a member that was open and reachable: a false positive (a pause longer than the suspicion timeout makes one). */
  falseDeaths: number;
  /**
   * `dead` events about a member across a partition — expected: the other side cannot tell a partition from a crash —
   * or between a heal and the reunion (the other side's verdicts, gossiped, can reach a member before the refutation does).
   */
  partitionDeaths: number;
  /** `suspect` events about a member that was open (refuted or not). */
  suspicions: number;
}

interface Declaration {
  observer: SimChannel;
  atMs: number;
}

/** @internal kept by a Simulation; fed its member channels and faults */
export class ConvergenceTracker {
  private readonly members: SimChannel[] = [];
  private readonly bySession = new Map<string, SimChannel>();
  private readonly partitions: Array<[ReadonlySet<string>, ReadonlySet<string>]> = [];
  private readonly episodes: ConvergenceEpisode[] = [];
  private readonly deaths = new Map<SimChannel, Declaration[]>();
  /** For each crashed member, the members that had it in their table at the crash. */
  private readonly witnesses = new Map<SimChannel, SimChannel[]>();
  private falseDeaths = 0;
  private partitionDeaths = 0;
  private suspicions = 0;
  /** From heal() until the tables are whole again. */
  private healing = false;

  constructor(private readonly network: MemoryNetwork) {}

  add(sc: SimChannel, cause: string): void {
    const group = sc.channel.group!;
    this.members.push(sc);
    this.bySession.set(sc.channel.info.sessionId, sc);
    group.on('dead', (m) => this.declared(sc, m.id));
    group.on('suspect', (m) => {
      if (this.bySession.get(m.id)?.state === 'open') this.suspicions++;
    });
    this.change(cause);
  }

  crashed(sc: SimChannel): void {
    if (!sc.channel.group) return;
    const id = sc.channel.info.sessionId;
    this.witnesses.set(sc, this.members.filter((o) => o.state === 'open' && o.channel.group!.members().some((m) => m.id === id)));
    this.change(`${sc.host.name} crashed`);
  }

  closed(sc: SimChannel): void {
    if (sc.channel.group) this.change(`${sc.host.name} closed`);
  }

  partition(a: string[], b: string[]): void {
    this.partitions.push([new Set(a), new Set(b)]);
    this.change(`partition ${a.join(',')} | ${b.join(',')}`);
  }

  heal(): void {
    this.partitions.length = 0;
    this.healing = true;
    this.change('heal');
  }

  /** After each step: closes the open episode once the tables are right. */
  check(): void {
    const open = this.episodes.at(-1);
    if (open && open.convergedMs === null && this.converged()) {
      open.convergedMs = this.network.nowMs() - open.lastChangeMs;
      this.healing = false;
    }
  }

  converged(): boolean {
    const live = this.members.filter((m) => m.state === 'open');
    for (const x of live) {
      const expected = live.filter((y) => !this.separated(x, y));
      const table = x.channel.group!.members();
      if (table.length !== expected.length || table.some((m) => m.state !== 'alive')) return false;
      const ids = new Set(table.map((m) => m.id));
      if (expected.some((y) => !ids.has(y.channel.info.sessionId))) return false;
    }
    return true;
  }

  stats(): SimMembershipStats {
    const detections: FailureDetection[] = [];
    for (const victim of this.members) {
      if (victim.crashedAtMs === undefined) continue;
      const crashedAtMs = victim.crashedAtMs;
      const shouldDeclare = (this.witnesses.get(victim) ?? []).filter((o) => o.state === 'open' && !this.separated(o, victim));
      const list = (this.deaths.get(victim) ?? []).filter((d) => shouldDeclare.includes(d.observer));
      const times = list.map((d) => d.atMs - crashedAtMs);
      detections.push({
        host: victim.host.name,
        id: victim.channel.info.sessionId,
        crashedAtMs,
        expected: shouldDeclare.length,
        declared: new Set(list.map((d) => d.observer)).size,
        firstMs: times.length ? Math.min(...times) : null,
        lastMs: times.length ? Math.max(...times) : null,
      });
    }
    return {
      convergence: this.episodes.map((e) => ({ ...e, causes: [...e.causes] })),
      detections,
      falseDeaths: this.falseDeaths,
      partitionDeaths: this.partitionDeaths,
      suspicions: this.suspicions,
    };
  }

  private declared(observer: SimChannel, id: string): void {
    const subject = this.bySession.get(id);
    if (!subject) return;
    if (subject.state === 'crashed') {
      const list = this.deaths.get(subject) ?? [];
      list.push({ observer, atMs: this.network.nowMs() });
      this.deaths.set(subject, list);
    } else if (subject.state === 'open') {
      if (this.healing || this.separated(observer, subject)) this.partitionDeaths++;
      else this.falseDeaths++;
    }
  }

  private change(cause: string): void {
    const nowMs = this.network.nowMs();
    const open = this.episodes.at(-1);
    if (open && open.convergedMs === null) {
      open.causes.push(cause);
      open.lastChangeMs = nowMs;
    } else {
      this.episodes.push({ causes: [cause], startMs: nowMs, lastChangeMs: nowMs, convergedMs: null });
    }
  }

  private separated(x: SimChannel, y: SimChannel): boolean {
    const a = x.host.name;
    const b = y.host.name;
    return this.partitions.some(([p, q]) => (p.has(a) && q.has(b)) || (q.has(a) && p.has(b)));
  }
}
