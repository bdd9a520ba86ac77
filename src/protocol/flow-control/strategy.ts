/**
 * Flow control decides how far the sender's window may advance: the oldest
 * datagram is evicted only below the sequence the strategy releases.
 */

import type { ReceiverTable } from '../receiver-table';

export interface FlowControlStrategy {
  readonly name: 'min' | 'max' | 'none';
  /** Sequence of `streamId` below which window entries may be released (Infinity = no constraint). */
  releaseLimit(receivers: ReceiverTable, streamId: number): number;
  /** Whether transmission waits for the free space receivers advertise (their reorder and read buffers). */
  readonly pacesTransmit: boolean;
  /** Whether evicting data a live receiver has not acknowledged makes that receiver a laggard to report. */
  readonly reportsLaggards: boolean;
}
