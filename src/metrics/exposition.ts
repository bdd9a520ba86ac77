/**
 * The served instances as prom-client registries, which render the
 * Prometheus text format: every instance's series labelled `instance` and
 * `job` (exposition()), or aggregated over the instances of each job with
 * prom-client's `AggregatorRegistry.aggregate` (aggregation()).
 *
 * A series that already has an `instance` or `job` label keeps it as
 * `exported_instance` / `exported_job` (what Prometheus does on a scrape).
 * A metric name means one type: the first instance in label order that has
 * the name sets its type and help; the same name with another type on a later
 * instance is left out and counted (`conflicts`).
 */

import { AggregatorRegistry, Registry } from 'prom-client';
import type { AggregatorName, WireMetric, WireValue } from './format';
import type { LiveInstance } from './instance-table';

/** How `/metrics/aggregate` combines gauges that carry prom-client's default aggregator `sum`. */
export const GAUGE_RULES = ['sum', 'max', 'min', 'average', 'first'] as const;
export type GaugeRule = (typeof GAUGE_RULES)[number];

/** A registry to render, and how many metrics were left out for a type conflict. */
export interface Rendered {
  registry: Registry;
  conflicts: number;
}

/** Every instance's series, labelled. */
export function exposition(instances: readonly LiveInstance[]): Rendered {
  const { kept, conflicts } = withoutConflicts(instances);
  const merged = new Map<string, WireMetric>();
  for (const { instance, metrics } of kept) {
    for (const m of metrics) {
      let into = merged.get(m.name);
      if (into === undefined) {
        into = { name: m.name, help: m.help, type: m.type, aggregator: m.aggregator, values: [] };
        merged.set(m.name, into);
      }
      for (const v of m.values) into.values.push(relabel(v, { instance: instance.instance, job: instance.job }));
    }
  }
  const registry = new Registry();
  for (const m of merged.values()) registry.registerMetric(asMetric(m));
  return { registry, conflicts };
}

/**
 * The series of all instances combined per job (the `instance` label dropped,
 * `job` kept) by `AggregatorRegistry.aggregate`: each metric by its own
 * `aggregator` (prom-client's default `sum` for counters, histograms and
 * summaries; the default metrics choose `average`, `max`, `first`, `omit` for
 * some gauges), except gauges left at the default `sum`, which take `gaugeRule`.
 */
export function aggregation(instances: readonly LiveInstance[], gaugeRule: GaugeRule): Rendered {
  const { kept, conflicts } = withoutConflicts(instances);
  const perInstance = kept.map(({ instance, metrics }) =>
    metrics.map((m) => ({
      ...m,
      aggregator: m.type === 'gauge' && m.aggregator === 'sum' ? gaugeRule : m.aggregator,
      values: m.values.map((v) => relabel(v, { job: instance.job })),
    })),
  );
  return { registry: AggregatorRegistry.aggregate(perInstance), conflicts };
}

/** The instances with each metric whose type differs from the name's first type removed. */
function withoutConflicts(instances: readonly LiveInstance[]): { kept: { instance: LiveInstance; metrics: WireMetric[] }[]; conflicts: number } {
  const typeOf = new Map<string, WireMetric['type']>();
  let conflicts = 0;
  const kept = instances.map((instance) => ({
    instance,
    metrics: instance.metrics.filter((m) => {
      const type = typeOf.get(m.name);
      if (type === undefined) typeOf.set(m.name, m.type);
      else if (type !== m.type) {
        conflicts++;
        return false;
      }
      return true;
    }),
  }));
  return { kept, conflicts };
}

/** `v` with `extra` labels, its own `instance` / `job` kept as `exported_*`. */
function relabel(v: WireValue, extra: Record<string, string>): WireValue {
  const labels: Record<string, string | number> = {};
  for (const [k, value] of Object.entries(v.labels)) labels[Object.hasOwn(extra, k) ? `exported_${k}` : k] = value;
  Object.assign(labels, extra);
  return v.metricName === undefined ? { value: v.value, labels } : { value: v.value, labels, metricName: v.metricName };
}

/** A finished metric object as prom-client's registry takes it: `get()` returns it (what `aggregate` registers too). */
function asMetric(m: WireMetric): Parameters<Registry['registerMetric']>[0] {
  const metric = { ...m, aggregator: m.aggregator as AggregatorName, get: () => m };
  return metric as unknown as Parameters<Registry['registerMetric']>[0];
}
