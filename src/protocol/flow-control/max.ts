/**
 * 'max': the window advances past what the fastest receiver has
 * acknowledged. Slower receivers are not waited for: data they still need may
 * leave the window, and they get loss events ('flow-control'); the sender
 * reports each such receiver once ('receiver-dropped', reason 'slow').
 */

import type { FlowControlStrategy } from './strategy';

export const maxFlowControl: FlowControlStrategy = {
  name: 'max',
  pacesTransmit: false,
  reportsLaggards: true,
  releaseLimit(receivers, streamId) {
    return receivers.ackBounds(streamId)?.max ?? Infinity;
  },
};
