/**
 * The requesting side: request() to one server, gather() to all of them.
 *
 * A request goes to one live server of the subject, chosen by rendezvous
 * hashing: every server gets the score `hash(requester id / number / server
 * id)` and the highest is asked first, the next one on failover. Servers need
 * not coordinate, load spreads evenly (request numbers differ), and anyone can
 * tell who was responsible for a request. The next server gets the request
 * when the one asked dies or leaves (the group says so), answers "overloaded"
 * or "not served", or does not answer within the attempt timeout; a late
 * answer of an earlier server is still taken if it comes first.
 */

import { MessageType, ReplyStatus, type BusMessage } from './codec';
import { onAbort, stoppedError, Timer, type BusContext } from './context';
import { BusTimeoutError, NoServerError, RemoteError } from './errors';
import { score } from './payload';
import type { GoneReason } from './peers';
import type { BusPeer, BusReply, Gather, GatherMissReason, GatherSummary } from './types';

type ReplyMessage = Extract<BusMessage, { type: MessageType.Reply }>;

/** The servers of a subject, this member included when it serves it. */
export type ServerList = (subject: string) => BusPeer[];

/** First wait before asking again servers that were all overloaded, ms; doubles up to OVERLOAD_RETRY_MAX_MS. */
export const OVERLOAD_RETRY_MS = 20;
const OVERLOAD_RETRY_MAX_MS = 500;

export class Requester {
  private nextNumber = 1;
  private readonly requests = new Map<number, PendingRequest>();
  private readonly gathers = new Map<number, GatherRun>();

  constructor(private readonly ctx: BusContext, private readonly servers: ServerList) {}

  request(subject: string, data: Buffer, timeoutMs: number, attemptTimeoutMs: number, signal: AbortSignal | undefined): Promise<BusReply> {
    const number = this.nextNumber++;
    return new Promise<BusReply>((resolve, reject) => {
      const p = new PendingRequest(this.ctx, this.servers, number, subject, data, timeoutMs, attemptTimeoutMs, signal, resolve, reject, () => this.requests.delete(number));
      this.requests.set(number, p);
      p.start();
    });
  }

  gather(subject: string, data: Buffer, expect: 'members' | number, deadlineMs: number, signal: AbortSignal | undefined): Gather {
    const number = this.nextNumber++;
    const run = new GatherRun(this.ctx, this.servers, number, subject, data, expect, deadlineMs, signal, () => this.gathers.delete(number));
    this.gathers.set(number, run);
    run.start();
    return run;
  }

  onReply(from: string, m: ReplyMessage): void {
    const handled = m.gather ? this.gathers.get(m.number)?.onReply(from, m) : this.requests.get(m.number)?.onReply(from, m);
    if (handled === true) this.ctx.counters.repliesReceived++;
    else this.ctx.counters.repliesLate++;
  }

  onPeerGone(id: string, reason: GoneReason): void {
    for (const p of [...this.requests.values()]) p.onPeerGone(id);
    for (const g of [...this.gathers.values()]) g.onPeerGone(id, reason);
  }

  /** The bus closed: every pending call rejects (gathers end 'aborted'). */
  closeAll(): void {
    for (const p of [...this.requests.values()]) p.stop();
    for (const g of [...this.gathers.values()]) g.finish('aborted');
  }
}

class PendingRequest {
  private readonly tried: BusPeer[] = [];
  /** Servers not to ask (again): asked, and not (yet) forgiven for an "overloaded". */
  private readonly excluded = new Set<string>();
  /** Servers that answered "overloaded": asked again after OVERLOAD_RETRY_MS (doubling) when nobody else is left. */
  private readonly overloaded = new Set<string>();
  private overloadRetryMs = OVERLOAD_RETRY_MS;
  private readonly overloadRetry: Timer;
  /** Servers asked that may still answer. */
  private readonly outstanding = new Set<string>();
  private readonly deadline: Timer;
  private readonly attemptTimer: Timer;
  private readonly offAbort: () => void;
  private waitingForPeers = false;
  private done = false;

