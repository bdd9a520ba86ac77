/**
 * When the sender's next heartbeat is due. Two clocks:
 *
 * - tail: `minMs` after the latest data. While data flows faster than that it
 *   never fires (the data itself reveals gaps); when data stops it fires
 *   within `minMs`, and the heartbeats then back off 1, 2, 4 … ms up to
 *   `idleMs`, so a receiver that lost the last datagram learns the lead
 *   within milliseconds even if a heartbeat or two is lost as well.
 * - periodic: while data flows, heartbeats still go out at doubling intervals
 *   (1, 3, 7, 15 … ms after the start) up to one per `idleMs`, so receivers
 *   learn the trail (late join 'earliest', window loss) during long bursts.
 */

export class HeartbeatSchedule {
  private intervalMs: number;
  private periodicDueMs: number | undefined;
  private tailDueMs = Infinity;
  private dataSinceBeat = false;

  constructor(private readonly minMs: number, private readonly idleMs: number, private readonly blockedMs: number) {
    this.intervalMs = minMs;
  }

  /** Data went out at `nowMs`. */
  onData(nowMs: number): void {
    this.dataSinceBeat = true;
    this.tailDueMs = nowMs + this.minMs;
    if (this.periodicDueMs === undefined) this.periodicDueMs = nowMs + this.minMs;
  }

  /** Ask for a heartbeat as soon as possible (close, window blocked). */
  soon(nowMs: number): void {
    this.periodicDueMs = nowMs;
  }

  /** Absolute due time, or undefined before the first data. */
  nextDueMs(): number | undefined {
    if (this.periodicDueMs === undefined) return undefined;
    return Math.min(this.periodicDueMs, this.tailDueMs);
  }

  isDue(nowMs: number): boolean {
    const due = this.nextDueMs();
    return due !== undefined && nowMs >= due;
  }

  /** A heartbeat went out at `nowMs`; `blocked` caps the interval so flow control hears status quickly. */
  onBeat(nowMs: number, blocked: boolean): void {
    // Data just stopped: restart the fast back-off from the tail.
    if (this.dataSinceBeat && nowMs >= this.tailDueMs) this.intervalMs = this.minMs;
    this.dataSinceBeat = false;
    this.tailDueMs = Infinity;
    this.intervalMs = Math.min(this.intervalMs * 2, this.idleMs);
    this.periodicDueMs = nowMs + (blocked ? Math.min(this.intervalMs, this.blockedMs) : this.intervalMs);
  }
}
