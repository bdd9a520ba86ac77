/**
 * `blipcast collect logs GROUP:PORT --dir DIR`: a log collector
 * (src/logs/collector.ts) until SIGINT/SIGTERM, which flush the files and
 * the checkpoint, leave the group and exit 0. SIGUSR1 prints the counters
 * as one JSON line on stderr (so does --stats at exit).
 */

import { createLogCollector, parseRotate } from '../logs/index';
import { choiceOption, intOption, parseCommand } from './args';
import { keyOption, onStopSignal, statsLine, transportOption } from './common';
import { UsageError } from './usage';

const OPTIONS = {
  dir: { type: 'string' },
  'key-file': { type: 'string' },
  rotate: { type: 'string' },
  from: { type: 'string' },
  name: { type: 'string' },
  stats: { type: 'boolean' },
} as const;

export async function collectLogs(args: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('collect logs', args, OPTIONS);
  const dir = values.dir;
  if (typeof dir !== 'string' || dir === '') throw new UsageError('--dir DIR is required');
  const ttl = intOption(values, 'ttl', 0, 255);
  const from = choiceOption(values, 'from', ['next', 'earliest'] as const) ?? 'next';
  const rotate = typeof values.rotate === 'string' ? values.rotate : undefined;
  if (rotate !== undefined) {
    try {
      parseRotate(rotate);
    } catch (err) {
      throw new UsageError(`--${(err as Error).message}`);
    }
  }
  if (values.name === '') throw new UsageError('--name must not be empty');
  const key = keyOption(values, process.env, io.stderr);

  const collector = await createLogCollector({
    group: groupText,
    dir,
    ...(typeof values.interface === 'string' ? { interface: values.interface } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...(typeof values.stream === 'string' ? { stream: values.stream } : {}),
    ...key,
    from,
    ...(rotate !== undefined ? { rotate } : {}),
    ...(typeof values.name === 'string' ? { name: values.name } : {}),
    channel: transportOption(values),
  });
  collector.on('warning', (err) => io.stderr.write(`blipcast: warning: ${err.message}\n`));
  const onUsr1 = (): void => void io.stderr.write(statsLine(collector.counters()));
  process.on('SIGUSR1', onUsr1);
  io.stderr.write(`blipcast: collecting '${collector.stream}' of ${groupText} into ${dir} (collector ${collector.channel.info.sessionId})\n`);

  let unhook = (): void => {};
  await new Promise<void>((resolve) => {
    unhook = onStopSignal(() => resolve());
  });
  await collector.close();
  unhook();
  process.removeListener('SIGUSR1', onUsr1);
  if (values.stats === true) io.stderr.write(statsLine(collector.counters()));
  return 0;
}
