/**
 * The cost of blipcast/metrics against Prometheus' usual pull model, in the
 * same run, on loopback:
 *
 *   npm run build && node dist/bench/metrics.js [--runs N] [--requests N]
 *
 * 1. In the application: one publish of prom-client's default metrics
 *    (`publishNow()`: getMetricsAsJSON, the JSON snapshot, one channel write)
 *    against what one pull scrape costs the application (`registry.metrics()`,
 *    the text Prometheus would fetch); ms per snapshot and bytes.
 * 2. For Prometheus: one `GET /metrics` of a collector holding 5 and 50
 *    instances (each a registry with the default metrics, published from
 *    child processes of up to 10 publishers: this file with --publishers N),
 *    and `/metrics/aggregate` of the 50, against the pull reference:
 *    registries of the same kind (in this process) each behind its own node:http server serving
 *    `registry.metrics()`, all N fetched at once as Prometheus scrapes its
 *    targets (time until the last body is in).
 *
 * Cases are interleaved: each run measures every case in turn (`--requests`
 * each, median kept), so load on this shared machine falls on all of them
 * alike. The table has the median over runs and the spread (lowest–highest
 * run median). Multicast stays on 127.0.0.1 with TTL 0; servers bind 127.0.0.1.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { cpus, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createMetricsCollector, publishMetrics, type MetricsCollector, type MetricsPublisher } from '../src/metrics/index';
import { encodeSnapshot, type PromMetricJson } from '../src/metrics/format';
import { formatTable, median } from './table';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, requests: { type: 'string', default: '20' }, publishers: { type: 'string' }, first: { type: 'string' }, group: { type: 'string' } },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
/** The child's publish interval: short enough that an instance the group briefly declared dead (a saturated child) is served again soon. */
const CHILD_INTERVAL_MS = 2000;
const PUBLISHERS_PER_CHILD = 10;
const INSTANCES = [5, 50];

