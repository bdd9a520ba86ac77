/**
 * Virtual time and application code, interleaved: channels on the memory
 * network run on its virtual clock, but the application's side of them
 * (async iterators, promises, `await`) runs on Node's real event loop. One
 * step of virtual time, then one real turn, so both make progress.
 */

import type { MemoryNetwork } from '../index';

/** Default step of virtual time between two real event-loop turns, ms. */
export const DEFAULT_STEP_MS = 1;

/**
 * Advances `network` in `stepMs` steps, letting the application run one
 * event-loop turn after each, until `until()` holds (checked before each
 * step) or `maxMs` of virtual time passed (rounded up to a whole step).
 * Resolves whether `until()` held.
 * `afterStep` runs after each step, before the real turn.
 */
export async function drive(network: MemoryNetwork, until: () => boolean, maxMs: number, stepMs = DEFAULT_STEP_MS, afterStep?: () => void): Promise<boolean> {
  const endMs = network.nowMs() + maxMs;
  while (!until()) {
    if (network.nowMs() >= endMs) return false;
    network.advance(stepMs);
    afterStep?.();
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return true;
}
