/**
 * What a restarted collector can still say about the sources of its
 * checkpoint that went away while it was down. A sender that exited before
 * the collector came back delivers nothing more, so the first-delivery check
 * (a gap between the checkpoint and the next record) never runs for it: the
 * records it sent after the checkpoint are lost to this collector, and on its
 * own it could not even say how many. The other collectors can: each
 * re-announces the last block head of every source that closed within
 * {@link RECENT_END_MS}, and that head's `lastSeq` bounds the gap exactly (as
 * far as any collector of the group held the stream). Sans-IO: the caller
 * passes the time and asks who is a member.
 */

/** How long a collector re-announces the last head of a source that closed, and how long a restarted one waits for such heads. */
export const RECENT_END_MS = 60_000;

/** A gap to report: `fromSeq..toSeq` of `session`, known to exist from another collector's heads. */
export interface RestartGap {
  session: string;
  fromSeq: number;
  toSeq: number;
}

export class RestartGaps {
  private readonly open = new Map<string, { next: number; peerLast: number }>();

  /**
   * `restored`: the checkpoint's sources (session → next expected seq). Nothing is reported before `graceUntilMs`
   * (the group's membership must have converged: a live sender is a member by then), nothing after `giveUpAtMs`.
   */
  constructor(restored: Iterable<[session: string, next: number]>, private readonly graceUntilMs: number, private readonly giveUpAtMs: number) {
    for (const [session, next] of restored) this.open.set(session, { next, peerLast: -1 });
  }

  /** Something of `session` was delivered since the restart: the channel reports its gaps now. */
  heard(session: string): void {
    this.open.delete(session);
  }

  /** Another collector's head: `session` reached at least `lastSeq`. */
  peerHead(session: string, lastSeq: number): void {
    const e = this.open.get(session);
    if (e !== undefined && lastSeq > e.peerLast) e.peerLast = lastSeq;
  }

  /** Gaps to report now: sources not heard since the restart and no longer members, that another collector saw beyond the checkpoint. */
  poll(nowMs: number, isMember: (session: string) => boolean): RestartGap[] {
    if (nowMs < this.graceUntilMs || this.open.size === 0) return [];
    const out: RestartGap[] = [];
    for (const [session, e] of this.open) {
      // A live sender delivers what it still holds (lateJoin 'earliest'); the first delivery tells the gap.
      if (isMember(session) || e.peerLast < e.next) continue;
      out.push({ session, fromSeq: e.next, toSeq: e.peerLast });
      e.next = e.peerLast + 1;
    }
    if (nowMs >= this.giveUpAtMs) this.open.clear();
    return out;
  }
}
