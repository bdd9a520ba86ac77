/**
 * What the four roles of a bus member (requester, server, submitter, worker)
 * share: the member's identity, the clock, the counters, the peer table, and
 * one way to send a message — to the group, or straight back into this
 * member when it addresses itself (a channel never reads its own messages).
 */

import { AbortError, ClosedError, type Scheduler, type TimerHandle } from '../index';
import type { BusMessage } from './codec';
import type { PeerTable } from './peers';
import type { BusPeer, BusStats } from './types';

export interface BusContext {
  readonly self: BusPeer;
  readonly scheduler: Scheduler;
  readonly counters: BusStats;
  readonly peers: PeerTable;
  /** Aborts when the bus closes. */
  readonly closed: AbortSignal;
  /** Sends `m` (to the group; to this member's own handlers too when it is for everyone or for this member). */
  send(m: BusMessage): void;
  /** When discovery (BusOptions.discoveryMs after opening) is over, on the scheduler's clock. */
  readonly discoveredAtMs: number;
  /** The announce changed (a service or worker started or stopped): send it soon. */
  announceSoon(): void;
  /** The member `id` as a BusPeer: this member, a known peer, else its name from the group (heard before its ANNOUNCE), else its id. */
  peerOf(id: string): BusPeer;
}

export function newCounters(): BusStats {
  return {
    requestsSent: 0, requestsFailedOver: 0, repliesReceived: 0, repliesLate: 0, requestsServed: 0, requestsRefused: 0, gathersSent: 0,
    tasksSubmitted: 0, tasksCompleted: 0, tasksFailed: 0, tasksReoffered: 0, leasesExpired: 0, resultsLate: 0, awardsSent: 0, awardsRefused: 0,
    tasksRun: 0, tasksPending: 0, tasksInFlight: 0, invalidMessages: 0, sendErrors: 0,
  };
}

/** The error a pending call rejects with when the bus closes or its own signal aborts. */
export function stoppedError(ctx: BusContext, signal: AbortSignal | undefined): Error {
  if (signal?.aborted === true) return new AbortError(undefined, { cause: signal.reason });
  return new ClosedError('bus');
}

/**
 * A one-shot timer on the bus's clock: `set()` replaces the pending one,
 * `clear()` cancels it. The memory network's virtual clock drives it in tests.
 */
export class Timer {
  private handle: TimerHandle | undefined;
  constructor(private readonly scheduler: Scheduler, private readonly fn: () => void) {}
  set(delayMs: number): void {
    this.clear();
    this.handle = this.scheduler.setTimer(() => {
      this.handle = undefined;
      this.fn();
    }, delayMs);
  }
  get pending(): boolean {
    return this.handle !== undefined;
  }
  clear(): void {
    if (this.handle !== undefined) this.scheduler.clearTimer(this.handle);
    this.handle = undefined;
  }
}

/** Listens for `signal`'s abort until `off()`; never keeps the signal's listener past it. */
export function onAbort(signal: AbortSignal | undefined, fn: () => void): () => void {
  if (signal === undefined) return () => undefined;
  signal.addEventListener('abort', fn, { once: true });
  return () => signal.removeEventListener('abort', fn);
}
