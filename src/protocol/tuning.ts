/**
 * Protocol timers and strategies that are not part of {@link EndpointConfig}.
 * The driver normally leaves them at their defaults (src/constants.ts); tests
 * shorten them to keep virtual runs small. Every field is in ms unless named otherwise.
 */

import * as C from '../constants';

/** How a receiver draws its NAK back-off (see nak-scheduler.ts). */
export type NakBackoff = 'exponential' | 'uniform';

export interface ProtocolTuning {
  heartbeatMinMs: number;
  heartbeatIdleMs: number;
  heartbeatBlockedMs: number;
  nakBackoff: NakBackoff;
  nakBackoffMaxMs: number;
  nakBackoffAloneMs: number;
  nakRepairWaitMs: number;
  nakRepairWaitMaxMs: number;
  nakMaxRetries: number;
  repairLingerMs: number;
  /** Cap on repair bandwidth; undefined = uncapped. */
  repairRateBytesPerSec: number | undefined;
  statusIntervalMs: number;
  statusSoonMs: number;
  receiverTimeoutMs: number;
  sourceTimeoutMs: number;
  peerTimeoutMs: number;
}

export const DEFAULT_TUNING: Readonly<ProtocolTuning> = Object.freeze({
  heartbeatMinMs: C.HEARTBEAT_MIN_MS,
  heartbeatIdleMs: C.HEARTBEAT_IDLE_MS,
  heartbeatBlockedMs: C.HEARTBEAT_BLOCKED_MS,
  nakBackoff: 'exponential' as NakBackoff,
  nakBackoffMaxMs: C.NAK_BACKOFF_MAX_MS,
  nakBackoffAloneMs: C.NAK_BACKOFF_ALONE_MS,
  nakRepairWaitMs: C.NAK_REPAIR_WAIT_MS,
  nakRepairWaitMaxMs: C.NAK_REPAIR_WAIT_MAX_MS,
  nakMaxRetries: C.NAK_MAX_RETRIES,
  repairLingerMs: C.REPAIR_LINGER_MS,
  repairRateBytesPerSec: C.REPAIR_RATE_BYTES_PER_SEC as number | undefined,
  statusIntervalMs: C.STATUS_INTERVAL_MS,
  statusSoonMs: C.STATUS_SOON_MS,
  receiverTimeoutMs: C.RECEIVER_TIMEOUT_MS,
  sourceTimeoutMs: C.SOURCE_TIMEOUT_MS,
  peerTimeoutMs: C.PEER_TIMEOUT_MS,
});
