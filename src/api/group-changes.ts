/**
 * One consumer's bounded queue of membership changes, read as an async
 * iterator (`for await (const change of channel.group.changes())`).
 *
 * Overflow: a consumer that falls more than `maxBuffered` changes behind
 * loses the OLDEST ones (the newest say more about the current state), and
 * the next change it reads carries `missed` = how many were dropped just
 * before it; it should then re-read the table with `members()`. Memory per
 * consumer is therefore bounded whatever the churn.
 */

import type { MembershipEvent } from '../group/api';
import { Fifo } from '../util/fifo';

/** One membership change as an iterator yields it. */
export interface GroupChange extends MembershipEvent {
  /** Changes dropped just before this one because this consumer fell more than `maxBuffered` behind (0 normally): re-read `members()`. */
  missed: number;
}

/** Options of `Group.changes()`. */
export interface ChangesOptions {
  /** Aborting ends the iteration (the loop exits normally, no error). */
  signal?: AbortSignal;
  /** Changes held for a consumer that does not keep up; older ones are dropped beyond it (see `missed`). Default {@link DEFAULT_MAX_BUFFERED_CHANGES}. */
  maxBuffered?: number;
}

/** 1024 changes: a whole group of a thousand members joining at once fits, and a consumer holds at most ~100 KiB. */
export const DEFAULT_MAX_BUFFERED_CHANGES = 1024;

export class ChangeQueue implements AsyncIterableIterator<GroupChange> {
  private readonly buffer = new Fifo<MembershipEvent>();
  private missed = 0;
  private done = false;
  private waiter: ((r: IteratorResult<GroupChange>) => void) | undefined;

  constructor(private readonly maxBuffered: number, private readonly signal: AbortSignal | undefined, private readonly onEnd: (q: ChangeQueue) => void) {
    if (signal?.aborted) this.end();
    else signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  push(change: MembershipEvent): void {
    if (this.done) return;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: this.take(change), done: false });
      return;
    }
    if (this.buffer.length >= this.maxBuffered) {
      this.buffer.shift();
      this.missed++;
    }
    this.buffer.push(change);
  }

  /** True once no more changes will be queued (closed, aborted or returned). */
  get ended(): boolean {
    return this.done;
  }

  /** No more changes: buffered ones are still read, then the iteration ends. */
  end(): void {
    if (this.done) return;
    this.done = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    this.onEnd(this);
    if (this.waiter && this.buffer.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w({ value: undefined, done: true });
    }
  }

  next(): Promise<IteratorResult<GroupChange>> {
    const change = this.buffer.shift();
    if (change !== undefined) {
      return Promise.resolve({ value: this.take(change), done: false });
    }
    if (this.done) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve) => (this.waiter = resolve));
  }

  /** `break` out of the loop: stop listening, drop what is buffered. */
  return(): Promise<IteratorResult<GroupChange>> {
    this.buffer.clear();
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<GroupChange> {
    return this;
  }

  private take(change: MembershipEvent): GroupChange {
    const missed = this.missed;
    this.missed = 0;
    return { type: change.type, member: change.member, missed };
  }

  private readonly onAbort = (): void => {
    // Aborting means "stop now": what is buffered is not read.
    this.buffer.clear();
    this.end();
  };
}
