/**
 * Anti-replay: a sliding bitmap over each sender session's datagram counter,
 * as IPsec (RFC 4303 §3.4.3) and DTLS (RFC 6347 §4.1.2.6) keep one, in the
 * ring-of-words form of RFC 6479 (advancing clears whole words, no shifting).
 * A counter is accepted once; one more than `windowDatagrams` below the
 * highest seen is too old. Updated only with authentic datagrams (the caller
 * checks the tag first), so a forger cannot move a window.
 */

import { MAX_REPLAY_SESSIONS, REPLAY_WINDOW_DATAGRAMS } from './constants';

/** One session's window. */
export class ReplayWindow {
  /** Highest counter accepted so far, −1 before the first. */
  private top = -1;
  private readonly words: Uint32Array;
  private readonly wordCount: number;
  /** Scheduler time of the last accepted datagram (for eviction). */
  lastSeenMs = 0;

  constructor(private readonly windowDatagrams = REPLAY_WINDOW_DATAGRAMS) {
    // One spare word: the word holding `top` is partly in the future (RFC 6479 §2).
    this.wordCount = Math.ceil(windowDatagrams / 32) + 1;
    this.words = new Uint32Array(this.wordCount);
  }

  /** True, and marks it, when `counter` is new and inside the window; false for a replay or a counter too old to tell. */
  accept(counter: number): boolean {
    const top = this.top;
    const block = Math.floor(counter / 32);
    if (counter > top) {
      const topBlock = top < 0 ? block - this.wordCount : Math.floor(top / 32);
      const advance = Math.min(block - topBlock, this.wordCount);
      for (let i = 1; i <= advance; i++) this.words[(block - advance + i) % this.wordCount] = 0;
      this.top = counter;
    } else if (top - counter >= this.windowDatagrams) {
      return false;
    }
    const w = block % this.wordCount;
    const bit = 1 << (counter % 32);
    if ((this.words[w]! & bit) !== 0) return false;
    this.words[w]! |= bit;
    return true;
  }
}

/**
 * The windows of every sender session heard, at most `maxSessions` (the
 * least recently heard is evicted; a session evicted and heard again starts a
 * fresh window, which the protocol's own duplicate suppression backs up).
 */
export class ReplayTable {
  private readonly windows = new Map<string, ReplayWindow>();
  private lastHi = -1;
  private lastLo = -1;
  private last: ReplayWindow | undefined;
  /** Windows evicted to stay within maxSessions. */
  evictions = 0;

  constructor(private readonly maxSessions = MAX_REPLAY_SESSIONS, private readonly windowDatagrams = REPLAY_WINDOW_DATAGRAMS) {}

  /** Accepts (true) or rejects as replayed (false) `counter` of session hi:lo. */
  accept(sessionHi: number, sessionLo: number, counter: number, nowMs: number): boolean {
    let window: ReplayWindow | undefined;
    // Most batches come from one sender: skip the map for a run of the same session.
    if (sessionHi === this.lastHi && sessionLo === this.lastLo) window = this.last;
    else {
      const key = `${sessionHi}:${sessionLo}`;
      window = this.windows.get(key);
      if (window === undefined) {
        if (this.windows.size >= this.maxSessions) this.evictOldest();
        window = new ReplayWindow(this.windowDatagrams);
        this.windows.set(key, window);
      }
      this.lastHi = sessionHi;
      this.lastLo = sessionLo;
      this.last = window;
    }
    window!.lastSeenMs = nowMs;
    return window!.accept(counter);
  }

  get size(): number {
    return this.windows.size;
  }

  private evictOldest(): void {
    let oldestKey: string | undefined;
    let oldestMs = Infinity;
    for (const [key, w] of this.windows) {
      if (w.lastSeenMs < oldestMs) {
        oldestMs = w.lastSeenMs;
        oldestKey = key;
      }
    }
    if (oldestKey === undefined) return;
    const evicted = this.windows.get(oldestKey);
    this.windows.delete(oldestKey);
    if (evicted === this.last) {
      this.last = undefined;
      this.lastHi = -1;
      this.lastLo = -1;
    }
    this.evictions++;
  }
}
