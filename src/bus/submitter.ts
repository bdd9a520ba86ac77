/**
 * The submitting side of task acquisition (a contract net):
 *
 * 1. OFFER: this member tells the group it has tasks waiting on a queue (once
 *    when the queue's backlog becomes non-empty, again every OFFER_REPEAT_MS
 *    while tasks wait and nothing was awarded, and when a new worker of the
 *    queue announces itself). Offers carry a count, never the tasks: workers
 *    hold one entry per submitter and queue, whatever the backlog.
 * 2. BID: a worker with free capacity bids it (its share of it, when several
 *    submitters have work) — a BID message, or a field of its RESULT.
 * 3. AWARD: this member hands the bidder up to that many waiting tasks, oldest
 *    first, with their payloads and lease. Fewer than the bid means "nothing
 *    more for you": the worker waits for the next OFFER.
 * 4. The worker RENEWs its leases every third of leaseMs while it works, and
 *    sends the RESULT. An attempt whose lease lapses, whose worker dies or
 *    leaves, or that the worker REFUSEs (it had no room) is superseded: the
 *    task goes back to the head of the backlog and is offered again. A lapsed
 *    worker is told to stop (CANCEL).
 *
 * Exactly one result is accepted per task (per replica): a RESULT counts only
 * for the attempt that holds the task now; a superseded attempt's result is
 * discarded and counted (`resultsLate`). Execution is at least once: a worker
 * that stalls past its lease and then finishes has run the task too.
 */

import { MessageType, type AwardedTask, type BusMessage } from './codec';
import { onAbort, stoppedError, Timer, type BusContext } from './context';
import { ReconcileError, TaskFailedError } from './errors';
import { answerBytes, errorMessage } from './payload';
import type { BusPeer, ReplicaResult, SubmitOptions, TaskResult } from './types';

/** How often an offer is repeated while tasks wait and nothing is awarded, ms. */
export const OFFER_REPEAT_MS = 500;
/** Most tasks in one AWARD (a bid of more gets several awards' worth over its next bids). */
const MAX_AWARD_TASKS = 256;
/** Payload bytes one AWARD carries at most, beyond its first task. */
const MAX_AWARD_BYTES = 256 * 1024;

type Msg<T extends MessageType> = Extract<BusMessage, { type: T }>;

interface ActiveAttempt {
  run: TaskRun;
  attempt: number;
  worker: string;
  expiresAtMs: number;
}

class TaskRun {
  attempts = 0;
  /** Entries of this task in its queue's backlog (replicas not yet awarded). */
  queued = 0;
  readonly active = new Map<number, ActiveAttempt>();
  readonly results: ReplicaResult[] = [];
  readonly failures: { worker: BusPeer; message: string }[] = [];
  done = false;
  offAbort: () => void = () => undefined;
  constructor(
    readonly number: number,
    readonly queue: string,
    readonly data: Buffer,
    readonly replicas: number,
    readonly leaseMs: number,
    readonly maxFailures: number,
    readonly reconcile: SubmitOptions['reconcile'],
    readonly signal: AbortSignal | undefined,
    readonly resolve: (r: TaskResult) => void,
    readonly reject: (e: Error) => void,
  ) {}

  /** A worker may take (another replica of) this task: it holds none and gave none of its results. */
  accepts(worker: string): boolean {
    if (this.replicas === 1) return true;
    for (const a of this.active.values()) if (a.worker === worker) return false;
    return !this.results.some((r) => r.worker.id === worker);
  }
}

/** A queue's backlog: task numbers, one entry per replica waiting, oldest first. */
class Backlog {
  private items: TaskRun[] = [];
  private head = 0;
  offered = false;
  lastAwardMs = 0;
  get length(): number {
    return this.items.length - this.head;
  }
  push(run: TaskRun): void {
    this.items.push(run);
  }
  unshift(run: TaskRun): void {
    if (this.head > 0) this.items[--this.head] = run;
    else this.items.unshift(run);
  }
  shift(): TaskRun | undefined {
    if (this.head >= this.items.length) return undefined;
    const run = this.items[this.head]!;
    this.items[this.head++] = undefined as unknown as TaskRun;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return run;
  }
}

export class Submitter {
  private nextNumber = 1;
  private readonly runs = new Map<number, TaskRun>();
  private readonly backlogs = new Map<string, Backlog>();
  /** Attempts awarded and not answered: `number/attempt`. */
  private readonly inFlight = new Map<string, ActiveAttempt>();
  private readonly leaseSweep: Timer;
  private readonly offerRepeat: Timer;
  private offerSoon = new Set<string>();

  constructor(private readonly ctx: BusContext, private readonly maxBacklog: number) {
    this.leaseSweep = new Timer(ctx.scheduler, () => this.sweepLeases());
    this.offerRepeat = new Timer(ctx.scheduler, () => this.repeatOffers());
  }

  get size(): number {
    return this.runs.size;
  }

  /** Attempts awarded and not answered, now. */
  get inFlightCount(): number {
    return this.inFlight.size;
  }

