import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { labTest } from './lab/availability';
import { IP } from './lab/command';
import { LAB_PREFIX, removeNamespaceSync } from './lab/registry';

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
  for (const word of ['send GROUP:PORT', 'listen GROUP:PORT', '--interface', '--count', '--timeout', '--json', '--linger', '--from', 'COMMAND --help']) t.true(r.stdout.includes(word), word);
});

const commandHelp: [string[], RegExp, string[]][] = [
  [['send', '--help'], /^Usage: blipcast send GROUP:PORT/, ['--linger', '--rate', '--key-file', '--interface']],
  [['listen', '--help'], /^Usage: blipcast listen GROUP:PORT/, ['--count', '--from', '--timeout', '--key-file']],
  [['members', '--help'], /^Usage: blipcast members GROUP:PORT/, ['--watch', '--wait', '--meta']],
  [['demo', '--help'], /^Usage: blipcast demo/, ['--messages', '--receivers', '--loss']],
  [['listen', '-h'], /^Usage: blipcast listen GROUP:PORT/, []],
  [['send', '239.255.0.1:5000', '--ttl', '300', '--help'], /^Usage: blipcast send GROUP:PORT/, []],
  [['listen', '--bogus', '--help'], /^Usage: blipcast listen GROUP:PORT/, []],
  [['help', 'members'], /^Usage: blipcast members GROUP:PORT/, []],
  [['help'], /^blipcast — reliable IP multicast/, ['send GROUP:PORT']],
  [['-h'], /^blipcast — reliable IP multicast/, ['send GROUP:PORT']],
];
for (const [args, head, words] of commandHelp) {
  test(`blipcast ${args.join(' ')} prints that usage on stdout and exits 0 without a group`, (t) => {
    const r = run(args);
    t.is(r.code, 0, r.stderr);
    t.is(r.stderr, '');
    t.regex(r.stdout, head);
    for (const word of words) t.true(r.stdout.includes(word), word);
  });
}

test('help for a command that does not exist is a usage error', (t) => {
  const r = run(['help', 'shout']);
  t.is(r.code, 2);
  t.regex(r.stderr, /no help for 'shout': the commands are send, listen, members, demo/);
});

const badArgs: [string, string[], RegExp][] = [
  ['no command', [], /Usage/],
  ['an unknown command', ['shout'], /unknown command/],
  ['a unicast group', ['listen', '10.1.2.3:5000'], /not a multicast address/],
  ['a group without a port', ['listen', '239.255.0.1'], /GROUP|look like/i],
  ['a port out of range', ['listen', '239.255.0.1:70000'], /port/],
  ['a TTL out of range', ['send', '239.255.0.1:5000', '--ttl', '300'], /--ttl must be a whole number from 0 to 255 \(got 300\) \(see blipcast send --help\)/],
  ['a negative TTL given with =', ['listen', '239.255.0.1:5000', '--ttl=-1'], /--ttl must be a whole number from 0 to 255 \(got -1\)/],
  ['an unknown option', ['listen', '239.255.0.1:5000', '--bogus'], /bogus/],
  ['a bad --from', ['listen', '239.255.0.1:5000', '--from', 'yesterday'], /--from must be next or earliest \(got yesterday\)/],
  ['a bad --transport', ['listen', '239.255.0.1:5000', '--transport', 'carrier-pigeon'], /--transport must be auto, native or dgram \(got carrier-pigeon\)/],
  ['--count 0', ['listen', '239.255.0.1:5000', '--count', '0'], /--count must be a whole number of at least 1 \(got 0\)/],
  ['a fractional --count', ['listen', '239.255.0.1:5000', '--count', '1.5'], /--count must be a whole number of at least 1 \(got 1\.5\)/],
  ['a negative --timeout given with =', ['listen', '239.255.0.1:5000', '--timeout=-2'], /--timeout must be a number of seconds from 0 to 2147483 \(got -2\)/],
  ['a --timeout beyond what a timer can wait', ['listen', '239.255.0.1:5000', '--timeout', '1e10'], /--timeout must be a number of seconds from 0 to 2147483/],
  ['--wait with --watch', ['members', '239.255.0.1:5000', '--wait', '1', '--watch'], /--wait applies to the one-shot table/],
  ['a bad --linger', ['send', '239.255.0.1:5000', '--linger', 'soon'], /--linger must be a number of seconds from 0 to 2147483 \(got soon\)/],
  ['demo --receivers 0', ['demo', '--receivers', '0'], /--receivers must be a whole number from 1 to 32 \(got 0\)/],
  ['demo --loss 1', ['demo', '--loss', '1'], /--loss must be a fraction from 0 up to \(not including\) 1/],
  ['demo with an argument', ['demo', 'fast'], /unexpected argument 'fast' \(see blipcast demo --help\)/],
];
for (const [what, args, message] of badArgs) {
  test(`${what} is a one-line error with exit code 2`, (t) => {
    // Should a check ever let one through, it still opens on loopback only.
    const r = run(['send', 'listen', 'members'].includes(args[0]!) && !args.some((a) => a.startsWith('--interface')) ? [...args, '--interface', '127.0.0.1'] : args);
    t.is(r.code, 2);
    if (args.length > 0) {
      t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
      t.regex(r.stderr, message);
    } else {
      t.regex(r.stdout, message);
    }
  });
}

