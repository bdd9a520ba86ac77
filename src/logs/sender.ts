/**
 * The log sender: what blipcast/pino and blipcast/winston share. It owns one
 * channel on the log group and turns log lines into messages on the log
 * stream, following the contract of ./format.ts.
 *
 * The contract with the application: {@link LogSender.write} never blocks and
 * never throws. When the channel pushes back (`write()` returned false: a
 * slow collector under 'min' flow control, the rate limit), lines wait in a
 * queue bounded in bytes; beyond the bound they are dropped and counted, and
 * the exact count goes on the wire as one `{"blipcast":"dropped",…}` line
 * (format.ts, {@link droppedLine}) at the place of the gap, before the next
 * record that made it. So, at a collector, records delivered + the `dropped`
 * counts = records logged.
 *
 * {@link LogSender.close} is bounded: it hands everything queued to the
 * channel, then closes it (the channel waits for the collectors it knows,
 * see the defaults below), and gives up waiting at `closeTimeoutMs` — pino's
 * transport worker must be done within the 10 s thread-stream gives it at
 * process exit.
 */

import { open, type Channel, type CloseResult } from '../index';
import { droppedLine } from './format';
import { resolveOptions, type LogSenderOptions, type SenderConfig } from './sender-options';

export {
  DEFAULT_LOG_CLOSE_QUIET_MS, DEFAULT_LOG_CLOSE_TIMEOUT_MS, DEFAULT_LOG_LINGER_MS, DEFAULT_MAX_BUFFER_BYTES, type LogSenderOptions,
} from './sender-options';

/** A snapshot of a sender's counters. */
export interface LogSenderStats {
  /** Records handed to the channel (the dropped lines this sender wrote are not records). */
  recordsWritten: number;
  /** Records waiting in the sender's queue now, and their bytes. */
  recordsQueued: number;
  queuedBytes: number;
  /** Records dropped, in all: queue full, too large for a message, or written after close(). */
  recordsDropped: number;
  /** Of them, records written after close() began (no dropped line can follow those). */
  droppedAfterClose: number;
  /** `{"blipcast":"dropped",…}` lines written. */
  droppedLinesWritten: number;
  /** Bytes handed to the channel (records and dropped lines). */
  bytesWritten: number;
  /** Times write() found the channel pushing back. */
  backPressured: number;
  /** The channel's 'error' events (send failures), and failed writes. */
  errors: number;
  /** The channel's 'warning' events (limits against hostile input). */
  warnings: number;
  /** 'opening' → 'open' → 'closing' → 'closed'; 'failed' when the channel could not be opened. */
  state: LogSenderState;
  /** What the channel's close achieved; undefined until it ended (or when close timed out). */
  close: CloseResult | undefined;
  /** True when close() stopped waiting at closeTimeoutMs. */
  closeTimedOut: boolean;
}

export type LogSenderState = 'opening' | 'open' | 'closing' | 'closed' | 'failed';

/**
 * Opens a log sender: validates the options, opens the channel, and resolves
 * once it is open.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming the option
 *   (`options.maxBufferBytes must be …`), and whatever open() throws for the
 *   group, interface or key (NotMulticastError, UnknownInterfaceError, SystemError).
 *   Nothing is left open when it throws.
 */
export async function createLogSender(options: LogSenderOptions): Promise<LogSender> {
  const sender = new LogSender(options);
  await sender.ready;
  return sender;
}

/** Records waiting for the channel, in order, with the gaps where records were dropped. */
class LineQueue {
  /** Lines, and numbers standing for that many dropped records at that place. */
  private items: Array<string | number> = [];
  private head = 0;
  records = 0;
  bytes = 0;

  get isEmpty(): boolean {
    return this.head === this.items.length;
  }

  push(line: string, bytes: number): void {
    this.items.push(line);
    this.records++;
    this.bytes += bytes;
  }

  /** Counts one dropped record here: after what is queued, before what comes next. */
  drop(): void {
    const last = this.items.length - 1;
    if (last >= this.head && typeof this.items[last] === 'number') (this.items[last] as number)++;
    else this.items.push(1);
  }

  /** Empties the queue; returns how many records it held. */
  clear(): number {
    const records = this.records;
    this.items = [];
    this.head = 0;
    this.records = 0;
    this.bytes = 0;
    return records;
  }

  /** The next line or gap; undefined when empty. */
  shift(): string | number | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head++];
    if (typeof item === 'string') {
      this.records--;
      this.bytes -= Buffer.byteLength(item);
    }
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }
}

/**
 * One log sender. `new LogSender(options)` validates the options at once
 * (throwing the typed errors) and opens the channel in the background;
 * `ready` settles when it is open, and lines written before that wait in the
 * queue. {@link createLogSender} is the same, awaited.
 */
export class LogSender {
  /** Resolves once the channel is open; rejects with open()'s error (the sender then drops everything written). */
  readonly ready: Promise<void>;
  private readonly config: SenderConfig;
  private channel: Channel | undefined;
  private state: LogSenderState = 'opening';
  /** False while the channel pushes back (from a write() that returned false to its 'drain'). */
  private writable = false;
  private readonly queue = new LineQueue();
  private closing: Promise<LogSenderStats> | undefined;
  private recordsWritten = 0;
  private recordsDropped = 0;
  private droppedAfterClose = 0;
  private droppedLinesWritten = 0;
  private backPressured = 0;
  private errors = 0;
  private warnings = 0;
  private closeResult: CloseResult | undefined;
  private closeTimedOut = false;

