/**
 * What every source and stream of one endpoint's receiver shares: the
 * configuration, the output queues, the NAK scheduler and the memory totals.
 */

import type { EndpointConfig, ProtocolStats } from './api';
import type { Limits } from './limits';
import type { NakScheduler } from './nak-scheduler';
import type { Output } from './output';
import type { SourceState } from './source';
import type { TimerHeap } from './timer-heap';
import type { ProtocolTuning } from './tuning';

/** What every source and stream of one endpoint shares. */
export interface ReceiveContext {
  readonly config: EndpointConfig;
  readonly tuning: ProtocolTuning;
  readonly stats: ProtocolStats;
  readonly out: Output;
  readonly naks: NakScheduler;
  /** When this endpoint started listening (ms, the driver's clock). */
  readonly opened: { readonly atMs: number };
  /** Counts drops and limit hits (and raises the rate-limited warnings). */
  readonly limits: Limits;
  /** Reorder and reassembly bytes over all sources (the totals the tuning caps); `readBacklogBytes`: what the application holds unread (Endpoint.setReadBacklog). */
  readonly totals: { reorderBytes: number; reassemblyBytes: number; readBacklogBytes: number };
  /** Every source filed by when its next timer may be due (owned by the Receiver). */
  readonly timers: TimerHeap<SourceState>;
  /** Called when `totals.reorderBytes` passes the total cap: frees memory somewhere (set by the Receiver). */
  relieveTotalReorder?: (nowMs: number) => void;
}