  constructor(
    private readonly ctx: BusContext,
    private readonly servers: ServerList,
    private readonly number: number,
    private readonly subject: string,
    private readonly data: Buffer,
    private readonly timeoutMs: number,
    private readonly attemptTimeoutMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly resolve: (r: BusReply) => void,
    private readonly reject: (e: Error) => void,
    private readonly forget: () => void,
  ) {
    this.deadline = new Timer(ctx.scheduler, () => this.settle(new BusTimeoutError(subject, timeoutMs, this.tried)));
    this.attemptTimer = new Timer(ctx.scheduler, () => this.next());
    this.overloadRetry = new Timer(ctx.scheduler, () => {
      for (const id of this.overloaded) this.excluded.delete(id);
      this.overloaded.clear();
      this.overloadRetryMs = Math.min(this.overloadRetryMs * 2, OVERLOAD_RETRY_MAX_MS);
      this.next();
    });
    this.offAbort = onAbort(signal, () => this.stop());
  }

  start(): void {
    if (this.signal?.aborted === true || this.ctx.closed.aborted) return this.stop();
    this.deadline.set(this.timeoutMs);
    this.next();
  }

  /** Asks the best-ranked server not asked yet; or waits for one. */
  private next(): void {
    if (this.done) return;
    const asked = this.excluded;
    const all = this.servers(this.subject);
    let best: BusPeer | undefined;
    let bestScore = -1;
    for (const p of all) {
      if (asked.has(p.id)) continue;
      const s = score(`${this.ctx.self.id}/${this.number}/${p.id}`);
      if (s > bestScore) {
        best = p;
        bestScore = s;
      }
    }
    if (best !== undefined) {
      if (this.tried.length > 0) this.ctx.counters.requestsFailedOver++;
      this.tried.push(best);
      this.excluded.add(best.id);
      this.outstanding.add(best.id);
      this.ctx.counters.requestsSent++;
      this.ctx.send({ type: MessageType.Request, target: best.id, number: this.number, attempt: Math.min(this.tried.length, 255), subject: this.subject, data: this.data });
      this.attemptTimer.set(this.attemptTimeoutMs);
      return;
    }
    if (this.outstanding.size > 0) return; // a server asked may still answer
    if (this.overloaded.size > 0) {
      // Everybody left was busy: ask them again in a while (before the deadline says no).
      if (!this.overloadRetry.pending) this.overloadRetry.set(this.overloadRetryMs);
      return;
    }
    if (all.length === 0 && this.ctx.scheduler.nowMs() >= this.ctx.discoveredAtMs) {
      return this.settle(new NoServerError(this.subject));
    }
    this.waitForPeers();
  }

  /** Nobody left to ask: try again at the next change of the peer table, or when discovery ends. */
  private waitForPeers(): void {
    if (this.waitingForPeers) return;
    this.waitingForPeers = true;
    const wake = (): void => {
      this.waitingForPeers = false;
      discovery.clear();
      this.next();
    };
    const discovery = new Timer(this.ctx.scheduler, wake);
    const left = this.ctx.discoveredAtMs - this.ctx.scheduler.nowMs();
    if (left > 0) discovery.set(left);
    void this.ctx.peers.nextChange().then(() => {
      if (this.waitingForPeers) wake();
    });
  }

  onReply(from: string, m: ReplyMessage): boolean {
    if (this.done || !this.outstanding.has(from)) return false;
    this.outstanding.delete(from);
    const peer = this.ctx.peerOf(from);
    switch (m.status) {
      case ReplyStatus.Ok:
        this.settle(undefined, { data: m.data, from: peer, attempt: m.attempt });
        return true;
      case ReplyStatus.Error:
        this.settle(new RemoteError(this.subject, peer, m.data.toString('utf8')));
        return true;
      default:
        // Overloaded, or it stopped serving the subject: the next server, now.
        if (m.status === ReplyStatus.Overloaded) this.overloaded.add(from);
        this.next();
        return true;
    }
  }

  onPeerGone(id: string): void {
    if (this.done || !this.outstanding.delete(id)) return;
    if (this.outstanding.size === 0) this.next();
  }

  stop(): void {
    this.settle(stoppedError(this.ctx, this.signal));
  }

  private settle(err: Error | undefined, reply?: BusReply): void {
    if (this.done) return;
    this.done = true;
    this.waitingForPeers = false;
    this.deadline.clear();
    this.attemptTimer.clear();
    this.overloadRetry.clear();
    this.offAbort();
    this.forget();
    if (err !== undefined) this.reject(err);
    else this.resolve(reply!);
  }
}

