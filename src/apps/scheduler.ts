/** The real clock and timers, for an app outside tests (tests give it the memory network, which is a Scheduler too). */

import type { Scheduler } from '../index';

export const realScheduler: Scheduler = {
  nowMs: () => performance.now(),
  setTimer: (fn, delayMs) => setTimeout(fn, Math.max(0, delayMs)),
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};
