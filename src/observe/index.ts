/**
 * `blipcast/observe`: see a group from the outside. {@link watchGroup} opens a
 * passive observer (a channel with `passive: true`, joined as an observer
 * member: senders never pace to it) and emits a {@link GroupSnapshot} every
 * interval — members, sources with their rates, and every receiver of every
 * source worst first (bytes behind, unread, NAK rate, losses, repair latency).
 * `blipcast top` prints these snapshots and `blipcast dashboard` serves them
 * to a browser; {@link formatSnapshot} is top's text. docs/observe.md.
 *
 * @packageDocumentation
 */

export { buildSnapshot, GroupWatcher, watchGroup, worstFirst } from './watcher';
export type { GroupWatcherEvents, WatchOptions } from './watcher';
export { formatSnapshot, isTroubled, TROUBLE_BEHIND_BYTES, TROUBLE_NAKS_PER_SEC, TROUBLE_SILENCE_MS } from './format';
export type { GroupSnapshot, MemberRow, ReceiverRow, ReceiverStateName, SourceRow } from './types';
export { DEFAULT_DASHBOARD_LISTEN, serveDashboard } from './dashboard';
export type { Dashboard, DashboardOptions, DashboardStats, SnapshotSource } from './dashboard';
