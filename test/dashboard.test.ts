/**
 * The dashboard's server without a browser: what it serves over HTTP, the
 * snapshots over WebSocket, what it does with a client that does not read,
 * close(); and `blipcast dashboard` as a process (multicast on loopback:
 * 127.0.0.1, TTL 0). Everything binds 127.0.0.1.
 */

import test from 'ava';
import { EventEmitter } from 'node:events';
import { request } from 'node:http';
import { createServer, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { WebSocket } from 'ws';
import { serveDashboard, type Dashboard, type DashboardOptions } from '../src/observe/dashboard';
import type { GroupSnapshot, ReceiverRow } from '../src/observe/types';
import { LOOPBACK, randomGroup, run, start, until, type Proc } from './helpers/cli';

/** A stand-in for a GroupWatcher: emits the snapshots it is told to. */
class FakeWatcher extends EventEmitter<{ snapshot: [GroupSnapshot] }> {
  latest: GroupSnapshot;
  constructor(private seq = 0) {
    super();
    this.latest = snapshot(seq);
  }
  snapshot(): GroupSnapshot {
    return this.latest;
  }
  next(padBytes = 0): GroupSnapshot {
    this.latest = snapshot(++this.seq, padBytes);
    this.emit('snapshot', this.latest);
    return this.latest;
  }
}

/** Snapshot number `seq` (its time is seq), with one member's metadata padded to make it about `padBytes` long as JSON. */
function snapshot(seq: number, padBytes = 0): GroupSnapshot {
  return {
    time: seq,
    group: '239.255.0.1:5000',
    self: 'observer',
    members: [{ id: 'a1', name: 'sender-a', state: 'alive', metadata: { pad: 'x'.repeat(padBytes) }, observer: false, self: false }],
    sources: [{ id: 'a1', name: 'sender-a', address: '127.0.0.1', messagesPerSec: seq, bytesPerSec: 64 * seq, messages: seq, bytes: 64 * seq, headSeq: seq, receivers: 0, worstLagMessages: 0 }],
    receivers: [receiver('listener-ok', 0), receiver('listener-lossy', 3)],
  };
}

function receiver(name: string, lostPerSec: number): ReceiverRow {
  return {
    id: name, name, address: '127.0.0.1', sourceId: 'a1', sourceName: 'sender-a', ackSeq: 0, lagMessages: 0, lagBytes: 0, naksPerSec: 0, naks: 0,
    repairsPerSec: 0, repairs: 0, lost: lostPerSec, lostPerSec, gapsOpen: 0, reorderBytes: 0, kernelDrops: 0, readBacklogBytes: 0,
    repairLatencyMs: undefined, lastHeardMsAgo: 100, state: 'live',
  };
}

async function serve(options: Partial<DashboardOptions> = {}): Promise<{ watcher: FakeWatcher; dashboard: Dashboard }> {
  const watcher = new FakeWatcher();
  const dashboard = await serveDashboard(watcher, { host: '127.0.0.1', port: 0, ...options });
  return { watcher, dashboard };
}

/** GET (or another method) with an explicit Host header; resolves with the status, headers and body. */
function get(url: string, options: { method?: string; host?: string; agent?: import('node:http').Agent } = {}): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: options.method ?? 'GET', headers: options.host !== undefined ? { host: options.host } : {}, agent: options.agent },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type'] ?? ''), body }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function wsUrl(dashboard: Dashboard): string {
  return `${dashboard.url.replace(/^http/, 'ws')}ws`;
}

/** A client that keeps every snapshot it receives. */
async function client(dashboard: Dashboard, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; received: GroupSnapshot[] }> {
  const ws = new WebSocket(wsUrl(dashboard), { headers });
  const received: GroupSnapshot[] = [];
  ws.on('message', (data) => received.push(JSON.parse(String(data)) as GroupSnapshot));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, received };
}