test("an option value that starts with a dash shows Node's whole hint, with the value given", (t) => {
  const r = run(['listen', '239.255.0.1:5000', '--interface', '127.0.0.1', '--ttl', '-1']);
  t.is(r.code, 2);
  t.is(r.stdout, '');
  t.regex(r.stderr, /^blipcast: Option '--ttl' argument is ambiguous\.\n/);
  t.regex(r.stderr, /Did you forget to specify the option argument for '--ttl'\?/);
  t.regex(r.stderr, /To specify an option argument starting with a dash use '--ttl=-1'\./);
  t.regex(r.stderr, /\(see blipcast listen --help\)\n$/);
});

test('an unknown interface is an error with exit code 2 that lists the interfaces to choose from', (t) => {
  const r = run(['listen', '239.255.0.1:5000', '--interface', 'nosuch0', '--ttl', '0']);
  t.is(r.code, 2);
  t.regex(r.stderr, /^blipcast: unknown network interface: nosuch0\n/);
  t.regex(r.stderr, /Pass --interface NAME\|ADDRESS with one of this machine's multicast-capable interfaces:\n/);
  t.regex(r.stderr, /^ {2}lo +127\.0\.0\.1.*\(loopback: this host only; use with --ttl 0\)$/m);
});

test('listen prints every line that send reads, exactly and in order', async (t) => {
  const group = randomGroup();
  const lines = ['first', '', 'héllo wörld ✓', '  spaces  ', 'x'.repeat(3000), 'last'];
  const listener = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--ttl', '0', '--count', String(lines.length), '--timeout', '30', '--from', 'earliest'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
  const listener = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--ttl', '0', '--count', '3', '--timeout', '30', '--json', '--from', 'earliest'], { stdio: ['ignore', 'pipe', 'pipe'] });
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

test('listen --stream NAME prints that stream of send --stream NAME, and nothing of another stream', async (t) => {
  const group = randomGroup();
  const listener = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--ttl', '0', '--stream', 'logs', '--count', '2', '--timeout', '30', '--json', '--from', 'earliest'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  listener.stdout.on('data', (d: Buffer) => (out += d.toString()));
  listener.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => listener.on('exit', resolve));
  await new Promise((r) => setTimeout(r, 500));
  t.is(run(['send', group, '--interface', '127.0.0.1', '--ttl', '0'], 'default stream\n').code, 0);
  t.is(run(['send', group, '--interface', '127.0.0.1', '--ttl', '0', '--stream', 'logs'], 'one\ntwo\n').code, 0);
  t.is(await exited, 0, err);
  const objs = out.trim().split('\n').map((l) => JSON.parse(l) as { data: string; stream: string });
  t.deepEqual(objs.map((o) => [o.data, o.stream]), [['one', 'logs'], ['two', 'logs']]);
});

test('listen exits non-zero when --timeout passes before --count', (t) => {
  const started = Date.now();
  const r = run(['listen', randomGroup(), '--interface', '127.0.0.1', '--ttl', '0', '--count', '1', '--timeout', '0.5']);
  t.is(r.code, 1);
  t.regex(r.stderr, /timed out/);
  t.true(Date.now() - started < 10_000);
});

test.serial('a listener without the key says once that the group is encrypted', async (t) => {
  const group = randomGroup();
  const listener = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--ttl', '0', '--count', '1', '--timeout', '10'], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BLIPCAST_KEY: '' },
  });
  let err = '';
  let sawHint: () => void = () => {};
  const hinted = new Promise<void>((resolve) => (sawHint = resolve));
  listener.stderr.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.includes('encrypted')) sawHint();
  });
  const exited = new Promise<number | null>((resolve) => listener.on('exit', resolve));
  await new Promise((r) => setTimeout(r, 300));
  // A keyed sender that keeps talking (a line every 250 ms, heartbeats after each), so the listener hears sealed datagrams.
  const sender = spawn(process.execPath, [BIN, 'send', group, '--interface', '127.0.0.1', '--ttl', '0', '--linger', '0.5', '--close-quiet', '0.5'], {
    stdio: ['pipe', 'ignore', 'pipe'], env: { ...process.env, BLIPCAST_KEY: randomBytes(32).toString('hex') },
  });
  const senderExited = new Promise((resolve) => sender.on('exit', resolve));
  const ticker = setInterval(() => sender.stdin.write('secret\n'), 250);
  await Promise.race([hinted, exited]);
  clearInterval(ticker);
  sender.stdin.end();
  await senderExited;
  listener.kill('SIGTERM');
  await exited;
  const hints = err.split('\n').filter((l) => l.includes('encrypted'));
  t.is(hints.length, 1, err);
  t.regex(hints[0]!, /^blipcast: the group's traffic is encrypted \(\d+ sealed datagram\(s\) dropped, nothing delivered\): pass --key-file PATH or set BLIPCAST_KEY with the group's key$/);
});