  submit(queue: string, data: Buffer, o: Required<Pick<SubmitOptions, 'leaseMs' | 'replicas' | 'maxFailures'>> & SubmitOptions): Promise<TaskResult> {
    return new Promise<TaskResult>((resolve, reject) => {
      const run = new TaskRun(this.nextNumber++, queue, data, o.replicas, o.leaseMs, o.maxFailures, o.reconcile, o.signal, resolve, reject);
      if (o.signal?.aborted === true) return reject(stoppedError(this.ctx, o.signal));
      run.offAbort = onAbort(o.signal, () => this.fail(run, stoppedError(this.ctx, o.signal)));
      this.runs.set(run.number, run);
      this.ctx.counters.tasksSubmitted++;
      const backlog = this.backlog(queue);
      for (let i = 0; i < run.replicas; i++) this.enqueue(backlog, run, false);
      this.offer(queue);
    });
  }

  private backlog(queue: string): Backlog {
    let b = this.backlogs.get(queue);
    if (b === undefined) {
      b = new Backlog();
      this.backlogs.set(queue, b);
    }
    return b;
  }

  private enqueue(backlog: Backlog, run: TaskRun, front: boolean): void {
    run.queued++;
    this.ctx.counters.tasksPending++;
    if (front) backlog.unshift(run);
    else backlog.push(run);
  }

  /** Sends the queue's OFFER at the end of this turn unless workers were told and nothing changed since. */
  private offer(queue: string, force = false): void {
    const backlog = this.backlogs.get(queue);
    if (backlog === undefined || backlog.length === 0) return;
    if (backlog.offered && !force) return;
    backlog.offered = true;
    if (this.offerSoon.size === 0) {
      queueMicrotask(() => {
        const queues = this.offerSoon;
        this.offerSoon = new Set();
        for (const q of queues) this.sendOffer(q);
      });
    }
    this.offerSoon.add(queue);
  }

  private sendOffer(queue: string): void {
    const backlog = this.backlogs.get(queue);
    if (backlog === undefined || backlog.length === 0 || this.ctx.closed.aborted) return;
    this.ctx.send({ type: MessageType.Offer, queue, pending: Math.min(backlog.length, 0xffffffff) });
    if (!this.offerRepeat.pending) this.offerRepeat.set(OFFER_REPEAT_MS);
  }

  /** Every OFFER_REPEAT_MS while a backlog waits with no award in that time: offer again (a worker that missed it, or came back). */
  private repeatOffers(): void {
    const now = this.ctx.scheduler.nowMs();
    let waiting = false;
    for (const [queue, b] of this.backlogs) {
      if (b.length === 0) continue;
      waiting = true;
      if (now - b.lastAwardMs >= OFFER_REPEAT_MS) this.sendOffer(queue);
    }
    if (waiting) this.offerRepeat.set(OFFER_REPEAT_MS);
  }

  /** A worker of `queue` announced itself: it may not have heard the offer. */
  onWorkerAnnounced(queues: readonly string[]): void {
    for (const q of queues) this.offer(q, true);
  }

  onBid(worker: string, queue: string, free: number): void {
    if (free <= 0 || this.ctx.closed.aborted) return;
    const backlog = this.backlogs.get(queue);
    const tasks: AwardedTask[] = [];
    const skipped: TaskRun[] = [];
    let bytes = 0;
    const now = this.ctx.scheduler.nowMs();
    while (backlog !== undefined && tasks.length < Math.min(free, MAX_AWARD_TASKS) && (tasks.length === 0 || bytes < MAX_AWARD_BYTES)) {
      const run = backlog.shift();
      if (run === undefined) break;
      if (run.done) continue; // its entries stopped counting when it finished
      if (!run.accepts(worker)) {
        skipped.push(run);
        if (skipped.length > 4096) break;
        continue;
      }
      run.queued--;
      this.ctx.counters.tasksPending--;
      const attempt = ++run.attempts;
      const active: ActiveAttempt = { run, attempt, worker, expiresAtMs: now + run.leaseMs };
      run.active.set(attempt, active);
      this.inFlight.set(`${run.number}/${attempt}`, active);
      tasks.push({ number: run.number, attempt, leaseMs: run.leaseMs, data: run.data });
      bytes += run.data.length;
    }
    for (let i = skipped.length - 1; i >= 0; i--) backlog!.unshift(skipped[i]!);
    // Stopped by the size limits of one award with tasks left for this bidder: answer as if it had bid that many, so it bids again.
    const more = tasks.length < free && backlog !== undefined && backlog.length > skipped.length && skipped.length <= 4096;
    const answered = more ? tasks.length : free;
    if (backlog !== undefined) {
      if (tasks.length < answered) backlog.offered = false; // the bidder heard "nothing more": the next task is offered again
      if (tasks.length > 0) backlog.lastAwardMs = now;
    }
    this.ctx.counters.awardsSent += tasks.length;
    this.ctx.send({ type: MessageType.Award, target: worker, queue, bid: answered, tasks });
    if (tasks.length > 0 && !this.leaseSweep.pending) this.leaseSweep.set(this.sweepMs());
  }

