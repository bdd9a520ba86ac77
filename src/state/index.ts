/**
 * `blipcast/state`: a keyed map replicated over a channel — every change
 * goes out at once as a delta, a snapshot cycle runs behind at a bounded
 * rate, and a replica that starts late or loses deltas rebuilds from it
 * while it applies the deltas that arrive meanwhile. docs/state.md has the
 * whole story; codec.ts the wire.
 *
 * @packageDocumentation
 */

export {
  DEFAULT_SNAPSHOT_BYTES_PER_SEC, DEFAULT_SNAPSHOT_INTERVAL_MS, DEFAULT_SUMMARY_MS, DEFAULT_TOMBSTONE_MS, MAX_KEY_BYTES, MAX_NAME_BYTES, MAX_VALUE_BYTES,
  replicate, streamOf,
} from './replica';
export { ReadOnlyError } from './errors';
export type { ChangeEvent, ReplicatedMap, ReplicatedMapStats, ReplicateOptions, ValueCodec } from './types';
