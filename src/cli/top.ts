/**
 * `blipcast top GROUP:PORT`: a live view of the group from a passive
 * observer (docs/observe.md): receivers worst first (lag, NAK rate, losses),
 * sources with their rates, members with their metadata. On a TTY it redraws
 * in place every --interval; otherwise it prints one block per interval.
 * `--once` prints one snapshot after --wait and exits; `--json` prints it as JSON.
 */

import { watchGroup } from '../observe/watcher';
import { formatSnapshot } from '../observe/format';
import type { GroupSnapshot } from '../observe/types';
import { intOption, parseCommand, secondsOption } from './args';
import { hintIfEncrypted, keyOption, onStopSignal, statsLine, transportOption } from './common';
import { UsageError } from './usage';

const OPTIONS = {
  'key-file': { type: 'string' },
  name: { type: 'string' },
  interval: { type: 'string' },
  wait: { type: 'string' },
  once: { type: 'boolean' },
  json: { type: 'boolean' },
  stats: { type: 'boolean' },
} as const;

/** Default --wait of --once: long enough for announces, several status rounds and a rate interval. */
export const DEFAULT_ONCE_WAIT_MS = 3000;

/** ANSI: cursor home, clear the screen. */
const REDRAW = '\x1b[H\x1b[2J';

export async function top(args: string[], io: { stdout: NodeJS.WritableStream & { isTTY?: boolean; rows?: number }; stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('top', args, OPTIONS);
  if (typeof values.stream === 'string') throw new UsageError('top watches the whole group: --stream does not apply');
  const ttl = intOption(values, 'ttl', 0, 255);
  const intervalMs = secondsOption(values, 'interval') ?? 1000;
  if (intervalMs < 100) throw new UsageError('--interval must be at least 0.1 seconds');
  const once = values.once === true;
  const json = values.json === true;
  const waitMs = secondsOption(values, 'wait');
  if (waitMs !== undefined && !once) throw new UsageError('--wait applies to --once');
  const key = keyOption(values, process.env, io.stderr);

  const watcher = await watchGroup({
    group: groupText,
    ...(typeof values.interface === 'string' ? { interface: values.interface } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...transportOption(values),
    ...key,
    ...(typeof values.name === 'string' ? { name: values.name } : {}),
    intervalMs,
  });
  watcher.on('error', (err) => io.stderr.write(`blipcast: ${err.message}\n`));
  // Without a key, sealed datagrams are dropped and counted: say why the group looks empty (as listen does).
  const stopHint = key.key !== undefined ? () => undefined : hintIfEncrypted(watcher.channel, io.stderr, (stats) => stats.protocol.datagramsReceived);
  const render = (s: GroupSnapshot): string => (json ? JSON.stringify(s) + '\n' : formatSnapshot(s, io.stdout.isTTY === true ? Math.max(3, Math.floor(((io.stdout.rows ?? 40) - 12) / 3)) : Infinity));

  let stopped: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (stopped = resolve));
  const unhook = onStopSignal(() => stopped());
  try {
    if (once) {
      const timer = setTimeout(stopped, waitMs ?? DEFAULT_ONCE_WAIT_MS);
      await done;
      clearTimeout(timer);
      io.stdout.write(render(watcher.take()));
    } else {
      const tty = io.stdout.isTTY === true && !json;
      const show = (s: GroupSnapshot): void => {
        io.stdout.write(tty ? REDRAW + render(s) : render(s) + (json ? '' : '\n'));
      };
      watcher.on('snapshot', show);
      await done;
      watcher.off('snapshot', show);
    }
  } finally {
    unhook();
    stopHint();
    await watcher.close();
    if (values.stats === true) io.stderr.write(statsLine(watcher.channel.stats()));
  }
  await new Promise<void>((resolve) => io.stdout.write('', () => resolve()));
  return 0;
}