function randomGroup(): string {
  return `239.255.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

interface Case {
  label: string;
  /** One measured operation; resolves with the bytes it produced or fetched. */
  once(): Promise<number>;
  /** For a collector: the instances it serves (the lowest seen is reported, so that a run where some were missing shows). */
  served?(): number;
}

async function timed(c: Case, n: number): Promise<{ ms: number; bytes: number }> {
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    bytes = await c.once();
    times.push(performance.now() - start);
  }
  return { ms: median(times), bytes };
}

async function body(url: string): Promise<number> {
  const res = await fetch(url);
  return (await res.arrayBuffer()).byteLength;
}

function serveRegistry(registry: Registry): Promise<Server> {
  const server = createServer((_req, res) => {
    void registry.metrics().then((text) => {
      res.writeHead(200, { 'Content-Type': registry.contentType });
      res.end(text);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const urlOf = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

async function main(): Promise<void> {
  const net = { group: randomGroup(), interface: '127.0.0.1', ttl: 0 };
  const registries = Array.from({ length: Math.max(...INSTANCES) }, () => {
    const r = new Registry();
    collectDefaultMetrics({ register: r });
    return r;
  });
  // One collector per instance count, each on its own group, fed by a child process of publishers.
  const collectors: MetricsCollector[] = [];
  const publishers: MetricsPublisher[] = [];
  const servers: Server[] = [];
  const cases: Case[] = [];

  const own = registries[0]!;
  const probe = await publishMetrics(own, { ...net, name: 'probe', intervalMs: 3_600_000 });
  publishers.push(probe);
  cases.push({
    label: 'app: one publish of the default metrics (publishNow)',
    once: async () => {
      const before = probe.stats().bytesPublished;
      await probe.publishNow();
      return probe.stats().bytesPublished - before;
    },
  });
  cases.push({ label: 'app: snapshot only (getMetricsAsJSON + JSON)', once: async () => encodeSnapshot(1000, (await own.getMetricsAsJSON()) as unknown as PromMetricJson[]).length });
  cases.push({ label: 'app, pull reference: registry.metrics() (one scrape)', once: async () => (await own.metrics()).length });

  const children: ChildProcess[] = [];
  for (const n of INSTANCES) {
    const group = { ...net, group: randomGroup() };
    const collector = await createMetricsCollector({ ...group, listen: { host: '127.0.0.1', port: 0 } });
    collectors.push(collector);
    // At most PUBLISHERS_PER_CHILD members per process: fifty in one process saturate it (every member acknowledges every other).
    for (let first = 0; first < n; first += PUBLISHERS_PER_CHILD) {
      const count = Math.min(PUBLISHERS_PER_CHILD, n - first);
      children.push(spawn(process.execPath, [__filename, '--publishers', String(count), '--first', String(first), '--group', group.group], { stdio: ['pipe', 'inherit', 'inherit'] }));
    }
    const deadline = Date.now() + 60_000;
    while (collector.stats().instances < n) {
      if (Date.now() > deadline) throw new Error(`the collector serves ${collector.stats().instances} of ${n} instances`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const targets = await Promise.all(registries.slice(0, n).map(serveRegistry));
    servers.push(...targets);
    cases.push({ label: `collector GET /metrics, ${n} instances`, once: () => body(`${collector.url}/metrics`), served: () => collector.stats().instances });
    if (n === Math.max(...INSTANCES)) {
      cases.push({ label: `collector GET /metrics/aggregate, ${n} instances`, once: () => body(`${collector.url}/metrics/aggregate`), served: () => collector.stats().instances });
    }
    cases.push({
      label: `pull reference: ${n} targets, registry.metrics() behind node:http, fetched at once`,
      once: async () => (await Promise.all(targets.map((s) => body(urlOf(s))))).reduce((a, b) => a + b, 0),
    });
  }

  console.log(`node ${process.version}, prom-client 15, ${cpus()[0]?.model ?? '?'} × ${cpus().length}, load average ${loadavg()[0]!.toFixed(1)} at start; ${RUNS} interleaved runs of ${REQUESTS} requests per case`);
  for (const c of cases) await timed(c, 3); // warm-up
  const perRun = new Map<Case, number[]>(cases.map((c) => [c, []]));
  const bytes = new Map<Case, number>();
  const fewestServed = new Map<Case, number>();
  for (let run = 0; run < RUNS; run++) {
    // Rotate the order every run, so no case always follows the same one.
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(k + run) % cases.length]!;
      const r = await timed(c, REQUESTS);
      perRun.get(c)!.push(r.ms);
      bytes.set(c, r.bytes);
      if (c.served !== undefined) fewestServed.set(c, Math.min(fewestServed.get(c) ?? Infinity, c.served()));
    }
  }
  const rows = cases.map((c) => {
    const ms = perRun.get(c)!;
    const served = fewestServed.get(c);
    return [c.label, median(ms).toFixed(2), `${Math.min(...ms).toFixed(2)}–${Math.max(...ms).toFixed(2)}`, `${(bytes.get(c)! / 1024).toFixed(1)} KiB`, served === undefined ? '' : String(served)];
  });
  console.log(formatTable(['case', 'ms (median)', 'spread (run medians)', 'bytes', 'instances served (fewest)'], rows));

  for (const child of children) child.stdin!.end();
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  await Promise.all(publishers.map((p) => p.stop()));
  await Promise.all(collectors.map((c) => c.close()));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
}

/** Child mode (--publishers N --first I --group G): N publishers of the default metrics, named app-I…, until stdin closes. */
async function publishers(n: number, first: number, group: string): Promise<void> {
  const started: MetricsPublisher[] = [];
  for (let i = 0; i < n; i++) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    started.push(await publishMetrics(registry, { group, interface: '127.0.0.1', ttl: 0, name: `app-${first + i}`, intervalMs: CHILD_INTERVAL_MS }));
  }
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  await Promise.all(started.map((p) => p.stop()));
}

(values.publishers !== undefined ? publishers(Number(values.publishers), Number(values.first ?? 0), values.group!) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
