/**
 * `blipcast/winston`: a winston transport that sends each log call to a
 * multicast group, for whatever log collectors listen there
 * (docs/logging-senders.md).
 *
 * ```js
 * const { BlipcastTransport, closeLogger } = require('blipcast/winston');
 * const logger = winston.createLogger({
 *   transports: [new BlipcastTransport({ group: '239.255.0.1:5000', interface: '127.0.0.1', ttl: 0 })],
 * });
 * logger.info('hello');
 * await closeLogger(logger);   // before the process exits: delivers what is still queued
 * ```
 *
 * One message per log call: the formatted line (`info[Symbol.for('message')]`,
 * what the logger's format produced, e.g. `format.json()`), else the info as
 * JSON. Unlike pino's transport it runs on the application's thread, so an
 * application that exits must let it close first: `await closeLogger(logger)`,
 * or `logger.end()` and wait for the logger's `'finish'` (winston 3.19's logger
 * waits for its transports' `'finish'` in its _final, and this transport
 * finishes once its sender closed). A `process.exit()` that does not wait loses what was not sent yet.
 * Until closed, the channel keeps the process alive.
 */

import TransportStream from 'winston-transport';
import { LogSender, type LogSenderOptions, type LogSenderStats } from './sender';

export type { LogSenderOptions, LogSenderStats } from './sender';

/** The key winston's formats put the finished line under (triple-beam's MESSAGE). */
const MESSAGE = Symbol.for('message');

/** The options of winston's own: level, format, silent, handleExceptions, handleRejections. */
type WinstonOptions = Pick<TransportStream.TransportStreamOptions, 'level' | 'format' | 'silent' | 'handleExceptions' | 'handleRejections'>;

/** A log sender's options, plus winston's own for a transport. */
export interface WinstonTransportOptions extends LogSenderOptions, WinstonOptions {}

/**
 * The transport. The constructor validates the options (throwing
 * InvalidArgumentTypeError / InvalidArgumentValueError naming the option)
 * and opens the channel in the background: calls logged meanwhile wait in the
 * sender's queue. When the channel cannot be opened (an unknown interface, a
 * socket error), the transport emits `'error'` — winston passes it on as the
 * logger's `'error'`, which fails the application at start unless handled;
 * {@link createBlipcastTransport} rejects instead.
 */
export class BlipcastTransport extends TransportStream {
  /** Resolves once the channel is open; rejects with the reason it could not be. */
  readonly ready: Promise<void>;
  private readonly sender: LogSender;
  /** False when the caller awaits `ready` itself ({@link createBlipcastTransport}): no 'error' for a failed start then. */
  private emitStartError = true;

  constructor(options: WinstonTransportOptions) {
    const { level, format, silent, handleExceptions, handleRejections, ...senderOptions } = (options ?? {}) as WinstonTransportOptions;
    super({ level, format, silent, handleExceptions, handleRejections });
    this.sender = new LogSender(senderOptions as LogSenderOptions);
    this.ready = this.sender.ready;
    this.ready.catch((err: unknown) => {
      if (this.emitStartError) this.emit('error', err);
    });
  }

  /** One record per call; never throws, never waits (winston's callback is called at once). */
  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.sender.write(lineOf(info));
    next();
  }

  /**
   * Closes the sender (what is queued is sent, collectors are waited for,
   * bounded by `closeTimeoutMs`) and resolves with its counters. Called by
   * winston when the transport is removed (`logger.remove()`, `logger.close()`);
   * ending the logger closes it too. Every call returns the same promise.
   */
  override close(): Promise<LogSenderStats> {
    return this.sender.close();
  }

  /** The sender's counters: records written, queued, dropped, … (see LogSenderStats). */
  stats(): LogSenderStats {
    return this.sender.stats();
  }

  /** Writable's end of stream: 'finish' waits for the sender's close. */
  override _final(callback: (err?: Error | null) => void): void {
    this.sender.close().then(() => callback(), () => callback());
  }

  /** @internal */
  static quietStart(transport: BlipcastTransport): void {
    transport.emitStartError = false;
  }
}

/**
 * A transport whose channel is open: rejects with the typed error when an
 * option is bad or the channel cannot be opened (nothing is left open then).
 */
export async function createBlipcastTransport(options: WinstonTransportOptions): Promise<BlipcastTransport> {
  const transport = new BlipcastTransport(options);
  BlipcastTransport.quietStart(transport);
  await transport.ready;
  return transport;
}

/** The part of a winston Logger that {@link closeLogger} uses. */
export interface EndableLogger {
  end(): unknown;
  transports: readonly unknown[];
}

/**
 * Ends the logger and resolves once every blipcast transport of it has
 * closed: call it before the process exits. Bounded by the transports'
 * `closeTimeoutMs` (8 s by default). Never rejects.
 */
export async function closeLogger(logger: EndableLogger): Promise<void> {
  const ours = logger.transports.filter((t): t is BlipcastTransport => t instanceof BlipcastTransport);
  logger.end();
  // The logger's end reaches each transport's _final, which closes its sender; close() is that same promise.
  await Promise.all(ours.map((t) => new Promise<void>((resolve) => {
    // readable-stream 3 (winston-transport's Writable) has no writableFinished.
    if ((t as unknown as { _writableState?: { finished?: boolean } })._writableState?.finished === true) resolve();
    else t.once('finish', () => resolve());
  }).then(() => t.close())));
}

/** The line to send for one log call. */
function lineOf(info: Record<string | symbol, unknown>): string {
  const formatted = info[MESSAGE];
  if (typeof formatted === 'string') return formatted;
  try {
    return JSON.stringify(info);
  } catch {
    // A cycle, a BigInt: the level and the message at least.
    return JSON.stringify({ level: String(info.level), message: String(info.message) });
  }
}
