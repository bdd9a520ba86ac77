/**
 * What metrics publishers (publishMetrics) and collectors
 * (createMetricsCollector, `blipcast collect metrics`) agree on: how a
 * publisher makes itself known, and the one message it sends.
 *
 * - A publisher joins the group as a member with {@link publisherMember}:
 *   its name is the instance name; metadata `role` ({@link METRICS_PUBLISHER_ROLE}),
 *   `host`, `pid`, and `job` when it was given one. Collectors join with role
 *   {@link METRICS_COLLECTOR_ROLE}.
 * - One message = one snapshot, UTF-8 JSON: `{"version":1,"intervalMs":5000,"metrics":[…]}`
 *   where `metrics` is prom-client's `registry.getMetricsAsJSON()` reduced to
 *   what the exposition needs: `{name, help, type, aggregator, values:
 *   [{value, labels, metricName?}]}`. JSON has no NaN or infinities: such a
 *   value travels as the string `"NaN"`, `"+Inf"` or `"-Inf"`.
 * - `intervalMs` is the publisher's interval: a collector serves an instance
 *   until {@link STALE_INTERVALS} of them pass without a snapshot.
 */

import { hostname } from 'node:os';
import type { MemberInfo, MemberOptions } from '../index';
import { STALE_INTERVALS } from './constants';

export { STALE_INTERVALS };

/** Member metadata `role` of a publisher. */
export const METRICS_PUBLISHER_ROLE = 'metrics-publisher';
/** Member metadata `role` of a collector. */
export const METRICS_COLLECTOR_ROLE = 'metrics-collector';
/** The `version` field of the snapshots this code writes and reads. */
export const SNAPSHOT_VERSION = 1;

/** prom-client's metric types. */
export const METRIC_TYPES = ['counter', 'gauge', 'histogram', 'summary'] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** prom-client's aggregators (`AggregatorRegistry.aggregate`), by the names a metric's `aggregator` field uses. */
export const AGGREGATORS = ['sum', 'first', 'min', 'max', 'average', 'omit'] as const;
export type AggregatorName = (typeof AGGREGATORS)[number];

/** One series of a metric as it travels. */
export interface WireValue {
  value: number;
  labels: Record<string, string | number>;
  /** Set for the series of histograms and summaries (`x_bucket`, `x_sum`, `x_count`). */
  metricName?: string;
}

/** One metric as it travels: prom-client's `MetricObjectWithValues`, without exemplars. */
export interface WireMetric {
  name: string;
  help: string;
  type: MetricType;
  aggregator: AggregatorName;
  values: WireValue[];
}

/** One message. */
export interface MetricsSnapshot {
  version: typeof SNAPSHOT_VERSION;
  intervalMs: number;
  metrics: WireMetric[];
}

/** What prom-client's `getMetricsAsJSON()` returns, as far as a publisher reads it. */
export interface PromMetricJson {
  name: string;
  help: string;
  type: string;
  aggregator?: string;
  values?: readonly { value: number; labels?: object; metricName?: string }[];
}

/** The default instance name of a publisher: `host:pid`, unique on the group without configuration. */
export function defaultInstanceName(): string {
  return `${hostname()}:${process.pid}`;
}

/** The `member` option of a metrics app's channel: its role, this host and pid, and `extra` metadata. */
function metricsMember(role: string, name: string, extra: Record<string, string> = {}): MemberOptions {
  return { name, metadata: { role, host: hostname(), pid: String(process.pid), ...extra } };
}

/** The `member` option of a publisher's channel. */
export function publisherMember(name: string, job: string | undefined): MemberOptions {
  return metricsMember(METRICS_PUBLISHER_ROLE, name, job !== undefined ? { job } : {});
}

/** The `member` option of a collector's channel. */
export function collectorMember(name: string): MemberOptions {
  return metricsMember(METRICS_COLLECTOR_ROLE, name);
}

/** The `paceTo` of a publisher: it paces to the collectors only, so another publisher that stalls holds it back not at all. */
export function isMetricsCollector(member: MemberInfo): boolean {
  return member.metadata.role === METRICS_COLLECTOR_ROLE;
}