test('serves the page, its modules and uPlot, and nothing else', async (t) => {
  const { dashboard } = await serve();
  t.teardown(() => dashboard.close());
  t.regex(dashboard.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const page = await get(dashboard.url);
  t.is(page.status, 200);
  t.is(page.type, 'text/html; charset=utf-8');
  t.regex(page.body, /<script type="module" src="app\.js"><\/script>/);
  for (const path of ['app.js', 'charts.js', 'tables.js', 'style.css', 'vendor/uPlot.iife.min.js', 'vendor/uPlot.min.css']) {
    const res = await get(`${dashboard.url}${path}`);
    t.is(res.status, 200, path);
    t.regex(res.type, path.endsWith('.js') ? /^text\/javascript/ : /^text\/css/, path);
    t.true(res.body.length > 100, path);
  }
  t.is((await get(`${dashboard.url}nope`)).status, 404);
  t.is((await get(`${dashboard.url}../package.json`)).status, 404);
  t.is((await get(dashboard.url, { method: 'POST' })).status, 405);
  t.is((await get(dashboard.url, { method: 'HEAD' })).status, 200);
});

test('refuses a request naming another host (DNS rebinding) and a WebSocket from another origin', async (t) => {
  const { dashboard } = await serve();
  t.teardown(() => dashboard.close());
  const port = new URL(dashboard.url).port;
  t.is((await get(`${dashboard.url}snapshot.json`, { host: `attacker.example:${port}` })).status, 403);
  t.is((await get(`${dashboard.url}snapshot.json`, { host: `localhost:${port}` })).status, 200);
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(wsUrl(dashboard), { headers: { origin: 'http://attacker.example' } });
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.on('error', () => undefined);
  });
  t.is(refused, 403);
  const same = await client(dashboard, { origin: dashboard.url.slice(0, -1) });
  await until('the first snapshot', () => same.received.length === 1);
  same.ws.close();
  t.is(dashboard.stats().refused, 2);
});

test('/snapshot.json is the latest snapshot, each receiver flagged by top\'s rule', async (t) => {
  const { watcher, dashboard } = await serve();
  t.teardown(() => dashboard.close());
  watcher.next();
  const res = await get(`${dashboard.url}snapshot.json`);
  t.is(res.status, 200);
  t.is(res.type, 'application/json; charset=utf-8');
  const { receivers, ...rest } = JSON.parse(res.body) as GroupSnapshot & { receivers: (ReceiverRow & { troubled: boolean })[] };
  const { receivers: expected, ...expectedRest } = watcher.latest;
  t.deepEqual(rest, expectedRest);
  const asJson = (v: unknown): unknown => JSON.parse(JSON.stringify(v));
  t.deepEqual(receivers, asJson(expected.map((r) => ({ ...r, troubled: r.lostPerSec > 0 }))), "each receiver also says whether top marks it ('!')");
});

test('a WebSocket client gets the latest snapshot at once, then every snapshot; many clients each get all', async (t) => {
  const { watcher, dashboard } = await serve();
  t.teardown(() => dashboard.close());
  const clients = await Promise.all(Array.from({ length: 20 }, () => client(dashboard)));
  await until('every client has the latest snapshot', () => clients.every((c) => c.received.length === 1));
  t.true(clients.every((c) => c.received[0]!.time === 0));
  for (let i = 0; i < 5; i++) watcher.next();
  await until('every client has every snapshot', () => clients.every((c) => c.received.length === 6));
  t.true(clients.every((c) => c.received.map((s) => s.time).join() === '0,1,2,3,4,5'));
  t.is(dashboard.stats().clients, 20);
  // A client that goes away is forgotten; the others go on.
  clients[0]!.ws.terminate();
  await until('the server to see the disconnect', () => dashboard.stats().clients === 19);
  watcher.next();
  await until('the others to get the next one', () => clients.slice(1).every((c) => c.received.length === 7));
  t.pass();
});

test('a client that does not read misses snapshots: the server buffers no more than the limit and one snapshot for it, and the others get every one', async (t) => {
  const maxClientBufferedBytes = 256 * 1024;
  const { watcher, dashboard } = await serve({ maxClientBufferedBytes });
  t.teardown(() => dashboard.close());
  const stalled = await client(dashboard);
  const reader = await client(dashboard);
  await until('both clients have the first snapshot', () => stalled.received.length === 1 && reader.received.length === 1);
  // The stalled client stops reading its socket: the kernel's buffers fill, then the server's.
  (stalled.ws as unknown as { _socket: Socket })._socket.pause();
  const sizeBytes = JSON.stringify(snapshot(1, 64 * 1024)).length;
  let maxBuffered = 0;
  const count = 400; // 26 MB in all, far more than the kernel's socket buffers hold
  for (let i = 0; i < count; i++) {
    watcher.next(64 * 1024);
    maxBuffered = Math.max(maxBuffered, dashboard.stats().bufferedBytes);
    // The reader reads as fast as it can; the server writes between snapshots.
    await until('the reader to keep up', () => reader.received.length >= i - 2, 10_000);
  }
  await until('the reader has every snapshot', () => reader.received.length === count + 1, 10_000);
  const stats = dashboard.stats();
  t.log(`${stats.dropped} of ${count} snapshots dropped for the stalled client; at most ${maxBuffered} bytes buffered (limit ${maxClientBufferedBytes}, snapshot ${sizeBytes})`);
  t.true(stats.dropped > count / 2, `dropped ${stats.dropped}`);
  t.true(maxBuffered <= maxClientBufferedBytes + 2 * sizeBytes + 4096, `buffered ${maxBuffered}`);
  t.is(stats.sent, 2 + count + (count - stats.dropped), 'every snapshot went to the reader; to the stalled one, all that were not dropped');
  t.is(stats.clients, 2, 'a client stalled for less than clientStalledMs stays connected');
});

