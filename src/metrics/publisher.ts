/**
 * publishMetrics(): sends a prom-client registry to a multicast group as one
 * JSON snapshot per interval (format.ts), on a channel that is a member of the
 * group, so collectors know the instance by name and see it leave.
 *
 * A publisher never crashes the application it measures: a failing collection,
 * a refused write and a channel error are counted (stats()), never thrown.
 */

import type { Registry } from 'prom-client';
import { InvalidArgumentTypeError, open, type Channel, type GroupKeyInput, type OpenOptions, type TransportChoice } from '../index';
import {
  DEFAULT_METRICS_STREAM, DEFAULT_PUBLISH_INTERVAL_MS, MAX_PUBLISH_INTERVAL_MS, MIN_PUBLISH_INTERVAL_MS, PUBLISHER_CLOSE_QUIET_MS, PUBLISHER_LINGER_MS,
} from './constants';
import { defaultInstanceName, encodeSnapshot, isMetricsCollector, publisherMember, type PromMetricJson } from './format';
import { checkKnown, describe, numberOption, passThrough, stringOption } from '../apps/options';

export interface PublishMetricsOptions {
  /** `'239.255.0.1:5000'`: the group collectors listen on. */
  group: string;
  /** As open(): the interface by name or address (default: the system's multicast interface). */
  interface?: string;
  /** As open(): multicast TTL, 0–255 (default 1). */
  ttl?: number;
  /** As open(): `'auto'` (default), `'native'` or `'dgram'`. */
  transport?: TransportChoice;
  /** As open(): the group key when the group is encrypted. */
  key?: GroupKeyInput;
  /** Time between snapshots, ms (default 5000, at least 10). One is published at start. */
  intervalMs?: number;
  /** The stream snapshots go on (default `'metrics'`); collectors must read the same. */
  stream?: string;
  /** The instance name collectors label the series with (member name; default `host:pid`). */
  name?: string;
  /** The `job` label of this instance (member metadata); default: the collector's job. */
  job?: string;
}

const KNOWN_OPTIONS = ['group', 'interface', 'ttl', 'transport', 'key', 'intervalMs', 'stream', 'name', 'job'] as const;

/** A publisher's counters, a copy the caller may keep. */
export interface PublisherStats {
  /** Snapshots written to the channel. */
  snapshotsPublished: number;
  /** Snapshots not written because the channel was back-pressured (a write returned false and no 'drain' came since). */
  snapshotsSkipped: number;
  /** Intervals that found the previous collection still running (a registry slower than the interval). */
  collectionsBusy: number;
  /** Bytes of the snapshots written (JSON text). */
  bytesPublished: number;
  /** `registry.getMetricsAsJSON()` rejected or threw. */
  collectErrors: number;
  /** `write()` threw (a snapshot above the channel's maxMessageBytes, a closed channel). */
  sendErrors: number;
  /** The channel's `'error'` events (socket send failures). */
  channelErrors: number;
  /** The message of the last error counted above, if any. */
  lastError: string | undefined;
}

/** What publishMetrics() resolves with. */
export interface MetricsPublisher {
  /** The instance name collectors see. */
  readonly name: string;
  /** The channel snapshots go out on (for its stats() and group); close it through stop(). */
  readonly channel: Channel;
  stats(): PublisherStats;
  /** Publishes one snapshot now, under the same rules as the timer (skipped when back-pressured, counted on failure); never rejects. */
  publishNow(): Promise<void>;
  /**
   * Stops the timer, closes the channel (the member leaves the group:
   * collectors drop the instance at once); a collection still in progress is
   * not waited for, and its snapshot is not sent.
   * Bounded: the channel gives up collectors that make no progress for 1 s.
   * Every call returns the same promise; it never rejects.
   */
  stop(): Promise<void>;
}

/**
 * Publishes `registry` to the group: one snapshot at once (published when
 * this resolves, unless collecting it takes longer than `intervalMs`: then
 * this resolves after `intervalMs` and the snapshot goes out when it can),
 * then one every `intervalMs`.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming the bad
 *   option (nothing opened), and whatever open() throws for the channel options.
 */