/** A snapshot's text. Values that JSON cannot carry (NaN, ±Infinity) are written as strings. */
export function encodeSnapshot(intervalMs: number, metrics: readonly PromMetricJson[]): string {
  const wire = metrics.map((m) => ({
    name: m.name,
    help: m.help,
    type: m.type,
    aggregator: m.aggregator ?? 'sum',
    values: (m.values ?? []).map((v) => ({
      value: Number.isFinite(v.value) ? v.value : Number.isNaN(v.value) ? 'NaN' : v.value > 0 ? '+Inf' : '-Inf',
      labels: v.labels ?? {},
      ...(v.metricName !== undefined ? { metricName: v.metricName } : {}),
    })),
  }));
  return JSON.stringify({ version: SNAPSHOT_VERSION, intervalMs, metrics: wire });
}

/** Prometheus' metric name syntax. */
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
/** Prometheus' label name syntax; names starting with `__` are reserved to Prometheus. */
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/** Longest interval a collector believes: a day. A longer one would keep a dead instance served for days. */
const MAX_WIRE_INTERVAL_MS = 86_400_000;

/** A decoded snapshot and how many of its metrics were dropped as malformed. */
export interface DecodedSnapshot {
  snapshot: MetricsSnapshot;
  invalidMetrics: number;
}

/**
 * Parses and checks one received message. Input from the network: nothing is
 * thrown. Returns undefined for a message that is not a snapshot of this
 * version (the caller counts it); a metric that is malformed (a name or label
 * Prometheus would reject, an unknown type or aggregator, a value that is not
 * a number, a second metric of the same name) is dropped alone and counted in
 * `invalidMetrics`.
 */
export function decodeSnapshot(data: Uint8Array): DecodedSnapshot | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isRecord(parsed) || parsed.version !== SNAPSHOT_VERSION || !Array.isArray(parsed.metrics)) return undefined;
  const intervalMs = parsed.intervalMs;
  if (typeof intervalMs !== 'number' || !Number.isFinite(intervalMs) || intervalMs <= 0 || intervalMs > MAX_WIRE_INTERVAL_MS) return undefined;
  const metrics: WireMetric[] = [];
  const names = new Set<string>();
  let invalidMetrics = 0;
  for (const raw of parsed.metrics) {
    const metric = decodeMetric(raw);
    if (metric === undefined || names.has(metric.name)) {
      invalidMetrics++;
      continue;
    }
    names.add(metric.name);
    metrics.push(metric);
  }
  return { snapshot: { version: SNAPSHOT_VERSION, intervalMs, metrics }, invalidMetrics };
}

function decodeMetric(raw: unknown): WireMetric | undefined {
  if (!isRecord(raw)) return undefined;
  const { name, help, type, values } = raw;
  const aggregator = raw.aggregator ?? 'sum';
  if (typeof name !== 'string' || !METRIC_NAME.test(name) || typeof help !== 'string') return undefined;
  if (!(METRIC_TYPES as readonly unknown[]).includes(type) || !(AGGREGATORS as readonly unknown[]).includes(aggregator) || !Array.isArray(values)) return undefined;
  const decoded: WireValue[] = [];
  for (const v of values) {
    const value = decodeValue(v);
    if (value === undefined || (value.metricName !== undefined && !value.metricName.startsWith(name))) return undefined;
    decoded.push(value);
  }
  return { name, help, type: type as MetricType, aggregator: aggregator as AggregatorName, values: decoded };
}

function decodeValue(raw: unknown): WireValue | undefined {
  if (!isRecord(raw) || !isRecord(raw.labels)) return undefined;
  const value = decodeNumber(raw.value);
  if (value === undefined) return undefined;
  const labels: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(raw.labels)) {
    if (!LABEL_NAME.test(k) || k.startsWith('__') || (typeof v !== 'string' && typeof v !== 'number')) return undefined;
    labels[k] = v;
  }
  const metricName = raw.metricName;
  if (metricName === undefined) return { value, labels };
  if (typeof metricName !== 'string' || !METRIC_NAME.test(metricName)) return undefined;
  return { value, labels, metricName };
}

function decodeNumber(raw: unknown): number | undefined {
  if (typeof raw === 'number') return raw;
  if (raw === 'NaN') return NaN;
  if (raw === '+Inf') return Infinity;
  if (raw === '-Inf') return -Infinity;
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
