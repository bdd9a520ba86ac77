/**
 * SWIM's failure detector (Das, Gupta, Motivala 2002, §4) on multicast:
 * every member heartbeats once per protocol period to the whole group, so
 * SWIM's round-robin pings are not needed to hear from a member; a member
 * silent past its threshold is probed — a direct PING, then, once the probe
 * timeout passes unacked, a PING_REQ asking k helpers to ping on our behalf.
 * The threshold is short for a member's watchers (its successors on the id
 * ring, chosen by the membership) and long for everyone else, so a thousand
 * members each losing a tenth of the heartbeats do not all probe. The other
 * side: acking pings of us and relaying acks for the indirect probes we help
 * with. Any datagram of the target counts as its ack, and an overheard probe
 * of a member defers our own probe of it. The member table and what a failed
 * probe leads to (suspicion, dissemination) belong to the membership
 * (membership.ts); datagrams leave through its `send`. Reads no clock, owns
 * no socket.
 */

import type { MembershipStats, ScaledTimers } from './api';
import { ControlKind, type ControlBody } from './codec';

/** A member table entry as the prober sees it; the prober writes only `lastProbedMs`. */
export interface ProbedMember {
  id: string;
  incarnation: number;
  state: 'alive' | 'suspect';
  /** Last datagram from the member itself. */
  lastHeardMs: number;
  /** Last probe of the member, ours or overheard. */
  lastProbedMs: number;
  /** In [0, 1): this member's share of half a period added to the silence threshold, so watchers do not all probe at once. */
  silenceJitter: number;
}

/** The membership counters the prober adds to. */
export type ProbeCounters = Pick<MembershipStats, 'pingsSent' | 'acksSent' | 'pingReqsSent' | 'acksRelayed' | 'probesFailed'>;

/** What the prober needs from the membership that runs it. */
export interface ProberHost<M extends ProbedMember> {
  /** Our own member id. */
  readonly selfId: string;
  /** The other members, owned and updated by the membership. */
  readonly table: ReadonlyMap<string, M>;
  /** k: helpers asked per indirect probe. */
  readonly indirectProbes: number;
  /** Uniform in [0, 1): targets, nonces, helpers and the round-robin order. */
  random(): number;
  /** The timers for the current group size. */
  timers(): ScaledTimers;
  /** Whether we are one of member `id`'s watchers at `nowMs` (short silence threshold). */
  watches(id: string, nowMs: number): boolean;
  /** Queues one CONTROL datagram to the group (the membership piggybacks updates on it). */
  send(body: ControlBody): void;
  /** A probe of `member` ended unacked while it was still alive at the probed incarnation. */
  probeFailed(nowMs: number, member: M): void;
  readonly counters: ProbeCounters;
}

interface Probe {
  target: string;
  nonce: number;
  incarnation: number;
  startMs: number;
  directDeadlineMs: number;
  endMs: number;
  acked: boolean;
  indirectSent: boolean;
}

interface Relay {
  requester: string;
  nonce: number;
  target: string;
  expiresMs: number;
}

/** Indirect probes relayed at once: a flood of PING_REQs naming us as a helper cannot grow memory past this. */
const MAX_RELAYS = 256;

/** Silence checks per protocol period when no probe is in flight. */
const CHECKS_PER_PERIOD = 4;

export class Prober<M extends ProbedMember> {
  private readonly relays = new Map<string, Relay>();
  private probe: Probe | undefined;
  private nextProbeMs = 0;

  constructor(private readonly host: ProberHost<M>) {}

  /** Indirect probes we are relaying for others (a gauge). */
  get pendingRelays(): number {
    return this.relays.size;
  }

  /** Schedules the first silence check at a random point of the first period, so members started together do not check together. */
  start(nowMs: number, t: ScaledTimers): void {
    this.nextProbeMs = nowMs + (this.host.random() * t.periodMs) / CHECKS_PER_PERIOD;
  }

  /** Forgets the probe in flight and the relays (we left the group). */
  clear(): void {
    this.probe = undefined;
    this.relays.clear();
  }

  /** Member `id` was removed from the table: a probe of it has nothing left to conclude. */
  removed(id: string): void {
    if (this.probe?.target === id) this.probe.acked = true;
  }

  /** A valid CONTROL datagram from member `sender`, after the membership has taken note of the sender. */
  handle(nowMs: number, sender: string, b: ControlBody): void {
    const { selfId, counters } = this.host;
    // Multicast: any datagram of the target after our ping proves it is alive.
    if (this.probe && this.probe.target === sender) this.probe.acked = true;
    switch (b.kind) {
      case ControlKind.PING:
        if (b.target === selfId) {
          this.host.send({ kind: ControlKind.ACK, requester: b.requester ?? sender, nonce: b.nonce, subject: selfId });
          counters.acksSent++;
        } else this.overheardProbe(nowMs, b.target);
        break;
      case ControlKind.PING_REQ:
        if (b.target === selfId) {
          // Probed indirectly: answer the requester ourselves, everyone hears it.
          this.host.send({ kind: ControlKind.ACK, requester: sender, nonce: b.nonce, subject: selfId });
          counters.acksSent++;
        } else {
          this.overheardProbe(nowMs, b.target);
          if (b.helpers.includes(selfId) && this.host.table.has(b.target)) this.relayProbe(nowMs, sender, b.target, b.nonce);
        }
        break;
      case ControlKind.ACK: {
        const p = this.probe;
        if (p && b.requester === selfId && b.nonce === p.nonce && b.subject === p.target) p.acked = true;
        const key = `${b.requester}:${b.nonce}`;
        const relay = this.relays.get(key);
        if (relay && sender === relay.target && b.subject === relay.target) {
          this.relays.delete(key);
          this.host.send({ kind: ControlKind.ACK, requester: relay.requester, nonce: relay.nonce, subject: relay.target });
          counters.acksRelayed++;
        }
        break;
      }
      default:
        break;
    }
  }

