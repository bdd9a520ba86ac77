/**
 * The cost of blipcast/metrics against Prometheus' usual pull model, in the
 * same run, on loopback:
 *
 *   npm run build && node dist/bench/metrics.js [--runs N] [--requests N]
 *   node dist/bench/metrics.js --members N     (the group's own load, below)
 *
 * 1. In the application: one publish of prom-client's default metrics
 *    (`publishNow()`: getMetricsAsJSON, the JSON snapshot, one channel write)
 *    against what one pull scrape costs the application (`registry.metrics()`,
 *    the text Prometheus would fetch); ms per snapshot and bytes.
 * 2. For Prometheus: one `GET /metrics` of a real collector on a group of 5
 *    publisher processes (one child: this file with --publishers 5); then the
 *    collector's serving path alone (its instance table, prom-client
 *    exposition and aggregation, node:http) over the snapshots of 5 and 50
 *    registries with the default metrics — `/metrics`, and `/metrics/aggregate`
 *    of the 50 — against the pull reference: the same registries each behind
 *    its own node:http server serving `registry.metrics()`, all N fetched at
 *    once as Prometheus scrapes its targets (time until the last body is in).
 *    Fifty real members are not measured here: on two shared cores their
 *    group traffic (every member acknowledges every sender) saturates the
 *    machine and the numbers measure that (RESULTS.md, "Metrics").
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
import type { MemberInfo } from '../src/index';
import { aggregation, exposition } from '../src/metrics/exposition';
import { decodeSnapshot, encodeSnapshot, type MetricsSnapshot, type PromMetricJson } from '../src/metrics/format';
import { InstanceTable } from '../src/metrics/instance-table';
import { formatTable, median } from './table';

const { values } = parseArgs({
  options: { runs: { type: 'string', default: '7' }, requests: { type: 'string', default: '20' }, publishers: { type: 'string' }, group: { type: 'string' }, members: { type: 'string' } },
});
const RUNS = Number(values.runs);
const REQUESTS = Number(values.requests);
/** The child's publish interval: short enough that an instance the group briefly declared dead (a saturated child) is served again soon. */
const CHILD_INTERVAL_MS = 2000;
/** Publisher processes on the real collector's group: more members than this on 2 shared cores measure the group's chatter, not the collector. */
const REAL_INSTANCES = 5;
/** The interval the held snapshots claim: long enough that none goes stale during the runs. */
const HELD_INTERVAL_MS = 3_600_000;
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

/** The collector's serving path over held snapshots: what Collector.metrics() / aggregatedMetrics() do after the group, behind node:http. */
function serveHeld(snapshots: MetricsSnapshot[]): Promise<{ server: Server; served(): number }> {
  const table = new InstanceTable('bench');
  const members: MemberInfo[] = snapshots.map((snapshot, i) => {
    const id = i.toString(16).padStart(16, '0');
    table.store(performance.now(), id, snapshot);
    return { id, name: `app-${i}`, metadata: { role: 'metrics-publisher', host: 'bench', pid: String(i) }, incarnation: 0, state: 'alive', self: false, observer: false };
  });
  const server = createServer((req, res) => {
    const live = table.live(performance.now(), members);
    const rendered = req.url === '/metrics/aggregate' ? aggregation(live, 'sum') : exposition(live);
    void rendered.registry.metrics().then((text) => {
      res.writeHead(200, { 'Content-Type': rendered.registry.contentType, 'Content-Length': Buffer.byteLength(text) });
      res.end(text);
    });
  });
  const served = (): number => table.live(performance.now(), members).length;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, served })));
}

const urlOf = (server: Server): string => `http://127.0.0.1:${(server.address() as AddressInfo).port}/metrics`;

