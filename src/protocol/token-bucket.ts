/**
 * A byte-rate token bucket on an injected clock: used for the optional
 * sender rate limit and for the cap on repair bandwidth.
 */

export class TokenBucket {
  private tokens: number;
  private lastMs: number | undefined;
  private readonly capacity: number;

  /** `burstBytes` is the depth: the most that can go out back to back after idling. */
  constructor(private readonly bytesPerSec: number, burstBytes: number) {
    this.capacity = burstBytes;
    this.tokens = burstBytes;
  }

  private refill(nowMs: number): void {
    if (this.lastMs === undefined) this.lastMs = nowMs;
    const elapsedMs = nowMs - this.lastMs;
    if (elapsedMs > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsedMs * this.bytesPerSec) / 1000);
      this.lastMs = nowMs;
    }
  }

  /** True when `bytes` may go now. A datagram larger than the depth waits for a full bucket. */
  canSpend(nowMs: number, bytes: number): boolean {
    this.refill(nowMs);
    // A byte of tolerance: float rounding must not leave a datagram waiting for a sliver of a token.
    return this.tokens + 1 >= Math.min(bytes, this.capacity);
  }

  spend(bytes: number): void {
    this.tokens -= bytes;
  }

  /** Absolute time at which `bytes` will be affordable (call after canSpend returned false). */
  readyAtMs(nowMs: number, bytes: number): number {
    this.refill(nowMs);
    const missing = Math.min(bytes, this.capacity) - this.tokens - 1;
    if (missing <= 0) return nowMs;
    // At least 1 µs ahead: a wake-up at `nowMs` itself would spin when float rounding leaves a sliver missing.
    return nowMs + Math.max(0.001, (missing * 1000) / this.bytesPerSec);
  }
}

/** Depth of a bucket: `burstMs` worth of the rate, at least two datagrams. */
export function bucketDepthBytes(bytesPerSec: number, burstMs: number, maxDatagramBytes: number): number {
  return Math.max(2 * maxDatagramBytes, (bytesPerSec * burstMs) / 1000);
}
