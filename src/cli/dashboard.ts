/**
 * `blipcast dashboard GROUP:PORT --listen HOST:PORT`: watches the group as a
 * passive observer (src/observe/watcher.ts) and serves it as a live web page
 * (src/observe/dashboard.ts) until SIGINT/SIGTERM; then it closes the page's
 * connections, leaves the group and exits 0. `--stats` prints the channel's
 * and the dashboard's counters as one JSON line on stderr at exit.
 */

import { DEFAULT_DASHBOARD_LISTEN, serveDashboard } from '../observe/dashboard';
import { watchGroup } from '../observe/watcher';
import { intOption, parseCommand } from './args';
import { stringValue } from './bus-common';
import { parseListen } from './collect-metrics';
import { keyOption, onStopSignal, statsLine, transportOption } from './common';
import { UsageError } from './usage';

const OPTIONS = {
  listen: { type: 'string' },
  name: { type: 'string' },
  'key-file': { type: 'string' },
  stats: { type: 'boolean' },
} as const;

/** The dashboard's member name unless --name says otherwise. */
export const DEFAULT_DASHBOARD_NAME = 'blipcast-dashboard';

export async function dashboard(args: string[], io: { stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('dashboard', args, OPTIONS);
  if (values.stream !== undefined) throw new UsageError('--stream does not apply: the dashboard watches every stream of the group');
  const listenText = stringValue(values, 'listen');
  const listen = listenText === undefined ? DEFAULT_DASHBOARD_LISTEN : parseListen(listenText);
  const ttl = intOption(values, 'ttl', 0, 255);
  const interfaceName = stringValue(values, 'interface');

  const watcher = await watchGroup({
    group: groupText,
    ...(interfaceName !== undefined ? { interface: interfaceName } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...transportOption(values),
    ...keyOption(values, process.env, io.stderr),
    name: stringValue(values, 'name') ?? DEFAULT_DASHBOARD_NAME,
  });
  watcher.on('error', (err: Error) => io.stderr.write(`blipcast: ${err.message}\n`));
  let served;
  try {
    served = await serveDashboard(watcher, listen);
  } catch (err) {
    await watcher.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') {
      throw new Error(`cannot listen on ${listen.host}:${listen.port}: ${e.code}${listenText === undefined ? ' (choose another with --listen HOST:PORT)' : ''}`);
    }
    throw err;
  }
  io.stderr.write(`dashboard: ${served.url}\n`);

  // Ctrl-C / SIGTERM: close the page's connections, leave the group (the others see 'leave', not 'dead'), exit 0.
  let unhook = (): void => {};
  await new Promise<void>((resolve) => {
    unhook = onStopSignal(() => resolve());
  });
  await served.close();
  await watcher.close();
  unhook();
  if (values.stats === true) io.stderr.write(statsLine(watcher.channel.stats(), { dashboard: served.stats() }));
  return 0;
}
