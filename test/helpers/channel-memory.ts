/**
 * Helpers for Channel tests on the simulated network. Virtual time only moves
 * when a test advances it, and the application side (async iterators,
 * promises) runs between steps: {@link drive} alternates one step of virtual
 * time with one turn of the real event loop.
 */

import { open, type Channel, type Message, type OpenOptions, type TestHooks } from '../../src/api/channel';
import type { MemoryNetwork } from '../../src/transport/memory';
import { drive as driveNetwork } from '../../src/sim/drive';

export const GROUP = '239.255.7.1:7000';

/** Advances virtual time in `stepMs` steps, letting the application run between steps, until `until()` or `maxMs` (blipcast/sim's drive). */
export function drive(net: MemoryNetwork, until: () => boolean, maxMs = 60_000, stepMs = 1): Promise<boolean> {
  return driveNetwork(net, until, maxMs, stepMs);
}

/** Settles `promise` while driving the network; fails the test if it does not settle within `maxMs` of virtual time. */
export async function settle<T>(net: MemoryNetwork, promise: Promise<T>, maxMs = 60_000): Promise<T> {
  let done = false;
  promise.then(() => (done = true), () => (done = true));
  await drive(net, () => done, maxMs);
  if (!done) throw new Error(`promise did not settle within ${maxMs} ms of virtual time`);
  return promise;
}

export function memory(net: MemoryNetwork, host: string, extra: Partial<OpenOptions & TestHooks> = {}): Promise<Channel> {
  if (!net.getHost(host)) net.host(host);
  return open({ group: GROUP, transport: 'memory', network: net, host, seed: host, ...extra });
}

/** Reads `n` messages through the async iterator into `into`, then stops (without closing the channel). */
export async function readN(channel: Channel, n: number, into: Message[]): Promise<void> {
  if (n === 0) return;
  for await (const m of channel) {
    into.push(m);
    if (into.length >= n) break;
  }
}


/**
 * A test's handle on the network's virtual time: `until`, `run` and `settle`
 * drive it (one step of virtual time, one turn of the real event loop).
 */
export class VirtualTime {
  constructor(readonly net: MemoryNetwork, private readonly untilMaxMs: number) {}

  get nowMs(): number {
    return this.net.nowMs();
  }

  /** Drives virtual time until `until()`; throws after `maxMs`. */
  async until(until: () => boolean, maxMs = this.untilMaxMs, what = 'the condition'): Promise<void> {
    if (!(await drive(this.net, until, maxMs))) throw new Error(`${what} did not hold within ${maxMs} ms of virtual time`);
  }

  /** Drives virtual time for `ms`. */
  async run(ms: number): Promise<void> {
    const endMs = this.net.nowMs() + ms;
    await drive(this.net, () => this.net.nowMs() >= endMs, ms + 1);
  }

  settle<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    return settle(this.net, promise, maxMs);
  }
}