class GatherRun implements Gather {
  readonly summary: Promise<GatherSummary>;
  private resolveSummary!: (s: GatherSummary) => void;
  private readonly startMs: number;
  private readonly expected = new Map<string, BusPeer>();
  private readonly waiting = new Set<string>();
  private readonly replied: BusPeer[] = [];
  private readonly missing: GatherSummary['missing'] = [];
  private readonly buffered: BusReply[] = [];
  private wakeReader: (() => void) | undefined;
  private readonly deadline: Timer;
  private readonly discovery: Timer;
  private readonly offAbort: () => void;
  private sent = false;
  private ended: GatherSummary['ended'] | undefined;

  constructor(
    private readonly ctx: BusContext,
    private readonly servers: ServerList,
    private readonly number: number,
    private readonly subject: string,
    private readonly data: Buffer,
    private readonly expect: 'members' | number,
    private readonly deadlineMs: number,
    private readonly signal: AbortSignal | undefined,
    private readonly forget: () => void,
  ) {
    this.startMs = ctx.scheduler.nowMs();
    this.summary = new Promise((resolve) => (this.resolveSummary = resolve));
    this.deadline = new Timer(ctx.scheduler, () => this.finish('deadline'));
    this.discovery = new Timer(ctx.scheduler, () => this.send());
    this.offAbort = onAbort(signal, () => this.finish('aborted'));
  }

  start(): void {
    if (this.signal?.aborted === true || this.ctx.closed.aborted) return this.finish('aborted');
    this.deadline.set(this.deadlineMs);
    // 'members' means the whole membership: wait for discovery to be over first.
    const left = this.ctx.discoveredAtMs - this.ctx.scheduler.nowMs();
    if (left > 0 && (this.expect === 'members' || this.servers(this.subject).length < this.expect)) this.discovery.set(left);
    else this.send();
  }

  private send(): void {
    if (this.ended !== undefined) return;
    this.sent = true;
    for (const p of this.servers(this.subject)) {
      this.expected.set(p.id, p);
      this.waiting.add(p.id);
    }
    this.ctx.counters.gathersSent++;
    this.ctx.send({ type: MessageType.Gather, number: this.number, subject: this.subject, data: this.data });
    this.check();
  }

  onReply(from: string, m: ReplyMessage): boolean {
    if (this.ended !== undefined || !this.sent) return false;
    const peer = this.expected.get(from) ?? this.ctx.peerOf(from);
    if (this.replied.some((p) => p.id === from) || this.missing.some((x) => x.member.id === from)) return false;
    this.waiting.delete(from);
    if (m.status === ReplyStatus.Ok) {
      this.replied.push(peer);
      this.buffered.push({ data: m.data, from: peer, attempt: 1 });
      this.wake();
    } else if (this.expected.has(from)) {
      const message = m.status === ReplyStatus.Error ? m.data.toString('utf8') : m.status === ReplyStatus.Overloaded ? 'overloaded' : 'not served';
      this.missing.push({ member: peer, reason: 'error', message });
    }
    this.check();
    return true;
  }

  onPeerGone(id: string, reason: GoneReason): void {
    if (this.ended !== undefined || !this.waiting.delete(id)) return;
    this.missing.push({ member: this.expected.get(id)!, reason });
    this.check();
  }

  private check(): void {
    if (!this.sent) return;
    if (typeof this.expect === 'number' ? this.replied.length >= this.expect : this.waiting.size === 0) this.finish('complete');
  }

  finish(ended: GatherSummary['ended']): void {
    if (this.ended !== undefined) return;
    this.ended = ended;
    this.deadline.clear();
    this.discovery.clear();
    this.offAbort();
    this.forget();
    if (ended !== 'complete') {
      const reason: GatherMissReason = 'timeout';
      for (const id of this.waiting) this.missing.push({ member: this.expected.get(id)!, reason });
    }
    this.waiting.clear();
    this.resolveSummary({
      expected: [...this.expected.values()],
      replied: this.replied,
      missing: this.missing,
      ended,
      durationMs: this.ctx.scheduler.nowMs() - this.startMs,
    });
    this.wake();
  }

  private wake(): void {
    const w = this.wakeReader;
    this.wakeReader = undefined;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<BusReply> {
    for (;;) {
      const next = this.buffered.shift();
      if (next !== undefined) {
        yield next;
        continue;
      }
      if (this.ended !== undefined) return;
      await new Promise<void>((resolve) => (this.wakeReader = resolve));
    }
  }
}
