/** 'none': receivers are not consulted; the window's byte and message bounds alone decide eviction. */

import type { FlowControlStrategy } from './strategy';

export const noFlowControl: FlowControlStrategy = {
  name: 'none',
  pacesTransmit: false,
  reportsLaggards: false,
  releaseLimit() {
    return Infinity;
  },
};
