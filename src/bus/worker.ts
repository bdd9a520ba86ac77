/**
 * The working side of task acquisition (submitter.ts has the whole exchange).
 *
 * Per queue it works, this member keeps one entry per submitter: "has tasks
 * waiting" (from its OFFERs; cleared by an AWARD smaller than the bid), so
 * memory does not grow with the submitters' backlogs. Free capacity is bid
 * to the submitters that have work, shared out round-robin; a bid holds its
 * slots until the AWARD answers it (or BID_HOLD_MS, or the submitter leaves),
 * so two submitters are never promised the same slot. A task awarded beyond
 * the free slots is REFUSEd and goes back to the submitter's backlog.
 */

import { MessageType, type AttemptRef, type BusMessage } from './codec';
import { Timer, type BusContext } from './context';
import { answerBytes, errorMessage } from './payload';
import type { TaskHandler, Worker } from './types';

/** How long a bid holds its slots without an answer, ms. */
export const BID_HOLD_MS = 2000;

type Msg<T extends MessageType> = Extract<BusMessage, { type: T }>;

interface HeldBid {
  free: number;
  timer: Timer;
}

class WorkerState implements Worker {
  running = 0;
  /** Slots promised in bids not yet answered. */
  held = 0;
  stopped = false;
  /** Submitters with tasks waiting, in round-robin order (the next to bid to first). */
  readonly offers = new Set<string>();
  readonly bids = new Map<string, HeldBid>();
  constructor(readonly queue: string, readonly handler: TaskHandler, readonly capacity: number, private readonly onStop: (w: WorkerState) => void) {}
  get free(): number {
    return this.capacity - this.running - this.held;
  }
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop(this);
  }
}

interface RunningTask {
  submitter: string;
  ref: AttemptRef;
  abort: AbortController;
  renew: Timer;
}

export class WorkerRole {
  private readonly queues = new Map<string, WorkerState>();
  /** Offers heard for queues this member does not work (yet): submitter ids per queue, bounded by the submitters. */
  private readonly heard = new Map<string, Set<string>>();
  private readonly running = new Map<string, RunningTask>();

  constructor(private readonly ctx: BusContext) {}

  queueList(): { queue: string; capacity: number }[] {
    return [...this.queues.values()].map((w) => ({ queue: w.queue, capacity: w.capacity }));
  }

  works(queue: string): boolean {
    return this.queues.has(queue);
  }

  work(queue: string, handler: TaskHandler, capacity: number): Worker {
    this.queues.get(queue)?.stop();
    const w = new WorkerState(queue, handler, capacity, (stopped) => {
      for (const bid of stopped.bids.values()) bid.timer.clear();
      if (this.queues.get(queue) === stopped) this.queues.delete(queue);
      this.ctx.announceSoon();
    });
    for (const s of this.heard.get(queue) ?? []) w.offers.add(s);
    this.heard.delete(queue);
    this.queues.set(queue, w);
    this.ctx.announceSoon();
    this.bidRound(w);
    return w;
  }

  onOffer(submitter: string, m: Msg<MessageType.Offer>): void {
    const w = this.queues.get(m.queue);
    if (w === undefined) {
      let set = this.heard.get(m.queue);
      if (set === undefined) this.heard.set(m.queue, (set = new Set()));
      if (m.pending > 0) set.add(submitter);
      else set.delete(submitter);
      return;
    }
    if (m.pending > 0) w.offers.add(submitter);
    else w.offers.delete(submitter);
    this.bidRound(w);
  }

  /** Bids the free slots to the submitters with work, round-robin, one bid outstanding per submitter. */
  private bidRound(w: WorkerState, except?: string): void {
    if (w.stopped || this.ctx.closed.aborted) return;
    const candidates = [...w.offers].filter((s) => s !== except && !w.bids.has(s));
    if (candidates.length === 0) return;
    let free = w.free;
    const share = Math.ceil(free / candidates.length);
    for (const s of candidates) {
      if (free <= 0) break;
      const n = Math.min(share, free);
      this.bid(w, s, n);
      free -= n;
      // Round-robin: this submitter goes to the back of the order.
      w.offers.delete(s);
      w.offers.add(s);
    }
  }

