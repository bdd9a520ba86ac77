/** Flow-control strategies by name. */

import type { FlowControl } from '../api';
import { maxFlowControl } from './max';
import { minFlowControl } from './min';
import { noFlowControl } from './none';
import type { FlowControlStrategy } from './strategy';

export type { FlowControlStrategy } from './strategy';

export function flowControlByName(name: FlowControl): FlowControlStrategy {
  switch (name) {
    case 'min':
      return minFlowControl;
    case 'max':
      return maxFlowControl;
    case 'none':
      return noFlowControl;
  }
}