  onResult(worker: string, m: Msg<MessageType.Result>): void {
    const run = this.runs.get(m.number);
    const active = run?.active.get(m.attempt);
    if (run === undefined || active === undefined || active.worker !== worker) {
      this.ctx.counters.resultsLate++;
    } else {
      this.release(active);
      const peer = this.ctx.peerOf(worker);
      if (m.ok) {
        run.results.push({ data: m.data, worker: peer });
        if (run.results.length === run.replicas) this.complete(run);
      } else {
        run.failures.push({ worker: peer, message: m.data.toString('utf8') });
        if (run.failures.length >= run.maxFailures) this.fail(run, new TaskFailedError(run.queue, run.failures));
        else this.reoffer(run);
      }
    }
    if (m.bid > 0) this.onBid(worker, m.queue, m.bid);
  }

  onRefuse(worker: string, m: Msg<MessageType.Refuse>): void {
    for (const ref of m.attempts) {
      const active = this.inFlight.get(`${ref.number}/${ref.attempt}`);
      if (active === undefined || active.worker !== worker) continue;
      this.ctx.counters.awardsRefused++;
      this.release(active);
      this.reoffer(active.run);
    }
  }

  onRenew(worker: string, m: Msg<MessageType.Renew>): void {
    const now = this.ctx.scheduler.nowMs();
    for (const ref of m.attempts) {
      const active = this.inFlight.get(`${ref.number}/${ref.attempt}`);
      if (active !== undefined && active.worker === worker) active.expiresAtMs = now + active.run.leaseMs;
    }
  }

  /** The group says `worker` died or left: every task it held is offered again now. */
  onPeerGone(worker: string): void {
    for (const active of [...this.inFlight.values()]) {
      if (active.worker !== worker) continue;
      this.release(active);
      this.reoffer(active.run);
    }
  }

  private sweepMs(): number {
    let min = Infinity;
    for (const a of this.inFlight.values()) min = Math.min(min, a.run.leaseMs);
    return Math.max(10, Math.min(1000, min / 4));
  }

  private sweepLeases(): void {
    const now = this.ctx.scheduler.nowMs();
    const cancels = new Map<string, { number: number; attempt: number }[]>();
    for (const active of [...this.inFlight.values()]) {
      if (active.expiresAtMs > now) continue;
      this.ctx.counters.leasesExpired++;
      this.release(active);
      let list = cancels.get(active.worker);
      if (list === undefined) cancels.set(active.worker, (list = []));
      list.push({ number: active.run.number, attempt: active.attempt });
      this.reoffer(active.run);
    }
    for (const [worker, attempts] of cancels) this.ctx.send({ type: MessageType.Cancel, target: worker, attempts });
    if (this.inFlight.size > 0) this.leaseSweep.set(this.sweepMs());
  }

  private release(active: ActiveAttempt): void {
    active.run.active.delete(active.attempt);
    this.inFlight.delete(`${active.run.number}/${active.attempt}`);
  }

  private reoffer(run: TaskRun): void {
    if (run.done) return;
    this.ctx.counters.tasksReoffered++;
    this.enqueue(this.backlog(run.queue), run, true);
    this.offer(run.queue, true);
  }

  private complete(run: TaskRun): void {
    let data: Buffer;
    try {
      data = run.replicas === 1 ? run.results[0]!.data : reconciled(run);
    } catch (err) {
      return this.fail(run, err instanceof Error ? err : new Error(String(err)));
    }
    this.finish(run);
    this.ctx.counters.tasksCompleted++;
    run.resolve({ data, workers: run.results.map((r) => r.worker), attempts: run.attempts });
  }

  private fail(run: TaskRun, err: Error): void {
    if (run.done) return;
    this.finish(run);
    this.ctx.counters.tasksFailed++;
    run.reject(err);
  }

  /** The task is over: its waiting entries stop counting, its running attempts are told to stop. */
  private finish(run: TaskRun): void {
    run.done = true;
    run.offAbort();
    this.runs.delete(run.number);
    this.ctx.counters.tasksPending -= run.queued;
    run.queued = 0;
    for (const active of [...run.active.values()]) {
      this.release(active);
      if (!this.ctx.closed.aborted) this.ctx.send({ type: MessageType.Cancel, target: active.worker, attempts: [{ number: run.number, attempt: active.attempt }] });
    }
  }

  closeAll(): void {
    this.leaseSweep.clear();
    this.offerRepeat.clear();
    for (const run of [...this.runs.values()]) this.fail(run, stoppedError(this.ctx, run.signal));
  }

  get backlogFull(): boolean {
    return this.runs.size >= this.maxBacklog;
  }
}

/** The replicas' results through the task's reconcile, or the default: all byte-equal. */
function reconciled(run: TaskRun): Buffer {
  if (run.reconcile !== undefined) {
    try {
      return answerBytes(run.reconcile(run.results));
    } catch (err) {
      if (err instanceof ReconcileError) throw err;
      throw new ReconcileError(run.queue, run.results, `reconcile threw: ${errorMessage(err)}`);
    }
  }
  const first = run.results[0]!.data;
  if (run.results.every((r) => r.data.equals(first))) return first;
  throw new ReconcileError(run.queue, run.results, `the ${run.replicas} replicas' results differ`);
}
