import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'blipcast.js');

function run(args: string[], input?: string, timeoutMs = 30_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: input ?? '', encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function randomGroup(): string {
  return `239.255.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

test('--version prints the package version', (t) => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const r = run(['--version']);
  t.is(r.code, 0);
  t.is(r.stdout.trim(), pkg.version);
});

test('--help lists the commands and exits 0', (t) => {
  const r = run(['--help']);
  t.is(r.code, 0);
  for (const word of ['send GROUP:PORT', 'listen GROUP:PORT', '--interface', '--count', '--timeout', '--json', '--linger', '--from']) t.true(r.stdout.includes(word), word);
});

const badArgs: [string, string[], RegExp][] = [
  ['no command', [], /Usage/],
  ['an unknown command', ['shout'], /unknown command/],
  ['a unicast group', ['listen', '10.1.2.3:5000'], /not a multicast address/],
  ['a group without a port', ['listen', '239.255.0.1'], /GROUP|look like/i],
  ['a port out of range', ['listen', '239.255.0.1:70000'], /port/],
  ['an unknown interface', ['listen', '239.255.0.1:5000', '--interface', 'nosuch0'], /unknown network interface: nosuch0/],
  ['a TTL out of range', ['send', '239.255.0.1:5000', '--ttl', '300'], /--ttl/],
  ['an unknown option', ['listen', '239.255.0.1:5000', '--bogus'], /bogus/],
  ['a bad --from', ['listen', '239.255.0.1:5000', '--from', 'yesterday'], /--from/],
  ['a bad --count', ['listen', '239.255.0.1:5000', '--count', '-1'], /--count/],
];
for (const [what, args, message] of badArgs) {
  test(`${what} is a one-line error with exit code 2`, (t) => {
    const r = run(args);
    t.is(r.code, 2);
    if (args.length > 0) {
      t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
      t.regex(r.stderr, message);
    } else {
      t.regex(r.stdout, message);
    }
  });
}

test('listen prints every line that send reads, exactly and in order', async (t) => {
  const group = randomGroup();
  const lines = ['first', '', 'héllo wörld ✓', '  spaces  ', 'x'.repeat(3000), 'last'];
  const listener = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--count', String(lines.length), '--timeout', '30', '--from', 'earliest'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  listener.stdout.on('data', (d: Buffer) => (out += d.toString()));
  listener.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => listener.on('exit', resolve));
  await new Promise((r) => setTimeout(r, 500));
  const sent = run(['send', group, '--interface', '127.0.0.1', '--ttl', '0', '--linger', '5'], lines.join('\n') + '\n');
  t.is(sent.code, 0, sent.stderr);
  t.is(await exited, 0, err);
  t.is(out, lines.map((l) => `${l}\n`).join(''));
});

test('listen --json prints one object per message with its source and sequence', async (t) => {
  const group = randomGroup();
  const listener = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--count', '3', '--timeout', '30', '--json', '--from', 'earliest'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  listener.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => listener.on('exit', resolve));
  await new Promise((r) => setTimeout(r, 500));
  t.is(run(['send', group, '--interface', '127.0.0.1', '--ttl', '0'], 'a\nb\nc\n').code, 0);
  t.is(await exited, 0);
  const objs = out.trim().split('\n').map((l) => JSON.parse(l) as { data: string; source: string; stream: string; seq: number });
  t.deepEqual(objs.map((o) => o.data), ['a', 'b', 'c']);
  t.true(objs.every((o) => /^[0-9a-f]{16}$/.test(o.source) && o.stream === ''));
  t.deepEqual(objs.map((o) => o.seq - objs[0]!.seq), [0, 1, 2]);
});

test('listen exits non-zero when --timeout passes before --count', (t) => {
  const started = Date.now();
  const r = run(['listen', randomGroup(), '--interface', '127.0.0.1', '--count', '1', '--timeout', '0.5']);
  t.is(r.code, 1);
  t.regex(r.stderr, /timed out/);
  t.true(Date.now() - started < 10_000);
});

test('the package can be loaded with require and with import', (t) => {
  const cjs = spawnSync(process.execPath, ['-e', "const b = require('blipcast'); console.log(typeof b.open, typeof b.parseGroup, b.HEADER_BYTES)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(cjs.stdout.trim(), 'function function 32', cjs.stderr);
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', "import { open, parseGroup, HEADER_BYTES } from 'blipcast'; console.log(typeof open, typeof parseGroup, HEADER_BYTES)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(esm.stdout.trim(), 'function function 32', esm.stderr);
});

test('the demo delivers every message in order to three lossy receivers and says so', (t) => {
  const r = run(['demo', '--messages', '5000'], undefined, 120_000);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /5000\/5000 messages delivered in order to 3 receivers/);
  t.regex(r.stdout, /receiver 3: 5000\/5000 delivered/);
  t.regex(r.stdout, /5\.0% loss injected/);
});

test('the hello example prints its ten messages in order', (t) => {
  const r = spawnSync(process.execPath, [join(ROOT, 'dist', 'examples', 'hello.js')], { encoding: 'utf8', timeout: 30_000 });
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.deepEqual(lines.slice(0, 10).map((l) => l.replace(/^[0-9a-f]{16} /, '')), Array.from({ length: 10 }, (_, i) => `seq ${i}: hello #${i}`));
  t.regex(lines[10]!, /^transport: (native|dgram)$/);
});
