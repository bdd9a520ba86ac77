/**
 * The `--exec CMD` of `blipcast serve` and `blipcast work`: one run of
 * `/bin/sh -c CMD` per request or task, the payload on its stdin, its whole
 * stdout the answer, its stderr the error when it exits non-zero.
 */

import { spawn } from 'node:child_process';
import { AbortError } from '../index';
import { KEY_ENV } from './common';

/** How much of a failing command's stderr becomes the error message: its end, where the reason usually is. */
export const STDERR_TAIL_BYTES = 1024;

/**
 * Runs `command` through `/bin/sh -c` with `input` on its stdin; resolves
 * with everything it wrote to stdout once it exits 0. The environment is this
 * process's plus `env`, without the group key (`BLIPCAST_KEY`).
 *
 * The command runs in a process group of its own: Ctrl-C in the terminal
 * reaches only the CLI, which decides, and aborting `signal` sends SIGTERM to
 * the whole group (the shell and whatever it started), then rejects with
 * AbortError.
 *
 * @throws Error whose message is the last {@link STDERR_TAIL_BYTES} of the
 *   command's stderr, trimmed, or `exit code N` / `killed by SIGNAL` when it
 *   wrote nothing there; the spawn error when the shell cannot start.
 */
export function runShellCommand(command: string, input: Uint8Array, signal: AbortSignal, env: Record<string, string> = {}): Promise<Buffer> {
  if (signal.aborted) return Promise.reject(new AbortError());
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  delete childEnv[KEY_ENV];
  return new Promise((resolve, reject) => {
    const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: childEnv });
    const out: Buffer[] = [];
    let errTail = Buffer.alloc(0);
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      const joined = Buffer.concat([errTail, chunk]);
      errTail = joined.length > STDERR_TAIL_BYTES ? joined.subarray(joined.length - STDERR_TAIL_BYTES) : joined;
    });
    // EPIPE: a command may answer without reading all of its input (`echo pong`).
    child.stdin.on('error', () => {});
    child.stdin.end(input);

    const kill = (): void => {
      if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        // ESRCH: the group is gone already.
      }
    };
    signal.addEventListener('abort', kill, { once: true });
    child.on('error', (err) => {
      signal.removeEventListener('abort', kill);
      reject(err);
    });
    // 'close', not 'exit': stdout and stderr are read to their end.
    child.on('close', (code, killedBy) => {
      signal.removeEventListener('abort', kill);
      if (signal.aborted) reject(new AbortError());
      else if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(stderrMessage(errTail) || (killedBy !== null ? `killed by ${killedBy}` : `exit code ${String(code)}`)));
    });
  });
}

/** The stderr tail as text; a UTF-8 sequence cut at the front by the tail is dropped rather than shown as U+FFFD. */
function stderrMessage(tail: Buffer): string {
  return tail.toString('utf8').replace(/^\uFFFD+/, '').trim();
}
