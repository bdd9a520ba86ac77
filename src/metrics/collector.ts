/**
 * createMetricsCollector(): joins the group as a member, keeps the latest
 * snapshot of every publisher (instance-table.ts) and serves them for
 * Prometheus over node:http: `GET /metrics` (every instance, labelled) and
 * `GET /metrics/aggregate` (combined per job), rendered by prom-client
 * (exposition.ts). Anything else is 404.
 *
 * This file owns the clock (read once per received batch, scrape and sweep),
 * the channel and the HTTP server; what it serves depends only on the
 * snapshots held and the group's member list.
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { prometheusContentType } from 'prom-client';
import { InvalidArgumentTypeError, InvalidArgumentValueError, open, type Channel, type GroupKeyInput, type MessageBatch, type OpenOptions, type TransportChoice } from '../index';
import { DEFAULT_JOB, DEFAULT_METRICS_STREAM, EXPIRE_SWEEP_MS } from './constants';
import { aggregation, exposition, GAUGE_RULES, type GaugeRule, type Rendered } from './exposition';
import { collectorMember, decodeSnapshot, defaultInstanceName } from './format';
import { InstanceTable, type LiveInstance } from './instance-table';
import { checkKnown, choiceOption, describe, passThrough, stringOption } from '../apps/options';

export interface MetricsCollectorOptions {
  /** `'239.255.0.1:5000'`: the group the publishers publish to. */
  group: string;
  /** As open(): the interface by name or address (default: the system's multicast interface). */
  interface?: string;
  /** As open(): multicast TTL, 0–255 (default 1). */
  ttl?: number;
  /** As open(): `'auto'` (default), `'native'` or `'dgram'`. */
  transport?: TransportChoice;
  /** As open(): the group key when the group is encrypted. */
  key?: GroupKeyInput;
  /** The stream the publishers use (default `'metrics'`). */
  stream?: string;
  /** The `job` label of instances whose publisher named none (default `'blipcast'`). */
  job?: string;
  /** How `/metrics/aggregate` combines gauges left at prom-client's default aggregator (default `'sum'`, as prom-client). */
  gaugeRule?: GaugeRule;
  /** This collector's member name (default `host:pid`). */
  name?: string;
  /** Serve HTTP on this address (e.g. `{ host: '127.0.0.1', port: 9464 }`; port 0 picks a free one). Without it, nothing listens: use metrics() or handleRequest(). */
  listen?: { host: string; port: number };
}

const KNOWN_OPTIONS = ['group', 'interface', 'ttl', 'transport', 'key', 'stream', 'job', 'gaugeRule', 'name', 'listen'] as const;

/** A collector's counters, a copy the caller may keep. */
export interface CollectorStats {
  /** Messages received on the stream. */
  snapshotsReceived: number;
  /** Messages that were not a snapshot (not JSON, another version, no metrics array, a bad interval): dropped. */
  snapshotsInvalid: number;
  /** Metrics dropped from otherwise good snapshots (a name or label Prometheus rejects, a bad value, a repeated name). */
  metricsInvalid: number;
  /** Instances served now (gauge). */
  instances: number;
  /** Sessions whose latest snapshot is held, served or not (gauge). */
  sessionsHeld: number;
  /** Sessions forgotten because they stopped publishing for three intervals. */
  instancesExpired: number;
  /** Sessions forgotten because their member left or was declared dead. */
  instancesGone: number;
  /** `GET /metrics` and `GET /metrics/aggregate` answered (HTTP or metrics()/aggregatedMetrics()). */
  scrapes: number;
  aggregateScrapes: number;
  /** Requests for any other path (404) or with another method (405). */
  notFound: number;
  /** Metrics left out of a rendering because another instance has the name with another type (summed over renderings). */
  conflicts: number;
  /** Renderings that failed (answered 500), and channel errors. */
  errors: number;
}

/** What createMetricsCollector() resolves with. */
export interface MetricsCollector {
  /** The channel it reads (for its stats() and group); close it through close(). */
  readonly channel: Channel;
  /** `http://host:port` it serves on, when opened with `listen`. */
  readonly url: string | undefined;
  /** The content type of what metrics() and aggregatedMetrics() return (Prometheus text format 0.0.4). */
  readonly contentType: string;
  /** The text of `GET /metrics`. */
  metrics(): Promise<string>;
  /** The text of `GET /metrics/aggregate`. */
  aggregatedMetrics(): Promise<string>;
  /** The request handler of the server, to mount on a server of your own. */
  handleRequest(req: IncomingMessage, res: ServerResponse): void;
  stats(): CollectorStats;
  /** Stops serving (open connections are closed), leaves the group, closes the channel. Every call returns the same promise. */
  close(): Promise<void>;
}

/**
 * Opens the collector; with `listen`, resolves once the server listens.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming the bad
 *   option (nothing opened), whatever open() throws for the channel options,
 *   and the server's listen error (`EADDRINUSE`, …; the channel is closed again).
 */
