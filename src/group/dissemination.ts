/**
 * The piggyback queue of infection-style dissemination (SWIM §4.1): updates
 * waiting to ride on outgoing CONTROL datagrams. Each update goes out a
 * bounded number of times (λ·log n, given per call); the least-sent go
 * first; a newer update about the same member replaces the older one; the
 * queue holds at most `capacity` updates and drops the most-sent one when full.
 *
 * On multicast every transmission reaches every member, so an update we have
 * heard others send `redundancy` times is already everywhere but for a
 * member that lost all of those copies: we stop sending it (Trickle's
 * suppression, Levis et al. 2004). Without it, each of n members sends each
 * update λ·log n times, n·λ·log n copies where a handful reach everyone, and
 * a partition of hundreds of members queues updates for minutes.
 */

import type { Update } from './codec';

interface Entry {
  update: Update;
  transmits: number;
  /** Copies of this very update heard from others. */
  heard: number;
  /** Insertion order, so equal transmit counts go oldest first. */
  order: number;
}

export class Dissemination {
  private readonly byId = new Map<string, Entry>();
  private order = 0;
  /** Updates evicted before they had been sent `limit` times. */
  dropped = 0;

  constructor(private readonly capacity: number, private readonly redundancy: number) {}

  get size(): number {
    return this.byId.size;
  }

  /** Queues `u`, replacing any queued update about the same member. */
  push(u: Update): void {
    this.byId.delete(u.id);
    if (this.byId.size >= this.capacity) this.evictMostSent();
    this.byId.set(u.id, { update: u, transmits: 0, heard: 0, order: this.order++ });
  }

  /** `u` arrived piggybacked on another member's datagram: after `redundancy` copies of what we hold, we stop sending it. */
  overheard(u: Update): void {
    const e = this.byId.get(u.id);
    if (!e || e.update.state !== u.state || e.update.incarnation !== u.incarnation) return;
    if (++e.heard >= this.redundancy) this.byId.delete(u.id);
  }

  /** The queued update about `id`, if any. */
  get(id: string): Update | undefined {
    return this.byId.get(id)?.update;
  }

  /**
   * Takes up to `max` updates for one datagram, least-sent first, counting a
   * transmission for each; updates sent `limit` times leave the queue.
   */
  take(max: number, limit: number): Update[] {
    if (max <= 0 || this.byId.size === 0) return [];
    const entries = [...this.byId.values()];
    entries.sort((a, b) => a.transmits - b.transmits || a.order - b.order);
    const out: Update[] = [];
    for (const e of entries) {
      if (out.length >= max) break;
      out.push(e.update);
      e.transmits++;
      if (e.transmits >= limit) this.byId.delete(e.update.id);
    }
    return out;
  }

  private evictMostSent(): void {
    let worst: Entry | undefined;
    for (const e of this.byId.values()) if (!worst || e.transmits > worst.transmits || (e.transmits === worst.transmits && e.order < worst.order)) worst = e;
    if (worst) {
      this.byId.delete(worst.update.id);
      this.dropped++;
    }
  }
}