  /** Holds `n` slots for `submitter` and says so, in a BID or (bidInResult) in the RESULT about to go. */
  private bid(w: WorkerState, submitter: string, n: number, bidInResult = false): void {
    const timer = new Timer(this.ctx.scheduler, () => {
      // No answer: the submitter is gone or busy; the slots go back.
      this.releaseBid(w, submitter);
      w.offers.delete(submitter);
      this.bidRound(w);
    });
    timer.set(BID_HOLD_MS);
    w.bids.set(submitter, { free: n, timer });
    w.held += n;
    if (!bidInResult) this.ctx.send({ type: MessageType.Bid, target: submitter, queue: w.queue, free: n });
  }

  private releaseBid(w: WorkerState, submitter: string): void {
    const bid = w.bids.get(submitter);
    if (bid === undefined) return;
    bid.timer.clear();
    w.bids.delete(submitter);
    w.held -= bid.free;
  }

  onAward(submitter: string, m: Msg<MessageType.Award>): void {
    const w = this.queues.get(m.queue);
    const refused: AttemptRef[] = [];
    if (w !== undefined) {
      this.releaseBid(w, submitter);
      if (m.tasks.length < m.bid) w.offers.delete(submitter); // "nothing more for you" until its next offer
    }
    for (const t of m.tasks) {
      if (w === undefined || w.stopped || w.free <= 0 || this.ctx.closed.aborted) {
        refused.push({ number: t.number, attempt: t.attempt });
        continue;
      }
      this.start(w, submitter, t.number, t.attempt, t.leaseMs, t.data);
    }
    if (refused.length > 0 && !this.ctx.closed.aborted) {
      this.ctx.send({ type: MessageType.Refuse, target: submitter, attempts: refused });
    }
    if (w !== undefined) this.bidRound(w);
  }

  onCancel(submitter: string, m: Msg<MessageType.Cancel>): void {
    for (const ref of m.attempts) this.running.get(`${submitter}/${ref.number}/${ref.attempt}`)?.abort.abort(new Error('superseded by the submitter'));
  }

  onPeerGone(id: string): void {
    for (const t of this.running.values()) if (t.submitter === id) t.abort.abort(new Error('the submitter left the bus'));
    for (const w of this.queues.values()) {
      this.releaseBid(w, id);
      if (w.offers.delete(id)) this.bidRound(w);
    }
    for (const set of this.heard.values()) set.delete(id);
  }

  closeAll(): void {
    for (const t of this.running.values()) {
      t.renew.clear();
      t.abort.abort(new Error('the bus closed'));
    }
    for (const w of this.queues.values()) for (const bid of w.bids.values()) bid.timer.clear();
  }

  private start(w: WorkerState, submitter: string, number: number, attempt: number, leaseMs: number, data: Buffer): void {
    w.running++;
    this.ctx.counters.tasksRun++;
    const key = `${submitter}/${number}/${attempt}`;
    const ref = { number, attempt };
    const renewMs = Math.max(1, leaseMs / 3);
    const renew = new Timer(this.ctx.scheduler, () => {
      if (this.ctx.closed.aborted) return;
      this.ctx.send({ type: MessageType.Renew, target: submitter, attempts: [ref] });
      renew.set(renewMs);
    });
    renew.set(renewMs);
    const task: RunningTask = { submitter, ref, abort: new AbortController(), renew };
    this.running.set(key, task);
    void this.run(w, task, data);
  }

  private async run(w: WorkerState, task: RunningTask, data: Buffer): Promise<void> {
    let ok = true;
    let out: Buffer;
    try {
      out = answerBytes(await w.handler({
        data, queue: w.queue, from: this.ctx.peerOf(task.submitter), id: `${task.submitter}/${task.ref.number}`, attempt: task.ref.attempt, signal: task.abort.signal,
      }));
    } catch (err) {
      ok = false;
      out = Buffer.from(errorMessage(err), 'utf8');
    }
    task.renew.clear();
    this.running.delete(`${task.submitter}/${task.ref.number}/${task.ref.attempt}`);
    w.running--;
    if (this.ctx.closed.aborted) return;
    // The freed slot goes back to this submitter in the RESULT when it is the only one with work; else round-robin.
    let bid = 0;
    if (!w.stopped && w.offers.has(task.submitter) && !w.bids.has(task.submitter) && w.offers.size === 1 && w.free > 0) {
      bid = w.free;
      this.bid(w, task.submitter, bid, true);
    }
    this.ctx.send({ type: MessageType.Result, target: task.submitter, number: task.ref.number, attempt: task.ref.attempt, ok, queue: w.queue, bid, data: out });
    this.bidRound(w);
  }
}
