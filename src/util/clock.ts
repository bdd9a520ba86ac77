/**
 * Time and timers, injected. The protocol core never reads a clock; the driver
 * asks a {@link Scheduler}. Real code uses {@link realScheduler}; the memory
 * network supplies a virtual one so whole runs are deterministic.
 */

/** Opaque timer handle returned by {@link Scheduler.setTimer}. */
export type TimerHandle = unknown;

export interface Scheduler {
  /** Milliseconds on a monotonic clock (fractional allowed). */
  nowMs(): number;
  /** Run `fn` once after `delayMs` (0 = after the current turn). */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
  clearTimer(handle: TimerHandle): void;
}

/** Wall-clock scheduler: performance.now() and setTimeout. */
export const realScheduler: Scheduler = {
  nowMs: () => performance.now(),
  setTimer: (fn, delayMs) => {
    const t = setTimeout(fn, Math.max(0, delayMs));
    return t;
  },
  clearTimer: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
