/** The CLI's group key: --key-file (raw or hex) and BLIPCAST_KEY, on loopback only. */

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'blipcast.js');

function randomGroup(): string {
  return `239.255.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

function listener(group: string, extra: string[], env: NodeJS.ProcessEnv = {}) {
  const p = spawn(process.execPath, [BIN, 'listen', group, '--interface', '127.0.0.1', '--ttl', '0', '--count', '3', '--timeout', '4', '--from', 'earliest', ...extra], {
    stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, BLIPCAST_KEY: '', ...env },
  });
  let out = '';
  let err = '';
  p.stdout.on('data', (d: Buffer) => (out += d.toString()));
  p.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => p.on('exit', resolve));
  return { exited, out: () => out, err: () => err };
}

test('listen --key-file receives what send encrypts with the same key from BLIPCAST_KEY; a listener without the key gets nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-key-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const key = randomBytes(32);
  const rawFile = join(dir, 'raw.key');
  writeFileSync(rawFile, key, { mode: 0o600 });
  const group = randomGroup();
  const keyed = listener(group, ['--key-file', rawFile]);
  const clear = listener(group, []);
  await new Promise((r) => setTimeout(r, 500));
  const sent = spawnSync(process.execPath, [BIN, 'send', group, '--interface', '127.0.0.1', '--ttl', '0', '--linger', '2'], {
    input: 'a\nb\nc\n', encoding: 'utf8', env: { ...process.env, BLIPCAST_KEY: key.toString('hex') },
  });
  t.is(sent.status, 0, sent.stderr);
  t.is(await keyed.exited, 0, keyed.err());
  t.is(keyed.out(), 'a\nb\nc\n');
  t.is(keyed.err(), '', 'no permission warning for a 0600 file');
  t.is(await clear.exited, 1, 'the keyless listener times out');
  t.is(clear.out(), '');
});

test('a hex key file works, a world-readable one is warned about, and a malformed key is a usage error that does not echo it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-key-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const hexFile = join(dir, 'hex.key');
  writeFileSync(hexFile, `${randomBytes(32).toString('hex')}\n`);
  chmodSync(hexFile, 0o644);
  const r = spawnSync(process.execPath, [BIN, 'listen', randomGroup(), '--interface', '127.0.0.1', '--ttl', '0', '--count', '1', '--timeout', '0.3', '--key-file', hexFile], { encoding: 'utf8' });
  t.is(r.status, 1, 'it ran (and timed out)');
  t.regex(r.stderr, /readable by other users/);
  const badFile = join(dir, 'bad.key');
  writeFileSync(badFile, 'secret-but-too-short');
  const bad = spawnSync(process.execPath, [BIN, 'send', randomGroup(), '--interface', '127.0.0.1', '--key-file', badFile], { encoding: 'utf8', input: '' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /32 raw bytes or 64 hex digits/);
  t.false(bad.stderr.includes('secret-but-too-short'));
  const env = spawnSync(process.execPath, [BIN, 'send', randomGroup(), '--interface', '127.0.0.1'], { encoding: 'utf8', input: '', env: { ...process.env, BLIPCAST_KEY: 'zz' } });
  t.is(env.status, 2);
  t.regex(env.stderr, /BLIPCAST_KEY must be 64 hex digits/);
  const missing = spawnSync(process.execPath, [BIN, 'send', randomGroup(), '--key-file', join(dir, 'nope')], { encoding: 'utf8', input: '' });
  t.is(missing.status, 2);
  t.regex(missing.stderr, /ENOENT/);
});