export async function publishMetrics(registry: Pick<Registry, 'getMetricsAsJSON'>, options: PublishMetricsOptions): Promise<MetricsPublisher> {
  if (typeof registry !== 'object' || registry === null || typeof (registry as { getMetricsAsJSON?: unknown }).getMetricsAsJSON !== 'function') {
    throw new InvalidArgumentTypeError(`registry must be a prom-client Registry (with getMetricsAsJSON()), got ${describe(registry)}`);
  }
  checkKnown(options, KNOWN_OPTIONS);
  const intervalMs = numberOption(options, 'intervalMs', MIN_PUBLISH_INTERVAL_MS, MAX_PUBLISH_INTERVAL_MS) ?? DEFAULT_PUBLISH_INTERVAL_MS;
  const stream = stringOption(options, 'stream') ?? DEFAULT_METRICS_STREAM;
  const name = stringOption(options, 'name') ?? defaultInstanceName();
  const job = stringOption(options, 'job');
  const channel = await open({
    ...(passThrough(options, ['group', 'interface', 'ttl', 'transport', 'key']) as Pick<OpenOptions, 'group'>),
    member: publisherMember(name, job),
    paceTo: isMetricsCollector,
    lingerMs: PUBLISHER_LINGER_MS,
    closeQuietMs: PUBLISHER_CLOSE_QUIET_MS,
  });
  let publisher: Publisher;
  try {
    publisher = new Publisher(registry, channel, name, stream, intervalMs);
  } catch (err) {
    // A stream name the channel refuses (too long): leave nothing open.
    await channel.close();
    throw err;
  }
  // The first snapshot is out when this resolves, unless the registry takes longer than an interval to collect.
  let waited: NodeJS.Timeout | undefined;
  await Promise.race([publisher.publishNow(), new Promise<void>((resolve) => (waited = setTimeout(resolve, intervalMs)))]);
  clearTimeout(waited);
  publisher.start();
  return publisher;
}

class Publisher implements MetricsPublisher {
  private readonly counters: PublisherStats = {
    snapshotsPublished: 0, snapshotsSkipped: 0, collectionsBusy: 0, bytesPublished: 0, collectErrors: 0, sendErrors: 0, channelErrors: 0, lastError: undefined,
  };
  private timer: NodeJS.Timeout | undefined;
  private collecting: Promise<void> | undefined;
  private backPressured = false;
  private stopping: Promise<void> | undefined;

  constructor(
    private readonly registry: Pick<Registry, 'getMetricsAsJSON'>,
    readonly channel: Channel,
    readonly name: string,
    private readonly stream: string,
    private readonly intervalMs: number,
  ) {
    // It only writes: deliver nothing (the other publishers' snapshots are not kept for a reader that never comes).
    channel.unsubscribe(stream);
    channel.on('error', (err: Error) => this.count('channelErrors', err));
    channel.on('drain', () => {
      this.backPressured = false;
    });
  }

  start(): void {
    // unref: the channel, while open, is what keeps the process up; the timer adds nothing to that.
    this.timer = setInterval(() => {
      if (this.collecting !== undefined) this.counters.collectionsBusy++;
      else void this.publishNow();
    }, this.intervalMs).unref();
  }

  stats(): PublisherStats {
    return { ...this.counters };
  }

  publishNow(): Promise<void> {
    if (this.stopping !== undefined) return Promise.resolve();
    this.collecting ??= this.publish().finally(() => {
      this.collecting = undefined;
    });
    return this.collecting;
  }

  private async publish(): Promise<void> {
    if (this.backPressured) {
      this.counters.snapshotsSkipped++;
      return;
    }
    let text: string;
    try {
      text = encodeSnapshot(this.intervalMs, (await this.registry.getMetricsAsJSON()) as unknown as PromMetricJson[]);
    } catch (err) {
      this.count('collectErrors', err);
      return;
    }
    if (this.stopping !== undefined) return;
    try {
      const data = Buffer.from(text, 'utf8');
      // false: accepted, but the queue is full; the next snapshots are skipped until 'drain'.
      if (!this.channel.write(data, this.stream)) this.backPressured = true;
      this.counters.snapshotsPublished++;
      this.counters.bytesPublished += data.length;
    } catch (err) {
      this.count('sendErrors', err);
    }
  }

  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      // A collection in progress is not waited for (it may never end): its snapshot is dropped when it does.
      try {
        await this.channel.close();
      } catch (err) {
        this.count('channelErrors', err);
      }
    })();
    return this.stopping;
  }

  private count(counter: 'collectErrors' | 'sendErrors' | 'channelErrors', err: unknown): void {
    this.counters[counter]++;
    this.counters.lastError = err instanceof Error ? err.message : String(err);
  }
}
