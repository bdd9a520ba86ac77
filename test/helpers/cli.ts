/** What the CLI tests share: the command, loopback options, a random group. */

import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..');
export const BIN = join(ROOT, 'bin', 'blipcast.js');
/** Multicast stays on this machine: interface 127.0.0.1, TTL 0. */
export const LOOPBACK = ['--interface', '127.0.0.1', '--ttl', '0'];

/** A random group in 239.255.10-209.x and a random port, so that tests running at once do not hear each other. */
export function randomGroup(): string {
  return `239.255.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
}

import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import type { ExecutionContext } from 'ava';

/** A running `blipcast` process with what it printed so far. */
export interface Proc {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * Starts `blipcast ARGS`, killed at the end of the test if still running. `input` is written to its stdin, then
 * stdin is closed (undefined: closed at once). `readStdout: false` never reads its stdout: a reader that stalls.
 */
export function start(t: ExecutionContext, args: string[], options: { input?: string | Buffer; readStdout?: boolean } = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  if (options.readStdout !== false) child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin.on('error', () => undefined);
  if (options.input !== undefined) child.stdin.end(options.input);
  else child.stdin.end();
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  t.teardown(() => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
  });
  return { child, stdout: () => out, stderr: () => err, exit };
}

/** A finished `blipcast ARGS` (for commands that exit at once: spawnSync blocks the test's event loop). */
export function run(args: string[], timeoutMs = 30_000): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { input: '', encoding: 'utf8', timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Polls `predicate` every 20 ms; throws naming `what` after `timeoutMs`. */
export async function until(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
