/**
 * blipcast/metrics against a real Prometheus (Debian package `prometheus`):
 * five publisher processes → one collector → Prometheus scraping the
 * collector's /metrics every second → a PromQL query through Prometheus' HTTP
 * API returns the sum of the five counters. Everything on loopback: multicast
 * on 127.0.0.1 with TTL 0, Prometheus and the collector bound to 127.0.0.1.
 *
 * Skipped with the reason when /usr/bin/prometheus is missing; under CI (env
 * CI set) that is a failure instead (.ci/run installs the package).
 */

import test, { type ExecutionContext } from 'ava';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMetricsCollector } from '../src/metrics/index';
import { samplesOf } from './fixtures/metrics-text';
import { inCi } from './lab/availability';

const PROMETHEUS = '/usr/bin/prometheus';
const PUBLISHER = join(__dirname, 'fixtures', 'metrics-publisher.js');
const COUNTER = 'blipcast_test_jobs_total';
/** Distinct values, so that a sum that counts one instance twice or misses one cannot come out right. */
const VALUES = [3, 5, 7, 11, 13];

function randomGroup(): string {
  return `239.255.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

/** A TCP port free on 127.0.0.1 a moment ago (Prometheus takes no port 0). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, last: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last() !== '' ? `; last: ${last()}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

interface QueryResult {
  status: string;
  data: { resultType: string; result: { metric: Record<string, string>; value: [number, string] }[] };
}

async function query(base: string, promql: string): Promise<QueryResult> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(promql)}`);
  return (await res.json()) as QueryResult;
}

async function prometheusTest(t: ExecutionContext): Promise<void> {
  const group = { group: randomGroup(), interface: '127.0.0.1', ttl: 0 };
  const children: ChildProcess[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-prometheus-'));
  const collector = await createMetricsCollector({ ...group, listen: { host: '127.0.0.1', port: 0 } });
  t.teardown(async () => {
    await Promise.all(children.map(stopChild));
    await collector.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // Five publisher processes, each with its own registry.
  await Promise.all(
    VALUES.map(async (value, i) => {
      const child = spawn(process.execPath, [PUBLISHER, '--group', group.group, '--name', `pub-${i}`, '--value', String(value)], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
        child.once('exit', (code) => reject(new Error(`publisher ${i} exited with ${code}: ${stderr}`)));
      });
    }),
  );
  await waitFor('the collector to serve five instances', async () => (samplesOf(await collector.metrics(), COUNTER).length === VALUES.length ? true : undefined), 15_000);

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: blipcast-collector',
      // The collector's series carry their own instance and job labels (one per publisher): keep them.
      '    honor_labels: true',
      '    static_configs:',
      `      - targets: ['${new URL(collector.url!).host}']`,
      '',
    ].join('\n'),
  );
  let log = '';
  const prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  children.push(prometheus);
  prometheus.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));

  const expected = VALUES.reduce((a, b) => a + b, 0);
  let lastAnswer = '';
  const sum = await waitFor(
    `sum(${COUNTER}) = ${expected} from Prometheus`,
    async () => {
      const answer = await query(base, `sum(${COUNTER})`);
      lastAnswer = JSON.stringify(answer);
      const value = answer.data.result[0]?.value[1];
      return value !== undefined && Number(value) === expected ? Number(value) : undefined;
    },
    60_000,
    () => `${lastAnswer} ${prometheus.exitCode !== null ? `prometheus exited ${prometheus.exitCode}: ${log}` : ''}`,
  );
  t.is(sum, expected);

  const perInstance = await query(base, COUNTER);
  t.deepEqual(
    Object.fromEntries(perInstance.data.result.map((r) => [r.metric.instance!, Number(r.value[1])])),
    Object.fromEntries(VALUES.map((v, i) => [`pub-${i}`, v])),
  );
  t.true(perInstance.data.result.every((r) => r.metric.job === 'fixture'), 'the publishers\' job label, kept by honor_labels');
  const up = await query(base, 'up');
  t.deepEqual(up.data.result.map((r) => r.value[1]), ['1'], 'the collector target is up: Prometheus parsed every scrape');
}

if (existsSync(PROMETHEUS)) {
  test('five publisher processes through one collector: Prometheus sums their counters', prometheusTest);
} else if (inCi()) {
  test('five publisher processes through one collector: Prometheus sums their counters', (t) => {
    t.fail(`${PROMETHEUS} is missing, and CI must run this test (.ci/run installs the Debian package prometheus)`);
  });
} else {
  test.skip(`five publisher processes through one collector: Prometheus sums their counters [${PROMETHEUS} missing: apt-get install prometheus]`, prometheusTest);
}