test.serial('a listener that hears nothing says nothing about encryption', (t) => {
  const r = run(['listen', randomGroup(), '--interface', '127.0.0.1', '--ttl', '0', '--count', '1', '--timeout', '1.5']);
  t.is(r.code, 1);
  t.notRegex(r.stderr, /encrypted/);
});

// A namespace of its own with only its loopback up has no route for multicast: the join fails (ENODEV)
// without a single datagram leaving the host's real interfaces.
for (const transport of ['native', 'dgram'] as const) {
  labTest.serial(`a join that fails for want of a multicast interface says to pass --interface and lists the interfaces (${transport})`, (t) => {
    const netns = `${LAB_PREFIX}-${process.pid}-cli${randomBytes(3).toString('hex')}`;
    t.teardown(() => removeNamespaceSync(netns));
    spawnSync(IP, ['netns', 'add', netns]);
    spawnSync(IP, ['netns', 'exec', netns, IP, 'link', 'set', 'lo', 'up']);
    const r = spawnSync(IP, ['netns', 'exec', netns, process.execPath, BIN, 'listen', randomGroup(), '--ttl', '0', '--count', '1', '--timeout', '2', '--transport', transport], { encoding: 'utf8', timeout: 20_000 });
    t.is(r.status, 1, r.stderr);
    const lines = r.stderr.split('\n');
    t.regex(lines[0]!, /^blipcast: cannot join 239\.255\.\d+\.\d+ on the system's default multicast interface \((setsockopt|addMembership) ENODEV\)$/);
    t.is(lines[1], "Pass --interface NAME|ADDRESS with one of this machine's multicast-capable interfaces:");
    t.regex(lines[2]!, /^ {2}lo +127\.0\.0\.1, ::1 +\(loopback: this host only; use with --ttl 0\)$/);
    // The library's own error says the same for programs.
    const lib = spawnSync(IP, ['netns', 'exec', netns, process.execPath, '-e',
      `require(${JSON.stringify(join(ROOT, 'dist', 'src', 'index.js'))}).open({ group: '239.255.0.1:5000', ttl: 0, transport: '${transport}' })` +
      '.then(() => process.exit(3), (e) => { console.log(JSON.stringify({ name: e.name, code: e.code, message: e.message })); })'], { encoding: 'utf8', timeout: 20_000 });
    const err = JSON.parse(lib.stdout) as { name: string; code: string; message: string };
    t.is(err.name, 'SystemError');
    t.is(err.code, 'ENODEV');
    t.regex(err.message, /ENODEV 239\.255\.0\.1: cannot join the group on the system's default multicast interface; pass the 'interface' option/);
  });
}

test('the package and its subpaths can be loaded with require and with import', (t) => {
  const cjs = spawnSync(process.execPath, ['-e', "const b = require('blipcast'); const c = require('blipcast/core'); const i = require('blipcast/internal'); console.log(typeof b.open, typeof b.parseGroup, typeof c.createEndpoint, c.HEADER_BYTES, typeof i.open)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(cjs.stdout.trim(), 'function function function 32 function', cjs.stderr);
  const esm = spawnSync(process.execPath, ['--input-type=module', '-e', "import { open, parseGroup } from 'blipcast'; import { createEndpoint, HEADER_BYTES } from 'blipcast/core'; import { open as openWithHooks } from 'blipcast/internal'; console.log(typeof open, typeof parseGroup, typeof createEndpoint, HEADER_BYTES, typeof openWithHooks)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(esm.stdout.trim(), 'function function function 32 function', esm.stderr);
  // The apps' subpaths.
  const apps = spawnSync(process.execPath, ['-e', "const p = require('blipcast/pino'); const w = require('blipcast/winston'); const l = require('blipcast/logs'); const m = require('blipcast/metrics'); console.log(typeof p.default, typeof w.BlipcastTransport, typeof l.createLogCollector, typeof m.publishMetrics, typeof m.createMetricsCollector)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(apps.stdout.trim(), 'function function function function function', apps.stderr);
  const appsEsm = spawnSync(process.execPath, ['--input-type=module', '-e', "import pinoModule from 'blipcast/pino'; import { createLogCollector } from 'blipcast/logs'; import { publishMetrics } from 'blipcast/metrics'; console.log(typeof pinoModule.default, typeof createLogCollector, typeof publishMetrics)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(appsEsm.stdout.trim(), 'function function function', appsEsm.stderr);
  const later = spawnSync(process.execPath, ['-e', "const b = require('blipcast/bus'); const s = require('blipcast/state'); const o = require('blipcast/observe'); console.log(typeof b.openBus, typeof s.replicate, typeof o.watchGroup, typeof o.formatSnapshot)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(later.stdout.trim(), 'function function function function', later.stderr);
  const sim = spawnSync(process.execPath, ['-e', "const s = require('blipcast/sim'); console.log(typeof s.Simulation, typeof s.MembershipSimulation, typeof s.runMembershipScenario)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(sim.stdout.trim(), 'function function function', sim.stderr);
  const simEsm = spawnSync(process.execPath, ['--input-type=module', '-e', "import { Simulation, drive } from 'blipcast/sim'; console.log(typeof Simulation, typeof drive)"], { cwd: ROOT, encoding: 'utf8' });
  t.is(simEsm.stdout.trim(), 'function function', simEsm.stderr);
  // The main entry no longer hands out wire internals.
  const main = spawnSync(process.execPath, ['-e', "const b = require('blipcast'); console.log(['MAGIC', 'crc32c', 'decodeHeaderInto', 'Reject', 'SEALED_REJECT_BASE'].filter((k) => k in b).join(',') || 'none')"], { cwd: ROOT, encoding: 'utf8' });
  t.is(main.stdout.trim(), 'none', main.stderr);
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
