/**
 * `channel.group`: the application's view of the group membership of a
 * channel opened with the `member` option. Events, the member table, the
 * timers in force, counters, and an async iterator of changes.
 */

import { EventEmitter } from 'node:events';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import type { MemberFilter, MemberInfo, Membership, MembershipEvent, MembershipStats, ScaledTimers } from '../group/api';
import { ChangeQueue, DEFAULT_MAX_BUFFERED_CHANGES, type ChangesOptions, type GroupChange } from './group-changes';

/** Events of a {@link Group}: one per membership change, with the member as this member now sees it. */
export interface GroupEvents {
  /** A member became known (its first announce heard, or back after being declared dead). */
  join: [member: MemberInfo];
  /** A member left gracefully (it closed its channel). */
  leave: [member: MemberInfo];
  /** A member failed a direct and an indirect probe; it is declared dead unless it refutes within the suspicion timeout. */
  suspect: [member: MemberInfo];
  /** A suspected member refuted the suspicion (raised its incarnation). */
  alive: [member: MemberInfo];
  /** A member was declared dead (suspicion timed out here or elsewhere). */
  dead: [member: MemberInfo];
  /** A member known alive raised its incarnation without our having suspected it. */
  update: [member: MemberInfo];
}

/**
 * The group membership of one channel. Obtain it as `channel.group` (defined
 * when the channel was opened with the `member` option). The local member's
 * id is the channel's session id (`channel.info.sessionId`).
 */
export class Group extends EventEmitter<GroupEvents> {
  private readonly queues = new Set<ChangeQueue>();
  private ended = false;

  /** @internal created by open() */
  constructor(private readonly membership: Membership, private readonly selfId: string) {
    super();
  }

  /** This channel's own member record (its id is `channel.info.sessionId`). */
  get self(): MemberInfo {
    return this.membership.members((m) => m.self)[0] ?? { id: this.selfId, name: '', metadata: {}, incarnation: 0, state: 'alive', self: true };
  }

  /**
   * Members alive or suspect, self included, sorted by id; empty once the
   * channel closed. `filter`: a record of metadata key → value that must all
   * match (`{ role: 'worker' }`), or a predicate.
   * @throws InvalidArgumentTypeError for a filter that is neither.
   */
  members(filter?: MemberFilter): MemberInfo[] {
    if (filter !== undefined && typeof filter !== 'function' && (typeof filter !== 'object' || filter === null)) {
      throw new InvalidArgumentTypeError(`filter must be a record of metadata key → value or a predicate, got ${filter === null ? 'null' : typeof filter}`);
    }
    return this.membership.members(filter);
  }

  /** The timers in force for the current group size, among them `deadBoundMs`: a member killed without leaving is declared dead by every member within it. */
  timers(): ScaledTimers {
    return this.membership.timers();
  }

  /** Membership counters (also in `channel.stats().group`). */
  stats(): MembershipStats {
    return this.membership.stats();
  }

  /**
   * Membership changes as an async iterator, from now on (call `members()`
   * for the current table). Bounded: a consumer more than `maxBuffered`
   * changes behind loses the oldest, and the next change says how many
   * (`missed`). The iteration ends when the channel closes or `signal` aborts.
   * @throws InvalidArgumentValueError for a `maxBuffered` that is not a positive integer.
   */
  changes(options: ChangesOptions = {}): AsyncIterableIterator<GroupChange> {
    const maxBuffered = options.maxBuffered ?? DEFAULT_MAX_BUFFERED_CHANGES;
    if (!Number.isInteger(maxBuffered) || maxBuffered < 1) throw new InvalidArgumentValueError(`maxBuffered must be a positive integer, got ${String(maxBuffered)}`);
    if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new InvalidArgumentTypeError('signal must be an AbortSignal');
    const q = new ChangeQueue(maxBuffered, options.signal, (done) => this.queues.delete(done));
    if (this.ended) q.end();
    else if (!q.ended) this.queues.add(q); // an already-aborted signal ended it at once
    return q;
  }

  /** @internal one change from the membership core, in order */
  dispatch(change: MembershipEvent): void {
    for (const q of this.queues) q.push(change);
    this.emit(change.type, change.member);
  }

  /** @internal the channel closed: iterators end after what they buffered */
  end(): void {
    this.ended = true;
    for (const q of [...this.queues]) q.end();
  }
}
