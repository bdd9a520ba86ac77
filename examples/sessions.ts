/**
 * Session sharing between two web servers with no session store, on
 * loopback: each server process keeps its sessions in a replicated map
 * (`blipcast/state`) on its own channel. A user logs in on server A, is known
 * on server B with the same cookie, logs out on B, and A no longer knows the
 * session. This process is server A and the client; it forks server B.
 * Run: `node dist/examples/sessions.js`.
 */

import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { open } from '../src/index';
import { replicate, type ReplicatedMap } from '../src/state/index';

interface Session {
  user: string;
  createdAt: string;
  server: string;
}

/** How long a request waits for a session written on the other server to arrive before it answers 401. */
const REPLICATION_WAIT_MS = 2000;

function sessionIdOf(req: IncomingMessage): string | undefined {
  return /(?:^|;\s*)sid=([0-9a-f]+)/.exec(req.headers.cookie ?? '')?.[1];
}

/** The session of `id`, waiting up to `ms` for it to be replicated here (a request may beat the change to this server). */
function lookup(sessions: ReplicatedMap<Session>, id: string, ms: number): Promise<Session | undefined> {
  const known = sessions.get(id);
  if (known !== undefined) return Promise.resolve(known);
  return new Promise((resolve) => {
    const onChange = (change: { key: string; value: Session | undefined }): void => {
      if (change.key !== id || change.value === undefined) return;
      done(change.value);
    };
    const timer = setTimeout(() => done(undefined), ms);
    const done = (session: Session | undefined): void => {
      clearTimeout(timer);
      sessions.off('change', onChange);
      resolve(session);
    };
    sessions.on('change', onChange);
  });
}

function reply(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body));
}

/** One web server: its channel, its replica of 'sessions', node:http on 127.0.0.1 (port chosen by the OS). */
async function startServer(name: string, group: string): Promise<{ url: string; sessions: ReplicatedMap<Session>; stop(): Promise<void> }> {
  // Loopback only: interface 127.0.0.1 and TTL 0 keep every datagram on this machine; HTTP binds 127.0.0.1.
  const channel = await open({ group, interface: '127.0.0.1', ttl: 0 });
  const sessions = await replicate<Session>(channel, 'sessions');
  sessions.on('change', (c) => {
    if (c.origin === sessions.id) return;
    console.log(`[${name}] replicated: session ${c.key.slice(0, 8)}… ${c.value === undefined ? 'deleted' : `of ${c.value.user}`}`);
  });

  const server: Server = createServer((req, res) => {
    void (async () => {
      const id = sessionIdOf(req);
      if (req.method === 'POST' && req.url === '/login') {
        let body = '';
        for await (const chunk of req) body += String(chunk);
        const user = String((JSON.parse(body || '{}') as { user?: unknown }).user ?? 'anonymous');
        const sid = randomBytes(16).toString('hex');
        sessions.set(sid, { user, createdAt: new Date().toISOString(), server: name });
        reply(res, 200, { user }, { 'set-cookie': `sid=${sid}; HttpOnly; Path=/` });
      } else if (req.method === 'GET' && req.url === '/whoami') {
        const wait = req.headers['x-wait'] === 'no' ? 0 : REPLICATION_WAIT_MS;
        const session = id === undefined ? undefined : await lookup(sessions, id, wait);
        if (session === undefined) reply(res, 401, { error: 'no session', server: name });
        else reply(res, 200, { user: session.user, loggedInOn: session.server, server: name });
      } else if (req.method === 'POST' && req.url === '/logout') {
        const had = id !== undefined && sessions.delete(id);
        reply(res, had ? 200 : 401, { loggedOut: had, server: name });
      } else {
        reply(res, 404, { error: 'not found' });
      }
    })().catch((err: unknown) => reply(res, 500, { error: String(err) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    sessions,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await sessions.close();
      await channel.close();
    },
  };
}

/** Server B, in the forked process: tells the parent its URL, stops when told. */
async function serverB(group: string): Promise<void> {
  const b = await startServer('B', group);
  await b.sessions.synced();
  process.send!({ url: b.url });
  await new Promise<void>((resolve) => process.once('message', () => resolve()));
  console.log(`[B] stopping: ${b.sessions.size} sessions, digest ${b.sessions.digest()}`);
  await b.stop();
  process.disconnect();
}

async function main(): Promise<void> {
  const group = `239.255.0.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
  const child: ChildProcess = fork(__filename, ['server-b', group], { stdio: 'inherit' });
  const childExit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let ok = true;
  const check = (what: string, good: boolean): void => {
    console.log(`${good ? 'ok  ' : 'FAIL'} ${what}`);
    ok &&= good;
  };
  try {
    const a = await startServer('A', group);
    const bUrl = await new Promise<string>((resolve, reject) => {
      child.once('message', (m) => resolve((m as { url: string }).url));
      child.once('exit', (code) => reject(new Error(`server B exited ${code} before it listened`)));
    });
    await a.sessions.synced();
    console.log(`server A ${a.url} and server B ${bUrl} share the map 'sessions' on ${group} (loopback)`);

    const login = await fetch(`${a.url}/login`, { method: 'POST', body: JSON.stringify({ user: 'ada' }) });
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0]!;
    check(`POST A/login → ${login.status}, cookie ${cookie.slice(0, 12)}…`, login.status === 200 && cookie.startsWith('sid='));

    const t0 = performance.now();
    const who = await fetch(`${bUrl}/whoami`, { headers: { cookie } });
    const whoBody = (await who.json()) as { user?: string; loggedInOn?: string };
    check(`GET B/whoami → ${who.status} ${JSON.stringify(whoBody)} (${(performance.now() - t0).toFixed(1)} ms)`, who.status === 200 && whoBody.user === 'ada');

    const gone = new Promise<number>((resolve) => {
      const t = performance.now();
      const onChange = (c: { key: string; value: unknown }): void => {
        if (c.key !== cookie.slice(4) || c.value !== undefined) return;
        a.sessions.off('change', onChange);
        resolve(performance.now() - t);
      };
      a.sessions.on('change', onChange);
    });
    const logout = await fetch(`${bUrl}/logout`, { method: 'POST', headers: { cookie } });
    check(`POST B/logout → ${logout.status}`, logout.status === 200);
    const goneMs = await Promise.race([gone, new Promise<number>((r) => setTimeout(() => r(NaN), REPLICATION_WAIT_MS))]);
    const after = await fetch(`${a.url}/whoami`, { headers: { cookie, 'x-wait': 'no' } });
    check(`A saw the logout after ${goneMs.toFixed(1)} ms; GET A/whoami → ${after.status}`, Number.isFinite(goneMs) && after.status === 401);

    console.log(`[A] stopping: ${a.sessions.size} sessions, digest ${a.sessions.digest()}`);
    child.send('stop');
    await a.stop();
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  const code = await childExit;
  check(`server B exited ${code}`, code === 0);
  if (!ok) process.exitCode = 1;
}

if (process.argv[2] === 'server-b') {
  serverB(process.argv[3]!).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