  /**
   * Sends the PING_REQ once the direct probe is overdue, ends the probe at the
   * end of its period (reporting a failure to the host) and forgets expired
   * relays. Starting the next probe is a separate step: startProbeIfDue.
   */
  handleTimeout(nowMs: number): void {
    for (const [key, r] of this.relays) if (nowMs >= r.expiresMs) this.relays.delete(key);
    const p = this.probe;
    if (!p) return;
    if (!p.acked && !p.indirectSent && nowMs >= p.directDeadlineMs) this.sendPingReq(p);
    if (nowMs >= p.endMs) {
      this.probe = undefined;
      this.nextProbeMs = p.endMs;
      if (!p.acked) this.probeFailed(nowMs, p);
    }
  }

  /** Starts the next probe if none is in flight and its time has come; the membership calls it after expiring suspicions, so the target is picked from the table as it now stands. */
  startProbeIfDue(nowMs: number, t: ScaledTimers): void {
    if (!this.probe && nowMs >= this.nextProbeMs) this.startProbe(nowMs, t);
  }

  /** When the prober next needs handleTimeout/startProbeIfDue. */
  nextDeadlineMs(): number {
    const p = this.probe;
    if (p) return p.acked || p.indirectSent ? p.endMs : p.directDeadlineMs;
    return this.nextProbeMs;
  }

  private overheardProbe(nowMs: number, target: string): void {
    const e = this.host.table.get(target);
    if (e) e.lastProbedMs = nowMs;
  }

  /** We are one of the k helpers of an indirect probe: ping the target on the requester's behalf. */
  private relayProbe(nowMs: number, requester: string, target: string, nonce: number): void {
    if (this.relays.size >= MAX_RELAYS) return;
    const t = this.host.timers();
    this.relays.set(`${requester}:${nonce}`, { requester, nonce, target, expiresMs: nowMs + t.probeMs });
    this.host.send({ kind: ControlKind.PING, target, nonce, requester });
    this.host.counters.pingsSent++;
  }

  private startProbe(nowMs: number, t: ScaledTimers): void {
    const target = this.pickTarget(nowMs, t);
    if (target === undefined) {
      this.nextProbeMs = nowMs + t.periodMs / CHECKS_PER_PERIOD;
      return;
    }
    const nonce = Math.floor(this.host.random() * 0x1_0000_0000) >>> 0;
    target.lastProbedMs = nowMs;
    this.probe = {
      target: target.id, nonce, incarnation: target.incarnation, startMs: nowMs,
      directDeadlineMs: nowMs + t.probeTimeoutMs, endMs: nowMs + t.probeMs, acked: false, indirectSent: false,
    };
    this.host.send({ kind: ControlKind.PING, target: target.id, nonce, requester: undefined });
    this.host.counters.pingsSent++;
  }

  /** The member silent longest past its threshold (short for the members we watch, long for the rest), if any. */
  private pickTarget(nowMs: number, t: ScaledTimers): M | undefined {
    let silent: M | undefined;
    let silentSinceMs = Infinity;
    const jitterMs = t.periodMs / 2;
    for (const e of this.host.table.values()) {
      if (e.state !== 'alive') continue;
      const since = Math.max(e.lastHeardMs, e.lastProbedMs);
      if (since >= silentSinceMs || nowMs - since <= t.silenceMs) continue;
      const thresholdMs = (this.host.watches(e.id, nowMs) ? t.silenceMs : t.backstopMs) + e.silenceJitter * jitterMs;
      if (nowMs - since > thresholdMs) {
        silent = e;
        silentSinceMs = since;
      }
    }
    return silent;
  }

  private sendPingReq(p: Probe): void {
    p.indirectSent = true;
    const candidates: string[] = [];
    for (const e of this.host.table.values()) if (e.state === 'alive' && e.id !== p.target) candidates.push(e.id);
    const helpers: string[] = [];
    const k = Math.min(this.host.indirectProbes, candidates.length);
    for (let i = 0; i < k; i++) {
      const j = i + Math.floor(this.host.random() * (candidates.length - i));
      [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
      helpers.push(candidates[i]!);
    }
    if (helpers.length === 0) return;
    this.host.send({ kind: ControlKind.PING_REQ, target: p.target, nonce: p.nonce, helpers });
    this.host.counters.pingReqsSent++;
  }

  private probeFailed(nowMs: number, p: Probe): void {
    this.host.counters.probesFailed++;
    const e = this.host.table.get(p.target);
    if (!e || e.state !== 'alive' || e.incarnation !== p.incarnation) return;
    this.host.probeFailed(nowMs, e);
  }
}
