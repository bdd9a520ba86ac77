/**
 * The simulated transport: {@link MemoryNetwork} (hosts, links, a virtual
 * clock), its {@link MemoryTransport}, and the {@link withLoss} decorator that
 * injects seeded receive loss into any transport.
 */

export { MemoryHost, MemoryNetwork } from './memory/network';
export type { LinkConditions, LinkStats, MemoryHostOptions, MemoryNetworkOptions } from './memory/network';
export { DEFAULT_PAUSE_BUFFER_BYTES, MemoryTransport } from './memory/transport';
export { withLoss } from './memory/loss';
export type { LossOptions, LossStats, LossyTransport } from './memory/loss';
