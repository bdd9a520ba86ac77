/**
 * Protocol timers and strategies that are not part of {@link EndpointConfig}.
 * The driver normally leaves them at their defaults (src/constants.ts); tests
 * shorten them to keep virtual runs small. Every field is in ms unless named otherwise.
 */

import * as C from './constants';
import { InvalidArgumentValueError } from '../util/errors';

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
  /** Limits against hostile input (docs/protocol.md, "Limits"). Counts are integers ≥ 1. */
  maxSources: number;
  maxStreamsPerSource: number;
  maxReceivers: number;
  maxTotalReorderBytes: number;
  maxTotalReassemblyBytes: number;
  /** NAK datagrams accepted per second from one receiver session (the bucket holds one second of them). */
  maxNaksPerSecPerReceiver: number;
}

/** Tuning fields that count things (integers ≥ 1); the rest are ms, or the named rates. */
export const TUNING_COUNT_KEYS: ReadonlySet<string> = new Set(['maxSources', 'maxStreamsPerSource', 'maxReceivers', 'maxTotalReorderBytes', 'maxTotalReassemblyBytes']);

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
  maxSources: C.DEFAULT_MAX_SOURCES,
  maxStreamsPerSource: C.DEFAULT_MAX_STREAMS_PER_SOURCE,
  maxReceivers: C.DEFAULT_MAX_RECEIVERS,
  maxTotalReorderBytes: C.DEFAULT_MAX_TOTAL_REORDER_BYTES,
  maxTotalReassemblyBytes: C.DEFAULT_MAX_TOTAL_REASSEMBLY_BYTES,
  maxNaksPerSecPerReceiver: C.DEFAULT_MAX_NAKS_PER_SEC_PER_RECEIVER,
});

/**
 * Checks the limits of a complete tuning (the timers are checked by the
 * channel's option validation).
 * @throws InvalidArgumentValueError naming the field; nothing is created.
 */
export function checkTuningLimits(t: ProtocolTuning): void {
  for (const key of TUNING_COUNT_KEYS) {
    const v = (t as unknown as Record<string, unknown>)[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new InvalidArgumentValueError(`${key} must be an integer ≥ 1, got ${String(v)}`);
  }
  const naks = t.maxNaksPerSecPerReceiver;
  if (typeof naks !== 'number' || !(naks > 0) || !Number.isFinite(naks)) throw new InvalidArgumentValueError(`maxNaksPerSecPerReceiver must be a finite number > 0, got ${String(naks)}`);
}
