/**
 * `blipcast/metrics`: prom-client metrics over a multicast group.
 *
 * Each process publishes its registry ({@link publishMetrics}); one or more
 * collectors ({@link createMetricsCollector}, or `blipcast collect metrics`)
 * serve every instance to Prometheus on `GET /metrics`, labelled `instance`
 * and `job`, and combined on `GET /metrics/aggregate`. docs/metrics.md has
 * the whole story; format.ts the message publishers and collectors agree on.
 *
 * @packageDocumentation
 */

export { publishMetrics } from './publisher';
export type { MetricsPublisher, PublishMetricsOptions, PublisherStats } from './publisher';
export { createMetricsCollector } from './collector';
export type { CollectorStats, MetricsCollector, MetricsCollectorOptions } from './collector';
export { GAUGE_RULES } from './exposition';
export type { GaugeRule } from './exposition';
export {
  DEFAULT_METRICS_STREAM, DEFAULT_PUBLISH_INTERVAL_MS, DEFAULT_JOB, STALE_INTERVALS,
} from './constants';
export { AGGREGATORS, METRIC_TYPES, METRICS_COLLECTOR_ROLE, METRICS_PUBLISHER_ROLE, SNAPSHOT_VERSION } from './format';
export type { AggregatorName, MetricsSnapshot, MetricType, WireMetric, WireValue } from './format';
