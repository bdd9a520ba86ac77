/**
 * `blipcast state` as processes on loopback: a map loaded by one process and
 * dumped by another, a dump of a map nobody holds, a later load over an
 * earlier one, --watch seeing another process's writes, --owner, and the
 * usage errors (a bad --load line among them: exit 2, nothing sent).
 */

import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LOOPBACK, randomGroup, run, start, until, type Proc } from './helpers/cli';

function tempFile(t: ExecutionContext, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-cli-state-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'map.txt');
  writeFileSync(path, content);
  return path;
}

/** The id a `state` process says it replicates as. */
function idOf(p: Proc): string | undefined {
  return /replicating map '[^']*' on \S+ as ([0-9a-f]+)\n/.exec(p.stderr())?.[1];
}

/** Starts `state --load FILE --serve 60` and waits until it has set the entries (it keeps serving until SIGTERM). */
async function loader(t: ExecutionContext, group: string, map: string, content: string, extra: string[] = []): Promise<Proc> {
  const p = start(t, ['state', group, ...LOOPBACK, '--map', map, '--load', tempFile(t, content), '--serve', '60', ...extra]);
  await until(`the loader of ${map} to set its entries`, () => /set \d+ entries/.test(p.stderr()) || p.child.exitCode !== null);
  t.regex(p.stderr(), /set \d+ entries/, p.stderr());
  return p;
}

async function dump(t: ExecutionContext, group: string, map: string, extra: string[] = []): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = start(t, ['state', group, ...LOOPBACK, '--map', map, '--dump', ...extra]);
  const { code } = await p.exit;
  return { code, stdout: p.stdout(), stderr: p.stderr() };
}

async function stop(t: ExecutionContext, p: Proc): Promise<void> {
  p.child.kill('SIGTERM');
  t.deepEqual(await p.exit, { code: 0, signal: null }, p.stderr());
}

const usageErrors: [string, string[], RegExp][] = [
  ['no --map', ['--dump'], /missing --map NAME/],
  ['nothing to do', ['--map', 'm'], /nothing to do: give --load FILE, --dump or --watch/],
  ['--read-only with --load', ['--map', 'm', '--read-only', '--load', '/dev/null'], /--read-only cannot --load/],
  ['--read-only with --owner', ['--map', 'm', '--read-only', '--owner', '--dump'], /--read-only and --owner exclude each other/],
  ['--stream', ['--map', 'm', '--dump', '--stream', 'x'], /--stream does not apply/],
  ['--timeout with --watch alone', ['--map', 'm', '--watch', '--timeout', '5'], /--timeout applies to --load and --dump/],
  ['a bad --serve', ['--map', 'm', '--load', '/dev/null', '--serve', 'forever'], /--serve must be a number of seconds/],
  ['--snapshot-rate 0', ['--map', 'm', '--dump', '--snapshot-rate', '0'], /--snapshot-rate must be a whole number of at least 1 \(got 0\)/],
  ['a --load file that does not exist', ['--map', 'm', '--load', '/nonexistent/map.txt'], /cannot read --load \/nonexistent\/map.txt: ENOENT/],
];
for (const [what, args, message] of usageErrors) {
  test(`state with ${what} is a one-line usage error with exit code 2`, (t) => {
    const r = run(['state', '239.255.0.1:5000', ...args, ...LOOPBACK]);
    t.is(r.code, 2, r.stderr);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.regex(r.stderr, message);
    t.regex(r.stderr, /\(see blipcast state --help\)/);
  });
}

test('a --load line without = is a usage error naming its line, and nothing is sent', (t) => {
  const file = tempFile(t, '# settings\n\nhost=example.org\nport=80\njust a line\nlast=1\n');
  const r = run(['state', randomGroup(), ...LOOPBACK, '--map', 'm', '--load', file]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, new RegExp(`--load ${file} line 5: no '=' \\(each line is key=value\\): "just a line"`));
  // The file is read before the channel opens: the only line is the usage error.
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.false(r.stderr.includes('replicating'));
});

test('a --load line with an empty key is a usage error naming its line', (t) => {
  const r = run(['state', randomGroup(), ...LOOPBACK, '--map', 'm', '--load', tempFile(t, 'a=1\n=2\n')]);
  t.is(r.code, 2, r.stderr);
  t.regex(r.stderr, /line 2: empty key/);
});

test('blipcast state --help prints its usage with the exit codes and exits 0', (t) => {
  const r = run(['state', '--help']);
  t.is(r.code, 0, r.stderr);
  t.regex(r.stdout, /^Usage: blipcast state GROUP:PORT --map NAME/);
  for (const word of ['--load FILE', '--dump', '--watch', '--serve SECONDS', '--timeout SECONDS', '--owner', '--read-only', '--snapshot-rate', '--key-file', '1 not\nsynced (--load) or not settled (--dump) within --timeout', '2 bad arguments']) t.true(r.stdout.includes(word), word);
  t.true(run(['--help']).stdout.includes('blipcast state GROUP:PORT --map NAME'));
});