test('a client stalled for clientStalledMs is disconnected', async (t) => {
  const { watcher, dashboard } = await serve({ maxClientBufferedBytes: 64 * 1024, clientStalledMs: 300 });
  t.teardown(() => dashboard.close());
  const stalled = await client(dashboard);
  await until('the first snapshot', () => stalled.received.length === 1);
  (stalled.ws as unknown as { _socket: Socket })._socket.pause();
  const deadline = Date.now() + 10_000;
  while (dashboard.stats().stalled === 0 && Date.now() < deadline) {
    watcher.next(64 * 1024);
    await sleep(5);
  }
  t.is(dashboard.stats().stalled, 1);
  t.is(dashboard.stats().clients, 0);
});

test('close() says goodbye to every client, ends idle HTTP connections and stops listening', async (t) => {
  const { dashboard } = await serve();
  const clients = await Promise.all([client(dashboard), client(dashboard)]);
  const codes = clients.map((c) => new Promise<number>((resolve) => c.ws.once('close', (code) => resolve(code))));
  // An idle keep-alive connection must not hold close() open.
  const { Agent } = await import('node:http');
  const agent = new Agent({ keepAlive: true });
  t.teardown(() => agent.destroy());
  t.is((await get(`${dashboard.url}snapshot.json`, { agent })).status, 200);
  const started = Date.now();
  await dashboard.close();
  t.true(Date.now() - started < 2000, `close took ${Date.now() - started} ms`);
  t.deepEqual(await Promise.all(codes), [1001, 1001], 'close code 1001, going away');
  await t.throwsAsync(get(`${dashboard.url}snapshot.json`), { code: 'ECONNREFUSED' });
  t.is(dashboard.stats().clients, 0);
  await dashboard.close(); // a second close is harmless
});

/** The URL a running `blipcast dashboard` printed, once it has. */
async function urlOf(p: Proc): Promise<string> {
  await until('the dashboard to print its URL', () => /^dashboard: /m.test(p.stderr()) || p.child.exitCode !== null, 15_000);
  const m = /^dashboard: (http:\S+)$/m.exec(p.stderr());
  if (m === null) throw new Error(`no URL: ${p.stderr()}`);
  return m[1]!;
}

test('blipcast dashboard prints its URL, serves the group it watches and exits 0 on SIGTERM with --stats', async (t) => {
  const group = randomGroup();
  const cli = start(t, ['dashboard', group, ...LOOPBACK, '--listen', '127.0.0.1:0', '--stats']);
  const url = await urlOf(cli);
  t.regex(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const snap = JSON.parse((await get(`${url}snapshot.json`)).body) as GroupSnapshot;
  t.is(snap.group, group);
  t.true(snap.members.some((m) => m.self && m.observer && m.name === 'blipcast-dashboard'), JSON.stringify(snap.members));
  cli.child.kill('SIGTERM');
  t.is((await cli.exit).code, 0, cli.stderr());
  t.regex(cli.stderr(), /^\{"event":"stats",.*"dashboard":\{.*"requests":1/m);
});

test('blipcast dashboard on a port in use exits 1 and says so', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as { port: number }).port;
  const r = run(['dashboard', randomGroup(), ...LOOPBACK, '--listen', `127.0.0.1:${port}`]);
  t.is(r.code, 1);
  t.regex(r.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`));
});

test('blipcast dashboard checks its arguments', (t) => {
  for (const [args, message] of [
    [['--listen', '127.0.0.1:99999'], /--listen must be HOST:PORT/],
    [['--stream', 'x'], /--stream does not apply/],
  ] as const) {
    const r = run(['dashboard', randomGroup(), ...LOOPBACK, ...args]);
    t.is(r.code, 2, args.join(' '));
    t.regex(r.stderr, message);
  }
});
