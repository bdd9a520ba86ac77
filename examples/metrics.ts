/**
 * Two processes' worth of metrics on one machine: two publishers (each its own
 * prom-client registry) and a collector serving them for Prometheus, on
 * loopback. Fetches /metrics and /metrics/aggregate once, prints a few lines,
 * stops everything. Run: `node dist/examples/metrics.js`.
 */

import { Counter, Registry } from 'prom-client';
import { createMetricsCollector, publishMetrics } from '../src/metrics/index';

async function main(): Promise<void> {
  const group = `239.255.0.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
  // Loopback only: interface 127.0.0.1 and TTL 0 keep every datagram on this machine; the HTTP server binds 127.0.0.1.
  const net = { group, interface: '127.0.0.1', ttl: 0 };
  const collector = await createMetricsCollector({ ...net, listen: { host: '127.0.0.1', port: 0 } });

  const publishers = [];
  for (const [name, requests] of [['api-1', 3], ['api-2', 5]] as const) {
    const registry = new Registry();
    new Counter({ name: 'requests_total', help: 'Requests served.', registers: [registry] }).inc(requests);
    publishers.push(await publishMetrics(registry, { ...net, name, job: 'api', intervalMs: 500 }));
  }

  // A publisher is served once the collector knows it as a member (its first announce) and holds a snapshot.
  const deadline = Date.now() + 10_000;
  while (collector.stats().instances < publishers.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));

  for (const path of ['/metrics', '/metrics/aggregate']) {
    const res = await fetch(`${collector.url}${path}`);
    console.log(`GET ${path} → ${res.status} ${res.headers.get('content-type')}`);
    for (const line of (await res.text()).split('\n')) if (line.startsWith('requests_total')) console.log(`  ${line}`);
  }

  await Promise.all(publishers.map((p) => p.stop()));
  await collector.close();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