test.serial('a map loaded by one process is dumped by another, sorted by key, each value as it was written', async (t) => {
  const group = randomGroup();
  // A comment, a blank line, CRLF, '=' inside a value, an empty value, a key given twice (the later line wins), UTF-8.
  const content = '# the map\r\nzeta=last\r\n\r\nalpha=1\nurl=http://x/?a=b&c=d\nempty=\ndup=first\nnaïve=café ☕\ndup=second\n';
  const l = await loader(t, group, 'config', content);
  t.regex(l.stderr(), /set 7 entries from .*; the map holds 6\n/);
  t.regex(l.stderr(), /synced: 0 entries after/);
  const d = await dump(t, group, 'config');
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout, 'alpha=1\ndup=second\nempty=\nnaïve=café ☕\nurl=http://x/?a=b&c=d\nzeta=last\n');
  t.regex(d.stderr, /settled: 6 entries, the same on 1 other replica/);
  await stop(t, l);
});

test.serial('--dump of a map nobody holds is settled alone, prints nothing and exits 0', async (t) => {
  const started = Date.now();
  const d = await dump(t, randomGroup(), 'empty', ['--timeout', '20']);
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout, '');
  t.regex(d.stderr, /settled: 0 entries, the same on 0 other replica/);
  t.log(`exit ${((Date.now() - started) / 1000).toFixed(1)} s after the start`);
});

test.serial('a later --load over a map that holds the keys wins, and --load then --dump prints the result', async (t) => {
  const group = randomGroup();
  const first = await loader(t, group, 'm', 'a=1\nb=2\nc=3\n');
  // Syncs with the first (its snapshot), then sets, then dumps what it holds.
  const second = start(t, ['state', group, ...LOOPBACK, '--map', 'm', '--load', tempFile(t, 'b=20\nd=40\n'), '--dump']);
  t.deepEqual(await second.exit, { code: 0, signal: null }, second.stderr());
  t.is(second.stdout(), 'a=1\nb=20\nc=3\nd=40\n');
  const d = await dump(t, group, 'm');
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout, 'a=1\nb=20\nc=3\nd=40\n');
  await stop(t, first);
});

test.serial('--watch prints the changes another process writes as JSON lines, and exits 0 on SIGTERM', async (t) => {
  const group = randomGroup();
  const w = start(t, ['state', group, ...LOOPBACK, '--map', 'w', '--watch']);
  await until('the watcher to be synced', () => /synced: 0 entries/.test(w.stderr()));
  const l = start(t, ['state', group, ...LOOPBACK, '--map', 'w', '--load', tempFile(t, 'k1=v1\nk2={"not":"parsed"}\n')]);
  t.deepEqual(await l.exit, { code: 0, signal: null }, l.stderr());
  const origin = idOf(l);
  t.truthy(origin, l.stderr());
  await until('two change lines', () => w.stdout().split('\n').length >= 3, 10_000);
  const changes = w.stdout().trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  t.deepEqual(changes.sort((a, b) => String(a['key']).localeCompare(String(b['key']))), [
    { key: 'k1', value: 'v1', origin },
    { key: 'k2', value: '{"not":"parsed"}', origin },
  ]);
  await stop(t, w);
});

test.serial('--load --watch prints the changes after its load: an update names the previous value', async (t) => {
  const group = randomGroup();
  const w = start(t, ['state', group, ...LOOPBACK, '--map', 'lw', '--load', tempFile(t, 'x=1\n'), '--watch']);
  await until('the load', () => /set 1 entries/.test(w.stderr()) && /watching/.test(w.stderr()));
  const l = start(t, ['state', group, ...LOOPBACK, '--map', 'lw', '--load', tempFile(t, 'x=2\n')]);
  t.deepEqual(await l.exit, { code: 0, signal: null }, l.stderr());
  await until('a change line', () => w.stdout().includes('\n'), 10_000);
  t.deepEqual(JSON.parse(w.stdout().trim()), { key: 'x', value: '2', previous: '1', origin: idOf(l) });
  await stop(t, w);
});

test.serial('with --owner, another replica cannot --load (exit 1) and its dump shows only the owner\'s entries', async (t) => {
  const group = randomGroup();
  const owner = await loader(t, group, 'o', 'a=1\n', ['--owner']);
  const other = start(t, ['state', group, ...LOOPBACK, '--map', 'o', '--load', tempFile(t, 'a=2\n')]);
  const exit = await other.exit;
  t.is(exit.code, 1, other.stderr());
  t.regex(other.stderr(), /has an owner .*only it writes/);
  const d = await dump(t, group, 'o', ['--read-only']);
  t.is(d.code, 0, d.stderr);
  t.is(d.stdout, 'a=1\n');
  await stop(t, owner);
});
