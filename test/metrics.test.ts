/**
 * blipcast/metrics on real sockets, on loopback: publishers and collectors in
 * this process (each its own channel), the collector's HTTP endpoint fetched
 * as Prometheus would, and the `blipcast collect metrics` command.
 */

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InvalidArgumentTypeError, InvalidArgumentValueError, open, type MemberInfo } from '../src/index';
import { createMetricsCollector, publishMetrics, type MetricsCollector, type MetricsPublisher } from '../src/metrics/index';
import { decodeSnapshot, encodeSnapshot } from '../src/metrics/format';
import { instanceLabels } from '../src/metrics/instance-table';
import { samplesOf, type Sample } from './fixtures/metrics-text';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'blipcast.js');

function randomGroup(): string {
  return `239.255.${1 + Math.floor(Math.random() * 254)}.${1 + Math.floor(Math.random() * 254)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

/** Loopback only. */
function net(group: string): { group: string; interface: string; ttl: number } {
  return { group, interface: '127.0.0.1', ttl: 0 };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function scrape(collector: MetricsCollector, path = '/metrics'): Promise<{ status: number; contentType: string | null; body: string }> {
  const res = await fetch(`${collector.url}${path}`);
  return { status: res.status, contentType: res.headers.get('content-type'), body: await res.text() };
}

/** A registry with one counter `name` at `value`. */
function counterRegistry(value: number, name = 'jobs_done_total'): { registry: Registry; counter: Counter } {
  const registry = new Registry();
  const counter = new Counter({ name, help: 'Jobs done.', registers: [registry] });
  counter.inc(value);
  return { registry, counter };
}

function byInstance(samples: Sample[]): Record<string, number> {
  return Object.fromEntries(samples.map((s) => [s.labels.instance!, s.value]));
}

/** Stops publishers and collectors whatever the test did. */
function cleanup(t: { teardown(fn: () => Promise<void>): void }): { add<T extends MetricsPublisher | MetricsCollector>(x: T): T } {
  const all: (MetricsPublisher | MetricsCollector)[] = [];
  t.teardown(async () => {
    await Promise.all(all.map((x) => ('stop' in x ? x.stop() : x.close())));
  });
  return {
    add: (x) => {
      all.push(x);
      return x;
    },
  };
}

const LISTEN = { host: '127.0.0.1', port: 0 };

test('serves every instance on /metrics, labelled instance and job, in the Prometheus text format', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const collector = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN, job: 'fallback' }));
  own.add(await publishMetrics(counterRegistry(7).registry, { ...net(group), name: 'worker-a', job: 'indexer', intervalMs: 200 }));
  own.add(await publishMetrics(counterRegistry(11).registry, { ...net(group), name: 'worker-b', intervalMs: 200 }));

  const samples = await waitFor('both instances', async () => {
    const s = samplesOf((await scrape(collector)).body, 'jobs_done_total');
    return s.length === 2 ? s : undefined;
  });
  t.deepEqual(
    samples.map((s) => s.labels).sort((a, b) => a.instance!.localeCompare(b.instance!)),
    [{ instance: 'worker-a', job: 'indexer' }, { instance: 'worker-b', job: 'fallback' }],
  );
  t.deepEqual(byInstance(samples), { 'worker-a': 7, 'worker-b': 11 });
  const res = await scrape(collector);
  t.is(res.status, 200);
  t.is(res.contentType, 'text/plain; version=0.0.4; charset=utf-8');
  t.true(res.body.includes('# TYPE jobs_done_total counter'));
  t.is(res.body.match(/^# TYPE jobs_done_total /gm)?.length, 1, 'one TYPE line per metric, not one per instance');
});

test('a counter that grows is served with its latest value', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const collector = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  const { registry, counter } = counterRegistry(1);
  own.add(await publishMetrics(registry, { ...net(group), name: 'grower', intervalMs: 100 }));
  await waitFor('value 1', async () => (samplesOf((await scrape(collector)).body, 'jobs_done_total')[0]?.value === 1 ? true : undefined));
  counter.inc(41);
  await waitFor('value 42', async () => (samplesOf((await scrape(collector)).body, 'jobs_done_total')[0]?.value === 42 ? true : undefined));
  t.pass();
});

test('an instance that stops publishing disappears after three of its intervals, not before', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const collector = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  const { registry } = counterRegistry(3);
  let hang = false;
  // A collection that never completes: the publisher stays a member but sends nothing more.
  const stuck = { getMetricsAsJSON: () => (hang ? new Promise<never>(() => {}) : registry.getMetricsAsJSON()) };
  const intervalMs = 200;
  const publisher = own.add(await publishMetrics(stuck, { ...net(group), name: 'stuck', intervalMs }));
  await waitFor('the instance', async () => (samplesOf((await scrape(collector)).body, 'jobs_done_total').length === 1 ? true : undefined));
  await publisher.publishNow();
  hang = true;
  const lastSentMs = Date.now();
  await waitFor('the instance to go', async () => (samplesOf((await scrape(collector)).body, 'jobs_done_total').length === 0 ? true : undefined), 5000);
  const goneAfterMs = Date.now() - lastSentMs;
  t.true(goneAfterMs >= 3 * intervalMs - 20, `gone ${goneAfterMs} ms after its last snapshot`);
  t.true(collector.channel.group!.members().some((m: MemberInfo) => m.name === 'stuck'), 'still a member: it went for staleness');
  t.true(publisher.stats().collectionsBusy >= 1);
  await waitFor('the sweep to forget it', () => (collector.stats().instancesExpired === 1 ? true : undefined), 3000);
});

test('an instance that stops disappears at once (it leaves the group), long before it would be stale', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const collector = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  const leaving = await publishMetrics(counterRegistry(1).registry, { ...net(group), name: 'leaving', intervalMs: 10_000 });
  own.add(await publishMetrics(counterRegistry(2).registry, { ...net(group), name: 'staying', intervalMs: 10_000 }));
  await waitFor('both', async () => (samplesOf((await scrape(collector)).body, 'jobs_done_total').length === 2 ? true : undefined));
  const stoppedAt = Date.now();
  await leaving.stop();
  await waitFor('leaving to go', async () => (samplesOf((await scrape(collector)).body, 'jobs_done_total').length === 1 ? true : undefined), 5000);
  t.true(Date.now() - stoppedAt < 5000);
  t.deepEqual(byInstance(samplesOf((await scrape(collector)).body, 'jobs_done_total')), { staying: 2 });
  t.is(collector.stats().instancesGone, 1);
});

test('two collectors on one group serve the same text', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const a = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  const b = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  for (const [name, value] of [['p1', 5], ['p2', 6], ['p3', 7]] as const) {
    const registry = counterRegistry(value).registry;
    new Gauge({ name: 'queue_depth', help: 'Queued.', labelNames: ['queue'], registers: [registry] }).set({ queue: 'q"1' }, value * 10);
    own.add(await publishMetrics(registry, { ...net(group), name, intervalMs: 200 }));
  }
  const [textA, textB] = await waitFor('three instances on both', async () => {
    const texts = [(await scrape(a)).body, (await scrape(b)).body];
    return texts.every((x) => samplesOf(x, 'jobs_done_total').length === 3) ? texts : undefined;
  });
  t.is(textA, textB);
  t.deepEqual(samplesOf(textA!, 'queue_depth').map((s) => s.labels.queue), ['q"1', 'q"1', 'q"1']);
  t.is((await scrape(a, '/metrics/aggregate')).body, (await scrape(b, '/metrics/aggregate')).body);
});

test('/metrics/aggregate sums counters and histograms per job and combines gauges by the gauge rule', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const summing = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  const maxing = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN, gaugeRule: 'max' }));
  const values = [3, 4, 12];
  for (const [i, v] of values.entries()) {
    const { registry } = counterRegistry(v);
    new Gauge({ name: 'temperature', help: 'Degrees.', registers: [registry] }).set(v);
    new Gauge({ name: 'lag_seconds', help: 'Lag.', aggregator: 'min', registers: [registry] }).set(v);
    const h = new Histogram({ name: 'latency_seconds', help: 'Latency.', buckets: [1, 10], registers: [registry] });
    h.observe(v);
    own.add(await publishMetrics(registry, { ...net(group), name: `agg-${i}`, job: 'agg', intervalMs: 200 }));
  }
  own.add(await publishMetrics(counterRegistry(100).registry, { ...net(group), name: 'other-job', job: 'other', intervalMs: 200 }));
  await waitFor('four instances on both', async () => {
    const ok = await Promise.all([summing, maxing].map(async (c) => samplesOf((await scrape(c)).body, 'jobs_done_total').length === 4));
    return ok.every(Boolean) ? true : undefined;
  });
  const sum = (await scrape(summing, '/metrics/aggregate')).body;
  const max = (await scrape(maxing, '/metrics/aggregate')).body;
  t.is((await scrape(summing, '/metrics/aggregate')).contentType, 'text/plain; version=0.0.4; charset=utf-8');
  const jobsDone = samplesOf(sum, 'jobs_done_total');
  t.deepEqual(Object.fromEntries(jobsDone.map((s) => [s.labels.job!, s.value])), { agg: 19, other: 100 });
  t.true(jobsDone.every((s) => s.labels.instance === undefined), 'no instance label in the aggregate');
  t.deepEqual(samplesOf(sum, 'temperature').map((s) => s.value), [19]);
  t.deepEqual(samplesOf(max, 'temperature').map((s) => s.value), [12]);
  t.deepEqual(samplesOf(max, 'lag_seconds').map((s) => s.value), [3], "the publisher's own aggregator wins over the rule");
  t.deepEqual(samplesOf(sum, 'latency_seconds_bucket').map((s) => [s.labels.le, s.value]), [['1', 0], ['10', 2], ['+Inf', 3]]);
  t.deepEqual(samplesOf(sum, 'latency_seconds_count').map((s) => s.value), [3]);
  t.deepEqual(samplesOf(sum, 'latency_seconds_sum').map((s) => s.value), [19]);
});

test("prom-client's default metrics are served per instance and aggregated by their own aggregators", async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const collector = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  for (const name of ['d1', 'd2']) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    own.add(await publishMetrics(registry, { ...net(group), name, intervalMs: 200 }));
  }
  const text = await waitFor('both', async () => {
    const body = (await scrape(collector)).body;
    return samplesOf(body, 'process_cpu_user_seconds_total').length === 2 ? body : undefined;
  });
  t.deepEqual(samplesOf(text, 'nodejs_heap_size_total_bytes').map((s) => s.labels.instance).sort(), ['d1', 'd2']);
  t.true(samplesOf(text, 'nodejs_heap_space_size_used_bytes').length >= 4, 'labelled series of each instance');
  const aggregate = (await scrape(collector, '/metrics/aggregate')).body;
  t.is(samplesOf(aggregate, 'process_start_time_seconds').length, 0, "aggregator 'omit'");
  t.is(samplesOf(aggregate, 'nodejs_version_info').length, 1, "aggregator 'first'");
  t.is(samplesOf(aggregate, 'process_cpu_user_seconds_total').length, 1);
});

test('a publisher skips a snapshot while its channel is back-pressured and publishes again after drain', async (t) => {
  const group = randomGroup();
  // One metric whose help text is larger than the channel's send queue (8 MiB): writing it returns false.
  const big = [{ name: 'big', help: 'x'.repeat(9 << 20), type: 'gauge', aggregator: 'sum', values: [{ value: 1, labels: {} }] }];
  const registry = { getMetricsAsJSON: async () => big } as unknown as Registry;
  const publisher = await publishMetrics(registry, { ...net(group), intervalMs: 60_000 });
  t.teardown(() => publisher.stop());
  await publisher.publishNow(); // in the same turn as the back-pressured write: no 'drain' can have come
  t.like(publisher.stats(), { snapshotsPublished: 1, snapshotsSkipped: 1 });
  t.true(publisher.stats().bytesPublished > 9 << 20);
  await waitFor('drain, then a publish', async () => {
    await publisher.publishNow();
    return publisher.stats().snapshotsPublished === 2 ? true : undefined;
  });
  t.is(publisher.stats().sendErrors, 0);
});

test('a registry whose collection never ends does not hold publishMetrics() longer than one interval', async (t) => {
  const hung = { getMetricsAsJSON: () => new Promise<never>(() => {}) };
  const startedMs = Date.now();
  const publisher = await publishMetrics(hung, { ...net(randomGroup()), intervalMs: 300 });
  t.teardown(() => publisher.stop());
  t.true(Date.now() - startedMs < 3000, `resolved after ${Date.now() - startedMs} ms`);
  await waitFor('a busy tick', () => (publisher.stats().collectionsBusy >= 1 ? true : undefined));
  t.is(publisher.stats().snapshotsPublished, 0);
});

test('a registry that throws is counted, never thrown', async (t) => {
  const group = randomGroup();
  const failing = {
    getMetricsAsJSON: async (): Promise<never> => {
      throw new Error('collector callback failed');
    },
  };
  const publisher = await publishMetrics(failing, { ...net(group), intervalMs: 20 });
  t.teardown(() => publisher.stop());
  await waitFor('three failures', () => (publisher.stats().collectErrors >= 3 ? true : undefined));
  t.like(publisher.stats(), { snapshotsPublished: 0, lastError: 'collector callback failed' });
});

test('stop() is bounded and idempotent, and a stopped publisher publishes nothing', async (t) => {
  const group = randomGroup();
  const collector = await createMetricsCollector({ ...net(group), listen: LISTEN });
  t.teardown(() => collector.close());
  const publisher = await publishMetrics(counterRegistry(1).registry, { ...net(group), intervalMs: 50 });
  await waitFor('the instance', () => (collector.stats().instances === 1 ? true : undefined));
  const startedMs = Date.now();
  const first = publisher.stop();
  t.is(publisher.stop(), first);
  await first;
  t.true(Date.now() - startedMs < 3000, `stop took ${Date.now() - startedMs} ms`);
  const published = publisher.stats().snapshotsPublished;
  await publisher.publishNow();
  await new Promise((r) => setTimeout(r, 200));
  t.is(publisher.stats().snapshotsPublished, published);
  t.is(publisher.channel.status, 'closed');
});

test('malformed snapshots from the network are counted and dropped; the good metrics of a snapshot are kept', async (t) => {
  const group = randomGroup();
  const collector = await createMetricsCollector({ ...net(group), listen: LISTEN });
  t.teardown(() => collector.close());
  const rogue = await open({ ...net(group), member: { name: 'rogue', metadata: {} } });
  t.teardown(() => rogue.close().then(() => undefined));
  rogue.write('not json', 'metrics');
  rogue.write(JSON.stringify({ version: 2, intervalMs: 1000, metrics: [] }), 'metrics');
  rogue.write(JSON.stringify({ version: 1, intervalMs: -5, metrics: [] }), 'metrics');
  const good = { name: 'ok_total', help: 'ok', type: 'counter', aggregator: 'sum', values: [{ value: 1, labels: { a: 'b' } }] };
  const badName = { ...good, name: 'bad name' };
  const badLabel = { ...good, name: 'bad_label', values: [{ value: 1, labels: { __proto__x: 'y' } }] };
  const injected = { ...good, name: 'inject', help: 'x\n# TYPE evil counter\nevil 1' };
  rogue.write(JSON.stringify({ version: 1, intervalMs: 1000, metrics: [good, badName, badLabel, { ...good }, injected] }), 'metrics');
  await waitFor('four messages', () => (collector.stats().snapshotsReceived === 4 ? true : undefined));
  t.like(collector.stats(), { snapshotsInvalid: 3, metricsInvalid: 3 });
  const body = await waitFor('the rogue instance', async () => {
    const b = (await scrape(collector)).body;
    return samplesOf(b, 'ok_total').length === 1 ? b : undefined;
  });
  t.deepEqual(samplesOf(body, 'ok_total')[0]!.labels, { a: 'b', instance: 'rogue', job: 'blipcast' });
  t.is(samplesOf(body, 'evil').length, 0, 'help text cannot inject lines');
});

test('NaN and infinities survive the wire', (t) => {
  const text = encodeSnapshot(1000, [{ name: 'g', help: 'h', type: 'gauge', values: [{ value: NaN, labels: {} }, { value: Infinity, labels: { a: 1 } }, { value: -Infinity, labels: { a: 2 } }] }]);
  const decoded = decodeSnapshot(Buffer.from(text));
  t.deepEqual(decoded?.snapshot.metrics[0]!.values.map((v) => v.value), [NaN, Infinity, -Infinity]);
});

test('instance labels: the member name when unique, host:pid when shared or empty, the session id when that is shared too', (t) => {
  const m = (id: string, name: string, metadata: Record<string, string>): MemberInfo => ({ id, name, metadata, incarnation: 0, state: 'alive', self: false, observer: false });
  const labels = instanceLabels([
    m('01', 'api', { host: 'h1', pid: '10' }),
    m('02', 'api', { host: 'h2', pid: '10' }),
    m('03', 'db', { host: 'h1', pid: '11' }),
    m('04', '', { host: 'h3', pid: '1' }),
    m('05', 'web', { host: 'h4', pid: '7' }),
    m('06', 'web', { host: 'h4', pid: '7' }),
    m('07', 'cache', {}),
    m('08', 'cache', {}),
  ]);
  t.deepEqual(labels, ['h1:10', 'h2:10', 'db', 'h3:1', '05', '06', '07', '08']);
});

test('two processes publishing under one name are told apart by host:pid', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const collector = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  own.add(await publishMetrics(counterRegistry(1).registry, { ...net(group), name: 'twin', intervalMs: 200 }));
  const child = spawn(process.execPath, [join(__dirname, 'fixtures', 'metrics-publisher.js'), '--group', group, '--name', 'twin', '--value', '2', '--counter', 'jobs_done_total', '--interval-ms', '200'], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  t.teardown(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  const samples = await waitFor('both twins', async () => {
    const s = samplesOf((await scrape(collector)).body, 'jobs_done_total');
    return s.length === 2 ? s : undefined;
  });
  t.deepEqual(byInstance(samples), { [`${hostname()}:${process.pid}`]: 1, [`${hostname()}:${child.pid}`]: 2 });
});

test('on an encrypted group only a collector with the key serves the instance', async (t) => {
  const group = randomGroup();
  const key = randomBytes(32);
  const own = cleanup(t);
  const keyed = own.add(await createMetricsCollector({ ...net(group), key, listen: LISTEN }));
  const keyless = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  own.add(await publishMetrics(counterRegistry(4).registry, { ...net(group), key, name: 'secret', intervalMs: 200 }));
  const sample = await waitFor('the keyed collector to serve it', async () => samplesOf((await scrape(keyed)).body, 'jobs_done_total')[0]);
  t.is(sample.value, 4);
  await new Promise((r) => setTimeout(r, 600));
  t.is(samplesOf((await scrape(keyless)).body, 'jobs_done_total').length, 0);
  t.is(keyless.stats().snapshotsReceived, 0);
  t.true(keyless.channel.stats().rejects['keyed-on-clear'] > 0, 'it heard sealed datagrams and dropped them');
});

test('an existing instance or job label is kept as exported_instance / exported_job', async (t) => {
  const group = randomGroup();
  const own = cleanup(t);
  const collector = own.add(await createMetricsCollector({ ...net(group), listen: LISTEN }));
  const registry = new Registry();
  new Gauge({ name: 'g', help: 'g', labelNames: ['instance', 'job'], registers: [registry] }).set({ instance: 'inner', job: 'inner-job' }, 1);
  own.add(await publishMetrics(registry, { ...net(group), name: 'outer', job: 'outer-job', intervalMs: 200 }));
  const sample = await waitFor('g', async () => samplesOf((await scrape(collector)).body, 'g')[0]);
  t.deepEqual(sample.labels, { exported_instance: 'inner', exported_job: 'inner-job', instance: 'outer', job: 'outer-job' });
});

test('other paths are 404, other methods 405', async (t) => {
  const collector = await createMetricsCollector({ ...net(randomGroup()), listen: LISTEN });
  t.teardown(() => collector.close());
  t.is((await fetch(`${collector.url}/`)).status, 404);
  t.is((await fetch(`${collector.url}/metrics/other`)).status, 404);
  t.is((await fetch(`${collector.url}/metricsx`)).status, 404);
  t.is((await fetch(`${collector.url}/metrics?x=1`)).status, 200);
  const post = await fetch(`${collector.url}/metrics`, { method: 'POST' });
  t.is(post.status, 405);
  t.is(post.headers.get('allow'), 'GET, HEAD');
  t.like(collector.stats(), { notFound: 4, scrapes: 1 });
});

test('bad options are typed errors naming the option, and open nothing', async (t) => {
  const g = net(randomGroup());
  const registry = new Registry();
  await t.throwsAsync(publishMetrics({} as Registry, g), { instanceOf: InvalidArgumentTypeError, message: /registry must be a prom-client Registry/ });
  await t.throwsAsync(publishMetrics(registry, { ...g, intervalMs: 0 }), { instanceOf: InvalidArgumentValueError, message: /options\.intervalMs must be a finite number in 10\.\./ });
  await t.throwsAsync(publishMetrics(registry, { ...g, intervalMs: '5' as unknown as number }), { instanceOf: InvalidArgumentTypeError, message: /options\.intervalMs must be a number/ });
  await t.throwsAsync(publishMetrics(registry, { ...g, stream: 5 as unknown as string }), { instanceOf: InvalidArgumentTypeError, message: /options\.stream/ });
  // Refused by the channel after it opened: the channel is closed again before the rejection.
  await t.throwsAsync(publishMetrics(registry, { ...g, stream: 'x'.repeat(300) }), { instanceOf: InvalidArgumentValueError });
  await t.throwsAsync(createMetricsCollector({ ...g, stream: 'x'.repeat(300) }), { instanceOf: InvalidArgumentValueError });
  await t.throwsAsync(publishMetrics(registry, { ...g, job: '' }), { instanceOf: InvalidArgumentValueError, message: /options\.job must not be empty/ });
  await t.throwsAsync(publishMetrics(registry, { ...g, intervalMS: 5 } as never), { instanceOf: InvalidArgumentValueError, message: /unknown option 'intervalMS'/ });
  await t.throwsAsync(publishMetrics(registry, { ...g, ttl: 300 }), { instanceOf: InvalidArgumentValueError, message: /options\.ttl/ });
  await t.throwsAsync(publishMetrics(registry, { interface: '127.0.0.1' } as never), { instanceOf: InvalidArgumentTypeError, message: /group/ });
  await t.throwsAsync(createMetricsCollector({ ...g, gaugeRule: 'median' as never }), { instanceOf: InvalidArgumentValueError, message: /options\.gaugeRule must be 'sum', 'max', 'min', 'average', 'first', got 'median'/ });
  await t.throwsAsync(createMetricsCollector({ ...g, listen: { host: '127.0.0.1', port: 70000 } }), { instanceOf: InvalidArgumentValueError, message: /options\.listen\.port/ });
  await t.throwsAsync(createMetricsCollector({ ...g, listen: '127.0.0.1:9464' as never }), { instanceOf: InvalidArgumentTypeError, message: /options\.listen/ });
});

test('a port in use rejects with the listen error and leaves nothing open', async (t) => {
  const g = net(randomGroup());
  const first = await createMetricsCollector({ ...g, listen: LISTEN });
  t.teardown(() => first.close());
  const port = Number(new URL(first.url!).port);
  await t.throwsAsync(createMetricsCollector({ ...g, listen: { host: '127.0.0.1', port } }), { code: 'EADDRINUSE' });
});

// The command.

function run(args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('blipcast collect metrics --help prints its usage and exits 0', (t) => {
  const r = run(['collect', 'metrics', '--help']);
  t.is(r.code, 0);
  t.regex(r.stdout, /^Usage: blipcast collect metrics GROUP:PORT --listen HOST:PORT/);
  for (const word of ['--listen', '--job', '--gauge-rule', '--stats', '--key-file', '/metrics/aggregate', 'honor_labels']) t.true(r.stdout.includes(word), word);
});

for (const [args, message] of [
  [['--listen', 'nope'], /--listen must be HOST:PORT/],
  [['--listen', '127.0.0.1:70000'], /--listen must be HOST:PORT/],
  [[], /missing --listen/],
  [['--listen', '127.0.0.1:0', '--gauge-rule', 'median'], /--gauge-rule must be sum, max, min, average or first/],
  [['--listen', '127.0.0.1:0', '--ttl', '-1'], /ttl/],
] as const) {
  test(`blipcast collect metrics ${args.join(' ')} is a usage error (exit 2)`, (t) => {
    const r = run(['collect', 'metrics', randomGroup(), '--interface', '127.0.0.1', '--ttl', '0', ...args]);
    t.is(r.code, 2, r.stderr);
    t.regex(r.stderr, message);
  });
}

test('blipcast collect metrics serves /metrics, prints its counters on SIGUSR1 and at SIGTERM, and exits 0', async (t) => {
  const group = randomGroup();
  const child = spawn(process.execPath, [BIN, 'collect', 'metrics', group, '--interface', '127.0.0.1', '--ttl', '0', '--listen', '127.0.0.1:0', '--job', 'cli', '--stats'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const url = await waitFor('the serving line', () => /serving (http:\/\/127\.0\.0\.1:\d+)\/metrics/.exec(stderr)?.[1]);
  const publisher = await publishMetrics(counterRegistry(9).registry, { ...net(group), name: 'cli-pub', intervalMs: 200 });
  t.teardown(() => publisher.stop());
  const sample = await waitFor('the instance', async () => samplesOf(await (await fetch(`${url}/metrics`)).text(), 'jobs_done_total')[0]);
  t.deepEqual(sample, { name: 'jobs_done_total', labels: { instance: 'cli-pub', job: 'cli' }, value: 9 });

  child.kill('SIGUSR1');
  const usr1 = await waitFor('the SIGUSR1 stats line', () => stderr.split('\n').find((l) => l.startsWith('{"event":"stats"')));
  t.like(JSON.parse(usr1), { collector: { instances: 1, scrapes: 1 } });
  t.is(child.exitCode, null, 'still running after SIGUSR1');

  child.kill('SIGTERM');
  t.is(await exited, 0, stderr);
  const lines = stderr.split('\n').filter((l) => l.startsWith('{"event":"stats"'));
  t.is(lines.length, 2);
  const last = JSON.parse(lines[1]!) as { collector: { snapshotsReceived: number; scrapes: number }; protocol: object };
  t.true(last.collector.snapshotsReceived >= 1);
  t.is(last.collector.scrapes, 1);
  t.truthy(last.protocol, "the channel's counters too");
});
