/** `blipcast collect logs|metrics`: the collectors of the logging and metrics apps. */

import { collectLogs } from './collect-logs';
import { collectMetrics } from './collect-metrics';
import { UsageError } from './usage';

export async function collect(args: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const [what, ...rest] = args;
  switch (what) {
    case 'logs':
      return collectLogs(rest, io);
    case 'metrics':
      return collectMetrics(rest, io);
    default:
      throw new UsageError(what === undefined ? "collect what? 'blipcast collect logs' or 'blipcast collect metrics'" : `unknown collector '${what}': 'logs' or 'metrics'`);
  }
}