async function main(): Promise<void> {
  const net = { group: randomGroup(), interface: '127.0.0.1', ttl: 0 };
  const registries = Array.from({ length: Math.max(...INSTANCES) }, () => {
    const r = new Registry();
    collectDefaultMetrics({ register: r });
    return r;
  });
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

  // The collector as deployed: a real one on its own group, fed by a child process of 5 publishers.
  const children: ChildProcess[] = [];
  const group = { ...net, group: randomGroup() };
  const collector = await createMetricsCollector({ ...group, listen: { host: '127.0.0.1', port: 0 } });
  collectors.push(collector);
  children.push(spawn(process.execPath, [__filename, '--publishers', String(REAL_INSTANCES), '--group', group.group], { stdio: ['pipe', 'inherit', 'inherit'] }));
  const deadline = Date.now() + 60_000;
  while (collector.stats().instances < REAL_INSTANCES) {
    if (Date.now() > deadline) throw new Error(`the collector serves ${collector.stats().instances} of ${REAL_INSTANCES} instances`);
    await new Promise((r) => setTimeout(r, 100));
  }
  cases.push({ label: `collector GET /metrics, ${REAL_INSTANCES} publisher processes on the group`, once: () => body(`${collector.url}/metrics`), served: () => collector.stats().instances });

  // The collector's serving path alone (instance table, prom-client exposition, node:http) over snapshots
  // of N registries, without N members' group traffic in the measurement (see RESULTS: 50 members on 2 shared cores saturate them).
  const snapshots = await Promise.all(registries.map(async (r) => decodeSnapshot(Buffer.from(encodeSnapshot(HELD_INTERVAL_MS, (await r.getMetricsAsJSON()) as unknown as PromMetricJson[])))!.snapshot));
  for (const n of INSTANCES) {
    const held = await serveHeld(snapshots.slice(0, n));
    const targets = await Promise.all(registries.slice(0, n).map(serveRegistry));
    servers.push(held.server, ...targets);
    const base = `http://127.0.0.1:${(held.server.address() as AddressInfo).port}`;
    cases.push({ label: `collector serving path, GET /metrics, ${n} instances held`, once: () => body(`${base}/metrics`), served: held.served });
    if (n === Math.max(...INSTANCES)) {
      cases.push({ label: `collector serving path, GET /metrics/aggregate, ${n} instances held`, once: () => body(`${base}/metrics/aggregate`), served: held.served });
    }
    cases.push({
      label: `pull reference: ${n} targets, registry.metrics() behind node:http, fetched at once`,
      once: async () => (await Promise.all(targets.map((s) => body(urlOf(s))))).reduce((a, b) => a + b, 0),
    });
  }
  const trafficFrom = { at: performance.now(), ...collector.channel.stats().transport };

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
  const traffic = collector.channel.stats().transport;
  const seconds = (performance.now() - trafficFrom.at) / 1000;
  console.log(
    `group traffic at the collector of ${REAL_INSTANCES} publishers (${CHILD_INTERVAL_MS} ms interval), during the runs: ` +
      `${((traffic.datagramsReceived - trafficFrom.datagramsReceived) / seconds).toFixed(0)} datagrams/s received, ` +
      `${((traffic.datagramsSent - trafficFrom.datagramsSent) / seconds).toFixed(0)} sent`,
  );

  for (const child of children) child.stdin!.end();
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  await Promise.all(publishers.map((p) => p.stop()));
  await Promise.all(collectors.map((c) => c.close()));
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
}

/** Child mode (--publishers N --group G): N publishers of the default metrics, until stdin closes. */
async function publishers(n: number, group: string): Promise<void> {
  const started: MetricsPublisher[] = [];
  for (let i = 0; i < n; i++) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    started.push(await publishMetrics(registry, { group, interface: '127.0.0.1', ttl: 0, name: `app-${i}`, intervalMs: CHILD_INTERVAL_MS }));
  }
  process.stdin.resume();
  await new Promise((r) => process.stdin.once('end', r));
  await Promise.all(started.map((p) => p.stop()));
}

/**
 * --members N: the group's own load instead of the table. A collector and N
 * publishers (child processes of at most 10) on one group; over 10 s, the
 * datagrams the collector receives and sends per second, its CPU, and the
 * fewest instances it served (a member the group wrongly declared dead is
 * not served until it announces again).
 */
async function groupLoad(n: number): Promise<void> {
  const group = randomGroup();
  const collector = await createMetricsCollector({ group, interface: '127.0.0.1', ttl: 0 });
  const children: ChildProcess[] = [];
  for (let first = 0; first < n; first += 10) {
    children.push(spawn(process.execPath, [__filename, '--publishers', String(Math.min(10, n - first)), '--group', group], { stdio: ['pipe', 'inherit', 'inherit'] }));
  }
  const deadline = Date.now() + 60_000;
  while (collector.stats().instances < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  const startedMs = performance.now();
  const from = collector.channel.stats().transport;
  const cpuFrom = process.cpuUsage();
  const load = loadavg()[0]!;
  let fewest = collector.stats().instances;
  while (performance.now() - startedMs < 10_000) {
    await new Promise((r) => setTimeout(r, 100));
    fewest = Math.min(fewest, collector.stats().instances);
  }
  const seconds = (performance.now() - startedMs) / 1000;
  const to = collector.channel.stats().transport;
  const cpu = process.cpuUsage(cpuFrom);
  console.log(
    `${n} publishers (${CHILD_INTERVAL_MS} ms interval), load average ${load.toFixed(1)}: the collector receives ${((to.datagramsReceived - from.datagramsReceived) / seconds).toFixed(0)} datagrams/s, ` +
      `sends ${((to.datagramsSent - from.datagramsSent) / seconds).toFixed(0)}, CPU ${(((cpu.user + cpu.system) / 1e6 / seconds) * 100).toFixed(0)} %, serves ${fewest}–${n} instances`,
  );
  for (const child of children) child.stdin!.end();
  await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
  await collector.close();
}

(values.publishers !== undefined ? publishers(Number(values.publishers), values.group!) : values.members !== undefined ? groupLoad(Number(values.members)) : main()).catch((err) => {
  console.error(err);
  process.exit(1);
});