  constructor(options: LogSenderOptions) {
    this.config = resolveOptions(options);
    this.ready = this.start();
    // A failed open is reported through `ready` (and close()); never as an unhandled rejection.
    this.ready.catch(() => undefined);
  }

  /**
   * Sends one record: `line` is the record's text without a trailing newline.
   * Never throws and never blocks: when the channel pushes back the line is
   * queued, and dropped (counted) when the queue is full.
   */
  write(line: string): void {
    if (this.state !== 'open' && this.state !== 'opening') {
      this.recordsDropped++;
      if (this.state !== 'failed') this.droppedAfterClose++;
      return;
    }
    if (this.writable && this.queue.isEmpty) {
      this.send(line);
      return;
    }
    const bytes = Buffer.byteLength(line);
    if (this.queue.bytes + bytes > this.config.maxBufferBytes) {
      this.recordsDropped++;
      this.queue.drop();
    } else {
      this.queue.push(line, bytes);
    }
  }

  /**
   * Closes the sender: what is queued goes to the channel (with a dropped
   * line where records were dropped), then the channel closes — waiting for
   * the collectors it knows, at most `lingerMs` without progress — and
   * close() resolves at the latest after `closeTimeoutMs`. Never rejects.
   * Every call returns the same promise.
   */
  close(): Promise<LogSenderStats> {
    this.closing ??= this.runClose();
    return this.closing;
  }

  stats(): LogSenderStats {
    return {
      recordsWritten: this.recordsWritten,
      recordsQueued: this.queue.records,
      queuedBytes: this.queue.bytes,
      recordsDropped: this.recordsDropped,
      droppedAfterClose: this.droppedAfterClose,
      droppedLinesWritten: this.droppedLinesWritten,
      bytesWritten: this.channel?.stats().channel.bytesWritten ?? 0,
      backPressured: this.backPressured,
      errors: this.errors,
      warnings: this.warnings,
      state: this.state,
      close: this.closeResult,
      closeTimedOut: this.closeTimedOut,
    };
  }

  private async start(): Promise<void> {
    let channel: Channel;
    try {
      channel = await open(this.config.open);
    } catch (err) {
      this.state = 'failed';
      this.recordsDropped += this.queue.clear();
      throw err;
    }
    this.channel = channel;
    if (this.closeTimedOut) {
      // close() gave up waiting for this open: nothing more will be written; it sent nothing, so it closes at once.
      this.recordsDropped += this.queue.clear();
      this.state = 'closed';
      channel.close().catch(() => undefined);
      return;
    }
    channel.on('error', () => {
      this.errors++;
    });
    channel.on('warning', () => {
      this.warnings++;
    });
    channel.on('drain', () => {
      this.writable = true;
      this.flush();
    });
    // It only writes: deliver nothing, so other senders' records are not kept for a reader that never comes.
    channel.unsubscribe(this.config.stream);
    if (this.state === 'opening') this.state = 'open';
    this.writable = true;
    this.flush();
  }

  /** Writes what is queued while the channel takes it; `all`: everything, past its back-pressure (at close). */
  private flush(all = false): void {
    while ((all || this.writable) && !this.queue.isEmpty) {
      const item = this.queue.shift()!;
      if (typeof item === 'string') this.send(item);
      else this.sendDropped(item);
    }
  }

  private send(line: string): void {
    const ok = this.channelWrite(line);
    if (ok === undefined) {
      // Too large for a message (or the channel refused it): the collectors learn that one record is missing here.
      this.recordsDropped++;
      this.sendDropped(1);
      return;
    }
    this.recordsWritten++;
    if (!ok) this.pushedBack();
  }

  private sendDropped(count: number): void {
    const ok = this.channelWrite(droppedLine(count));
    if (ok === undefined) return;
    this.droppedLinesWritten++;
    if (!ok) this.pushedBack();
  }

  /** channel.write(), never throwing: true/false as it returned, undefined when it threw. */
  private channelWrite(text: string): boolean | undefined {
    try {
      return this.channel!.write(text, this.config.stream);
    } catch {
      this.errors++;
      return undefined;
    }
  }

  private pushedBack(): void {
    this.writable = false;
    this.backPressured++;
  }

  private async runClose(): Promise<LogSenderStats> {
    const wasOpening = this.state === 'opening';
    if (this.state !== 'failed') this.state = 'closing';
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), Math.min(this.config.closeTimeoutMs, 2 ** 31 - 1));
    });
    try {
      if (wasOpening) {
        const opened = await Promise.race([this.ready.then(() => 'open' as const, () => 'failed' as const), deadline]);
        if (opened !== 'open') {
          if (opened === 'timeout') this.closeTimedOut = true;
          this.recordsDropped += this.queue.clear();
          return this.stats();
        }
      }
      if (this.state === 'failed' || this.channel === undefined) return this.stats();
      // The queue is bounded: hand all of it to the channel now, ignoring its back-pressure; its close sends it all.
      this.flush(true);
      const outcome = await Promise.race([this.channel.close(), deadline]);
      if (outcome === 'timeout') {
        this.closeTimedOut = true;
      } else {
        this.closeResult = outcome;
        // close() resolves from inside the native socket's close callback. Let that callback return before whoever
        // awaits this tears the thread down: pino's exit handler ends the process as soon as this resolves, and the
        // addon aborts the process when its thread is terminated inside that callback.
        await new Promise((resolve) => setImmediate(resolve));
      }
      if (this.state === 'closing') this.state = 'closed';
      return this.stats();
    } catch {
      // channel.close() does not reject; should it, the application still must not see it.
      this.errors++;
      if (this.state === 'closing') this.state = 'closed';
      return this.stats();
    } finally {
      clearTimeout(timer);
    }
  }
}
