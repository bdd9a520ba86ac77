/**
 * The bus commands as processes on loopback: `serve` + `request` (one
 * server, `--gather` over three, a failing command, nobody serving), `work`
 * + `submit` (two workers and 200 tasks, a failing task, a task whose
 * submitter stops, nobody working) and their usage errors.
 */

import test, { type ExecutionContext } from 'ava';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BIN, LOOPBACK, randomGroup } from './helpers/cli';

interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout: () => Buffer;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** A `blipcast` process, killed at the end of the test if it is still running (continued first, should it be stopped). */
function start(t: ExecutionContext, args: string[], input?: string | Buffer): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  let err = '';
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.on('error', () => {});
  if (input !== undefined) child.stdin.end(input);
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGCONT');
    child.kill('SIGKILL');
  });
  return { child, stdout: () => Buffer.concat(out), stderr: () => err, exit };
}

/** A finished `blipcast` process: its exit code, stdout (bytes) and stderr. */
function run(args: string[], input: string | Buffer = '', timeoutMs = 30_000): { code: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input, timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A `serve` process, once it says it is serving. */
async function server(t: ExecutionContext, group: string, name: string, subjects: string[], command: string, extra: string[] = []): Promise<Proc> {
  const p = start(t, ['serve', group, ...LOOPBACK, '--name', name, ...subjects.flatMap((s) => ['--subject', s]), '--exec', command, ...extra]);
  await until(`${name} to serve`, () => p.stderr().includes('serving'));
  return p;
}

/** A `work` process, once it says it is working. */
async function worker(t: ExecutionContext, group: string, name: string, queue: string, command: string, extra: string[] = []): Promise<Proc> {
  const p = start(t, ['work', group, ...LOOPBACK, '--name', name, '--queue', queue, '--exec', command, ...extra]);
  await until(`${name} to work`, () => p.stderr().includes('working'));
  return p;
}

async function stop(t: ExecutionContext, p: Proc): Promise<void> {
  p.child.kill('SIGTERM');
  t.deepEqual(await p.exit, { code: 0, signal: null }, p.stderr());
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-cli-bus-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** True while some process of process group `pgid` exists. */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

const usageErrors: [string[], RegExp][] = [
  [['serve', '239.255.0.1:5000', '--exec', 'cat'], /missing --subject/],
  [['serve', '239.255.0.1:5000', '--subject', 'x'], /missing --exec/],
  [['serve', '239.255.0.1:5000', '--subject', 'x', '--subject', 'x', '--exec', 'cat'], /--subject x given twice/],
  [['serve', '239.255.0.1:5000', '--subject', 'x', '--exec', 'cat', '--concurrency', '0'], /--concurrency must be a whole number from 1 to 1000000 \(got 0\)/],
  [['request', '239.255.0.1:5000', 'payload'], /missing --subject/],
  [['request', '239.255.0.1:5000', '--subject', 'x', 'one', 'two'], /unexpected argument 'two'/],
  [['request', '239.255.0.1:5000', '--subject', 'x', '--timeout', 'soon'], /--timeout must be a number of seconds/],
  [['request', '--subject', 'x'], /missing GROUP:PORT/],
  [['work', '239.255.0.1:5000', '--exec', 'cat'], /missing --queue/],
  [['work', '239.255.0.1:5000', '--queue', 'q'], /missing --exec/],
  [['work', '239.255.0.1:5000', '--queue', 'q', '--exec', 'cat', '--capacity', 'many'], /--capacity must be a whole number/],
  [['submit', '239.255.0.1:5000'], /missing --queue/],
  [['submit', '239.255.0.1:5000', '--queue', 'q', '--lease', '0.001'], /--lease must be at least 0.01 seconds \(got 0.001\)/],
  [['request', '239.255.0.1:5000', '--subject', 'x', '--timeout', '0', 'p'], /--timeout must be at least 0.001 seconds/],
  [['submit', '239.255.0.1:5000', '--queue', 'q', '--replicas', '0'], /--replicas must be a whole number/],
  [['submit', '10.0.0.1:5000', '--queue', 'q'], /not a multicast address/],
  [['submit', '239.255.0.1:5000', '--queue', 'q', '--bogus'], /Unknown option '--bogus'/],
];
for (const [args, message] of usageErrors) {
  test(`${args.join(' ')} is a one-line usage error with exit code 2`, (t) => {
    const r = run([...args, ...LOOPBACK]);
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, message);
    t.regex(r.stderr, new RegExp(`\\(see blipcast ${args[0]} --help\\)`));
  });
}

for (const [command, words] of [['serve', ['--subject', '--exec', '--concurrency', 'BLIPCAST_SUBJECT']], ['request', ['--gather', '--timeout', 'NAME<TAB>REPLY', '3 no live member']], ['work', ['--queue', '--capacity', 'BLIPCAST_TASK_ID']], ['submit', ['--lease', '--replicas', '--max-failures', 'INDEX<TAB>RESULT']]] as const) {
  test(`blipcast ${command} --help prints its usage and exits 0`, (t) => {
    const r = run([command, '--help']);
    t.is(r.code, 0, r.stderr);
    t.regex(r.stdout.toString(), new RegExp(`^Usage: blipcast ${command} GROUP:PORT`));
    for (const word of words) t.true(r.stdout.toString().includes(word), word);
  });
}

test.serial('request prints the reply exactly as the command wrote it, for a payload from the argument and from stdin', async (t) => {
  const group = randomGroup();
  // Two subjects, one command: it reads which from its environment.
  const s = await server(t, group, 'one', ['upper', 'echo'], 'if [ "$BLIPCAST_SUBJECT" = upper ]; then tr a-z A-Z; else cat; fi');
  const upper = run(['request', group, ...LOOPBACK, '--subject', 'upper', 'hello, bus']);
  t.is(upper.code, 0, upper.stderr);
  t.is(upper.stdout.toString(), 'HELLO, BUS');
  const bytes = Buffer.concat([randomBytes(3000), Buffer.from('\n\0\n')]);
  const echo = run(['request', group, ...LOOPBACK, '--subject', 'echo'], bytes);
  t.is(echo.code, 0, echo.stderr);
  t.true(echo.stdout.equals(bytes), 'the reply is the payload, byte for byte');
  const dashed = run(['request', group, ...LOOPBACK, '--subject', 'echo', '--', '--not-an-option']);
  t.is(dashed.stdout.toString(), '--not-an-option');
  await stop(t, s);
});

test.serial("a command that fails is the requester's error: its stderr, exit code 1", async (t) => {
  const group = randomGroup();
  const s = await server(t, group, 'grumpy', ['fail', 'silent'], 'if [ "$BLIPCAST_SUBJECT" = fail ]; then echo "no such thing: $(cat)" >&2; exit 3; else exit 5; fi');
  const failed = run(['request', group, ...LOOPBACK, '--subject', 'fail', 'widget']);
  t.is(failed.code, 1);
  t.is(failed.stdout.length, 0);
  t.is(failed.stderr, "blipcast: 'fail' failed on grumpy: no such thing: widget\n");
  const silent = run(['request', group, ...LOOPBACK, '--subject', 'silent', 'x']);
  t.is(silent.code, 1);
  t.is(silent.stderr, "blipcast: 'silent' failed on grumpy: exit code 5\n");
  // spawnSync held this process's event loop: the server's stderr is read now.
  await until("the server's failure line", () => /request \S+ on 'fail' from \S+ failed: no such thing: widget\n/.test(s.stderr()));
  await stop(t, s);
});

test.serial('a request nobody serves exits 3 after the discovery wait', (t) => {
  const started = Date.now();
  const r = run(['request', randomGroup(), ...LOOPBACK, '--subject', 'nobody', 'x']);
  const elapsedMs = Date.now() - started;
  t.is(r.code, 3);
  t.is(r.stderr, "blipcast: no live member serves subject 'nobody'\n");
  t.true(elapsedMs >= 1500, `${elapsedMs} ms`);
  t.log(`${elapsedMs} ms`);
});

test.serial('a gather nobody serves exits 3; one whose --timeout ends before discovery exits 4', (t) => {
  const group = randomGroup();
  const nobody = run(['request', group, ...LOOPBACK, '--subject', 'nobody', '--gather', 'x']);
  t.is(nobody.code, 3, nobody.stderr);
  t.is(nobody.stderr, "blipcast: no live member serves subject 'nobody'\n");
  const early = run(['request', group, ...LOOPBACK, '--subject', 'nobody', '--gather', '--timeout', '1', 'x']);
  t.is(early.code, 4, early.stderr);
  t.regex(early.stderr, /--timeout passed before the servers were discovered/);
});

test.serial('a request its server does not answer within --timeout exits 4', async (t) => {
  const group = randomGroup();
  const s = await server(t, group, 'slowpoke', ['slow'], 'sleep 30');
  const r = run(['request', group, ...LOOPBACK, '--subject', 'slow', '--timeout', '1', 'x']);
  t.is(r.code, 4, r.stderr);
  t.is(r.stderr, "blipcast: request 'slow' got no answer in 1000 ms (asked slowpoke)\n");
  await stop(t, s);
});

test.serial('gather prints one line per server and exits 0; a server stopped mid-request is named missing and the exit code is 1', async (t) => {
  const group = randomGroup();
  const servers = await Promise.all(['a', 'b', 'c'].map((name) => server(t, group, name, ['who'], `printf '%s\\n' "$(cat) from ${name}"`)));
  const all = run(['request', group, ...LOOPBACK, '--subject', 'who', '--gather', '--timeout', '5', 'hi']);
  t.is(all.code, 0, all.stderr);
  t.is(all.stderr, '');
  t.deepEqual(all.stdout.toString().split('\n').sort(), ['', 'a\thi from a', 'b\thi from b', 'c\thi from c']);

  // d stops itself (SIGSTOP to its server process) when a request reaches it: it is known to the gather, then silent.
  const d = await server(t, group, 'd', ['who'], 'kill -STOP $PPID; cat');
  const some = run(['request', group, ...LOOPBACK, '--subject', 'who', '--gather', '--timeout', '4', 'hey']);
  t.is(some.code, 1, some.stderr);
  t.deepEqual(some.stdout.toString().split('\n').sort(), ['', 'a\they from a', 'b\they from b', 'c\they from c']);
  t.regex(some.stderr, /^missing d \([0-9a-f]{16}\): (timeout|dead)\n$/);
  d.child.kill('SIGCONT');
  d.child.kill('SIGKILL');
  await d.exit;
  for (const s of servers) await stop(t, s);
});

test.serial('two workers run 200 submitted tasks: each index once, each result right', async (t) => {
  const group = randomGroup();
  const workers = [
    await worker(t, group, 'w1', 'squares', 'read x; echo $((x*x))', ['--capacity', '4', '--stats']),
    await worker(t, group, 'w2', 'squares', 'read x; echo $((x*x))', ['--capacity', '4', '--stats']),
  ];
  const input = Array.from({ length: 200 }, (_, i) => `${i + 1}\n`).join('');
  const s = start(t, ['submit', group, ...LOOPBACK, '--queue', 'squares', '--stats'], input);
  t.deepEqual(await s.exit, { code: 0, signal: null }, s.stderr());
  const lines = s.stdout().toString().split('\n');
  t.is(lines.pop(), '');
  t.is(lines.length, 200);
  const seen = new Map<number, string>();
  for (const line of lines) {
    const [index, result] = line.split('\t') as [string, string];
    t.false(seen.has(Number(index)), `index ${index} printed twice`);
    seen.set(Number(index), result);
  }
  for (let i = 0; i < 200; i++) t.is(seen.get(i), String((i + 1) * (i + 1)), `task ${i}`);
  const stats = JSON.parse(s.stderr().split('\n').find((l) => l.startsWith('{"event":"stats"'))!) as { tasksSubmitted: number; tasksCompleted: number };
  t.like(stats, { tasksSubmitted: 200, tasksCompleted: 200 });
  for (const w of workers) await stop(t, w);
  t.log(workers.map((w) => `${JSON.parse(w.stderr().split('\n').find((l) => l.startsWith('{"event":"stats"'))!).tasksRun} run`).join(', '));
});

test.serial('a worker killed mid-run loses its tasks to the other: every task still has exactly one result', async (t) => {
  const group = randomGroup();
  const command = 'read x; sleep 0.05; echo $((x*x))';
  const doomed = await worker(t, group, 'doomed', 'squares', command, ['--capacity', '4']);
  const survivor = await worker(t, group, 'survivor', 'squares', command, ['--capacity', '4']);
  const input = Array.from({ length: 100 }, (_, i) => `${i}\n`).join('');
  const s = start(t, ['submit', group, ...LOOPBACK, '--queue', 'squares', '--lease', '2', '--stats'], input);
  await until('the first results', () => s.stdout().toString().split('\n').length > 10);
  doomed.child.kill('SIGKILL');
  t.deepEqual(await s.exit, { code: 0, signal: null }, s.stderr());
  const lines = s.stdout().toString().split('\n').slice(0, -1);
  t.deepEqual(lines.sort(), Array.from({ length: 100 }, (_, i) => `${i}\t${i * i}`).sort());
  const stats = JSON.parse(s.stderr().split('\n').find((l) => l.startsWith('{"event":"stats"'))!) as { tasksReoffered: number; resultsLate: number };
  t.log(`re-offered ${stats.tasksReoffered}, late results ${stats.resultsLate}`);
  await stop(t, survivor);
});

test.serial('a task whose command keeps failing is reported on stderr, not stdout, and the exit code is 1', async (t) => {
  const group = randomGroup();
  const w = await worker(t, group, 'picky', 'q', 'read x; if [ "$x" = seven ]; then echo "$x is bad" >&2; exit 1; fi; echo "$x ok"');
  // A last line without its newline is a task too.
  const r = start(t, ['submit', group, ...LOOPBACK, '--queue', 'q', '--max-failures', '2'], 'six\nseven\neight');
  t.deepEqual(await r.exit, { code: 1, signal: null }, r.stderr());
  t.deepEqual(r.stdout().toString().split('\n').sort(), ['', '0\tsix ok', '2\teight ok']);
  t.regex(r.stderr(), /^task 1 failed: task on 'q' failed 2 time\(s\), last on picky: seven is bad$/m);
  await stop(t, w);
});

test.serial('submit with nobody working the queue exits 3', (t) => {
  const r = run(['submit', randomGroup(), ...LOOPBACK, '--queue', 'idle'], 'a\nb\n');
  t.is(r.code, 3, r.stderr);
  t.is(r.stdout.length, 0);
  t.is(r.stderr, "blipcast: no live member works queue 'idle'\n");
});

/** The pid the task's command wrote to `pidFile` (`echo $$ > FILE`), once it has started. */
async function commandPid(pidFile: string): Promise<number> {
  let pid = 0;
  await until('the command to start', () => {
    try {
      pid = Number(readFileSync(pidFile, 'utf8'));
    } catch {
      return false;
    }
    return pid > 0;
  });
  return pid;
}

test.serial("a submitter stopped by Ctrl-C exits 130, and the worker's command for its task is killed", async (t) => {
  const group = randomGroup();
  const dir = tempDir(t);
  const pidFile = join(dir, 'pid');
  const w = await worker(t, group, 'slow', 'q', `echo $$ > ${pidFile}; sleep 60; cat`);
  const s = start(t, ['submit', group, ...LOOPBACK, '--queue', 'q'], 'x\n');
  const pid = await commandPid(pidFile);
  t.true(groupAlive(pid));
  s.child.kill('SIGINT');
  t.deepEqual(await s.exit, { code: 130, signal: null });
  t.regex(s.stderr(), /stopped by SIGINT: 1 submitted task\(s\) without a result/);
  await until("the task's command to be killed", () => !groupAlive(pid), 15_000);
  t.is(w.child.exitCode, null, 'the worker runs on');
  await stop(t, w);
});

test.serial('a worker stopped by SIGTERM kills the command it is running and exits 0', async (t) => {
  const group = randomGroup();
  const dir = tempDir(t);
  const pidFile = join(dir, 'pid');
  const w = await worker(t, group, 'doomed', 'q', `echo $$ > ${pidFile}; sleep 60; cat`);
  start(t, ['submit', group, ...LOOPBACK, '--queue', 'q'], 'x\n');
  const pid = await commandPid(pidFile);
  await stop(t, w);
  await until("the task's command to be killed", () => !groupAlive(pid), 5_000);
  t.pass();
});
