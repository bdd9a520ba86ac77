/**
 * The counter registry of one endpoint: one plain object, incremented in
 * place on the hot path, copied out by {@link snapshotStats}.
 */

import { INVALID_REASONS, LIMIT_REASONS, type InvalidReason, type LimitReason, type ProtocolStats } from './api';

export function createStats(): ProtocolStats {
  return {
    datagramsSent: 0, bytesSent: 0, datagramsReceived: 0, bytesReceived: 0,
    messagesSent: 0, messagesDelivered: 0,
    naksSent: 0, naksReceived: 0, naksSuppressed: 0, ncfsSent: 0,
    repairsSent: 0, repairsReceived: 0, duplicates: 0, reordered: 0,
    lossesDeclared: 0, messagesLost: 0,
    heartbeatsSent: 0, statusSent: 0, invalid: 0,
    invalidByReason: Object.fromEntries(INVALID_REASONS.map((r) => [r, 0])) as Record<InvalidReason, number>,
    limited: Object.fromEntries(LIMIT_REASONS.map((r) => [r, 0])) as Record<LimitReason, number>,
    sources: 0, receivers: 0, reorderBytes: 0, reassemblyBytes: 0,
  };
}

/** A copy the caller may keep. */
export function snapshotStats(s: ProtocolStats): ProtocolStats {
  return { ...s, invalidByReason: { ...s.invalidByReason }, limited: { ...s.limited } };
}