export async function createMetricsCollector(options: MetricsCollectorOptions): Promise<MetricsCollector> {
  checkKnown(options, KNOWN_OPTIONS);
  const stream = stringOption(options, 'stream') ?? DEFAULT_METRICS_STREAM;
  const job = stringOption(options, 'job') ?? DEFAULT_JOB;
  const name = stringOption(options, 'name') ?? defaultInstanceName();
  const gaugeRule = choiceOption(options, 'gaugeRule', GAUGE_RULES) ?? 'sum';
  const listen = listenOption(options.listen);
  const channel = await open({
    ...(passThrough(options, ['group', 'interface', 'ttl', 'transport', 'key']) as Pick<OpenOptions, 'group'>),
    member: collectorMember(name),
    // It never writes: nothing to linger for.
    lingerMs: 0,
  });
  let collector: Collector;
  try {
    collector = new Collector(channel, stream, job, gaugeRule);
  } catch (err) {
    // A stream name the channel refuses (too long): leave nothing open.
    await channel.close();
    throw err;
  }
  if (listen !== undefined) {
    try {
      await collector.listen(listen.host, listen.port);
    } catch (err) {
      await collector.close();
      throw err;
    }
  }
  return collector;
}

function listenOption(v: unknown): { host: string; port: number } | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || typeof (v as { host?: unknown }).host !== 'string' || typeof (v as { port?: unknown }).port !== 'number') {
    throw new InvalidArgumentTypeError(`options.listen must be { host: string, port: number }, got ${describe(v)}`);
  }
  const { host, port } = v as { host: string; port: number };
  if (host === '') throw new InvalidArgumentValueError('options.listen.host must not be empty');
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentValueError(`options.listen.port must be an integer in 0..65535, got ${port}`);
  return { host, port };
}

class Collector implements MetricsCollector {
  readonly contentType = prometheusContentType;
  private readonly table: InstanceTable;
  private readonly counters = {
    snapshotsReceived: 0, snapshotsInvalid: 0, metricsInvalid: 0, instancesExpired: 0, instancesGone: 0,
    scrapes: 0, aggregateScrapes: 0, notFound: 0, conflicts: 0, errors: 0,
  };
  private readonly sweep: NodeJS.Timeout;
  private server: Server | undefined;
  private closing: Promise<void> | undefined;

  constructor(
    readonly channel: Channel,
    stream: string,
    job: string,
    private readonly gaugeRule: GaugeRule,
  ) {
    this.table = new InstanceTable(job);
    channel.subscribe(stream);
    // A 'messages' listener takes every batch as it arrives: nothing queues behind a slow reader.
    channel.on('messages', (batch: MessageBatch) => this.receive(batch));
    channel.on('error', () => this.counters.errors++);
    const gone = (member: { id: string }): void => {
      if (this.table.forget(member.id)) this.counters.instancesGone++;
    };
    channel.group!.on('leave', gone);
    channel.group!.on('dead', gone);
    this.sweep = setInterval(() => {
      this.counters.instancesExpired += this.table.expire(performance.now());
    }, EXPIRE_SWEEP_MS).unref();
  }

  get url(): string | undefined {
    const address = this.server?.address() as AddressInfo | null | undefined;
    if (address === undefined || address === null) return undefined;
    return `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
  }

  listen(host: string, port: number): Promise<void> {
    const server = createServer((req, res) => this.handleRequest(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.removeListener('error', reject);
        resolve();
      });
    });
  }

  private receive(batch: MessageBatch): void {
    const nowMs = performance.now();
    for (let i = 0; i < batch.count; i++) {
      this.counters.snapshotsReceived++;
      const decoded = decodeSnapshot(batch.data(i));
      if (decoded === undefined) {
        this.counters.snapshotsInvalid++;
        continue;
      }
      this.counters.metricsInvalid += decoded.invalidMetrics;
      this.table.store(nowMs, batch.source.id, decoded.snapshot);
    }
  }

  private live(): LiveInstance[] {
    return this.table.live(performance.now(), this.channel.group!.members());
  }

  private render(rendered: Rendered): Promise<string> {
    this.counters.conflicts += rendered.conflicts;
    return rendered.registry.metrics();
  }

  // async: a rendering that throws rejects (a 500), it never throws out of the request handler.
  async metrics(): Promise<string> {
    this.counters.scrapes++;
    return this.render(exposition(this.live()));
  }

  async aggregatedMetrics(): Promise<string> {
    this.counters.aggregateScrapes++;
    return this.render(aggregation(this.live(), this.gaugeRule));
  }

  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0];
    const route = path === '/metrics' ? () => this.metrics() : path === '/metrics/aggregate' ? () => this.aggregatedMetrics() : undefined;
    if (route === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      this.counters.notFound++;
      const status = route === undefined ? 404 : 405;
      res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', ...(status === 405 ? { Allow: 'GET, HEAD' } : {}) });
      res.end(status === 404 ? 'not found: GET /metrics or /metrics/aggregate\n' : 'method not allowed\n');
      return;
    }
    route().then(
      (body) => {
        res.writeHead(200, { 'Content-Type': this.contentType, 'Content-Length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: Error) => {
        this.counters.errors++;
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`blipcast: cannot render metrics: ${err.message}\n`);
      },
    );
  }

  stats(): CollectorStats {
    return { ...this.counters, instances: this.live().length, sessionsHeld: this.table.size };
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.sweep);
      const server = this.server;
      if (server !== undefined) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeAllConnections();
        await closed;
      }
      await this.channel.close();
    })();
    return this.closing;
  }
}
