/**
 * `blipcast/pino`: a pino transport that sends each log record to a multicast
 * group, for whatever log collectors listen there (docs/logging-senders.md).
 *
 * ```js
 * const logger = pino(pino.transport({
 *   target: 'blipcast/pino',
 *   options: { group: '239.255.0.1:5000', interface: '127.0.0.1', ttl: 0 },
 * }));
 * ```
 *
 * pino runs it in its transport worker thread (thread-stream): the channel
 * lives there, off the application's thread. Each record goes out as pino
 * wrote it (the line, without the newline; never parsed nor re-serialized).
 * The worker reads pino's ring buffer as fast as it fills — it never pushes
 * back on it: when the channel does, the sender queues and, beyond its bound,
 * drops and counts (./sender.ts). At the end (`logger` flushed at process
 * exit, even after `process.exit()`), the transport closes the sender, and
 * pino's exit handler waits for that: at most `closeTimeoutMs`, 8 s by
 * default, under the 10 s thread-stream allows.
 *
 * pino loads a target with `import()` and takes `.default`, twice if it must
 * (for `exports.default` of transpiled modules): the default export below
 * serves `target: 'blipcast/pino'` and `targets: [{ target: 'blipcast/pino' }]`
 * alike. From CommonJS: `require('blipcast/pino').default`.
 */

import build from 'pino-abstract-transport';
import type { Transform } from 'node:stream';
import { createLogSender, type LogSender, type LogSenderOptions } from './sender';

export type { LogSenderOptions, LogSenderStats } from './sender';

/** The `options` of `pino.transport({ target: 'blipcast/pino', options })`: those of a log sender. */
export type PinoTransportOptions = LogSenderOptions;

/** What the split stream hands on instead of a parsed record: the line is never parsed. */
const NOT_PARSED = Object.freeze({});

/**
 * Builds the transport stream (pino calls it in its worker with the target's
 * `options`). Rejects — failing the transport at start, loudly, in the
 * application — when an option is bad or the channel cannot be opened.
 */
export default async function blipcastPinoTransport(options: PinoTransportOptions): Promise<Transform> {
  const sender = await createLogSender(senderOptions(options));
  return pinoStream(sender);
}

/** The transport stream over an open sender: one record per line; its end closes the sender. */
export function pinoStream(sender: LogSender): Transform {
  return build(
    (source) => {
      // Synchronous and never refusing: the worker can always move on to pino's next chunk.
      source.on('data', (line: string) => {
        if (line.length > 0) sender.write(line);
      });
    },
    {
      parse: 'lines',
      // The line is what is sent; JSON.parse of each record (the default, for pino's metadata) would be wasted.
      parseLine: () => NOT_PARSED,
      metadata: false,
      close: async () => {
        await sender.close();
      },
    },
  );
}

/** The target's options without what pino and thread-stream add to them. */
function senderOptions(options: PinoTransportOptions): LogSenderOptions {
  if (options === null || typeof options !== 'object') return options;
  const { pinoWillSendConfig: _pino, $context: _context, ...rest } = options as PinoTransportOptions & { pinoWillSendConfig?: unknown; $context?: unknown };
  return rest;
}
