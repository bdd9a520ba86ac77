/**
 * `blipcast collect metrics GROUP:PORT --listen HOST:PORT`: a metrics
 * collector (blipcast/metrics) serving /metrics and /metrics/aggregate until
 * SIGINT/SIGTERM (then it leaves the group and exits 0). `--stats` prints its
 * counters as one JSON line on stderr at exit, and on SIGUSR1 without exiting.
 */

import { createMetricsCollector, DEFAULT_METRICS_STREAM, GAUGE_RULES } from '../metrics/index';
import { choiceOption, intOption, parseCommand, type Parsed } from './args';
import { keyOption, onStopSignal, statsLine, transportOption } from './common';
import { UsageError } from './usage';

const OPTIONS = {
  listen: { type: 'string' },
  job: { type: 'string' },
  'gauge-rule': { type: 'string' },
  'key-file': { type: 'string' },
  stats: { type: 'boolean' },
} as const;

/** `HOST:PORT` or `[IPv6]:PORT` of --listen. @throws UsageError */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = m === null ? NaN : Number(m[3]);
  if (m === null || port > 65535) throw new UsageError(`--listen must be HOST:PORT with a port from 0 to 65535, e.g. 127.0.0.1:9464 (got ${text})`);
  return { host: m[1] ?? m[2]!, port };
}

function stringValue(values: Parsed['values'], name: string): string | undefined {
  const v = values[name];
  if (v === '') throw new UsageError(`--${name} must not be empty`);
  return typeof v === 'string' ? v : undefined;
}

export async function collectMetrics(args: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('collect metrics', args, OPTIONS);
  const listenText = stringValue(values, 'listen');
  if (listenText === undefined) throw new UsageError('missing --listen HOST:PORT (where to serve /metrics)');
  const listen = parseListen(listenText);
  const ttl = intOption(values, 'ttl', 0, 255);
  const gaugeRule = choiceOption(values, 'gauge-rule', GAUGE_RULES);
  const job = stringValue(values, 'job');
  const stream = stringValue(values, 'stream');
  const interfaceName = stringValue(values, 'interface');

  const collector = await createMetricsCollector({
    group: groupText,
    ...(interfaceName !== undefined ? { interface: interfaceName } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...transportOption(values),
    ...keyOption(values, process.env, io.stderr),
    ...(stream !== undefined ? { stream } : {}),
    ...(job !== undefined ? { job } : {}),
    ...(gaugeRule !== undefined ? { gaugeRule } : {}),
    listen,
  });
  collector.channel.on('error', (err: Error) => io.stderr.write(`blipcast: ${err.message}\n`));
  io.stderr.write(`blipcast: collecting metrics of ${groupText} (stream '${stream ?? DEFAULT_METRICS_STREAM}'), serving ${collector.url}/metrics and ${collector.url}/metrics/aggregate\n`);

  const printStats = (): void => {
    io.stderr.write(statsLine(collector.channel.stats(), { collector: collector.stats() }));
  };
  const onUsr1 = values.stats === true ? printStats : undefined;
  if (onUsr1 !== undefined) process.on('SIGUSR1', onUsr1);
  // Ctrl-C / SIGTERM: stop serving, leave the group (the others see 'leave', not 'dead'), exit 0.
  let unhook = (): void => {};
  await new Promise<void>((resolve) => {
    unhook = onStopSignal(() => resolve());
  });
  if (onUsr1 !== undefined) process.removeListener('SIGUSR1', onUsr1);
  await collector.close();
  unhook();
  if (values.stats === true) printStats();
  return 0;
}
