/**
 * Running the setup commands (`ip`, `nft`, `sysctl`) of the test lab. A failing
 * setup command is a broken lab, so these throw with the command and its stderr.
 */

import { execFile, execFileSync } from 'node:child_process';
import { systemBinary as findSystemBinary } from '../../src/cli/doctor/system';

/**
 * Absolute path of a system tool (the doctor's lookup, src/cli/doctor/system.ts), or the bare name when no system
 * directory has it. Not a PATH lookup: under `npm test` PATH starts with node_modules/.bin, where `nft` is
 * @vercel/nft (node-file-trace), which prints an error about a missing file and exits 0.
 */
export function systemBinary(name: string): string {
  return findSystemBinary(name) ?? name;
}

export const IP = systemBinary('ip');
export const NFT = systemBinary('nft');
export const SYSCTL = systemBinary('sysctl');

/** A lab setup command exited non-zero (or could not start). */
export class LabCommandError extends Error {
  readonly code = 'BLIPCAST_ERR_LAB_COMMAND';
  constructor(readonly command: string, readonly stderr: string, options?: { cause?: unknown }) {
    super(`lab command failed: ${command}${stderr ? `: ${stderr.trim()}` : ''}`, options);
    this.name = 'LabCommandError';
  }
}

export interface RunOptions {
  /** Written to the command's stdin (e.g. an `nft -f -` script). */
  input?: string;
  /** Resolve with the failure instead of throwing it. */
  allowFailure?: boolean;
  timeoutMs?: number;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  ok: boolean;
}

const DEFAULT_COMMAND_TIMEOUT_MS = 15_000;

/** Runs `cmd args` to completion. Throws {@link LabCommandError} on failure unless `allowFailure`. */
export function run(cmd: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(cmd, args, { timeout: options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (err, stdout, stderr) => {
      if (err === null) return resolve({ stdout, stderr, ok: true });
      if (options.allowFailure === true) return resolve({ stdout, stderr: stderr || err.message, ok: false });
      reject(new LabCommandError([cmd, ...args].join(' '), stderr || err.message, { cause: err }));
    });
    child.stdin?.on('error', () => undefined); // EPIPE when the command exits without reading stdin
    if (options.input !== undefined) child.stdin?.end(options.input);
    else child.stdin?.end();
  });
}

/** Synchronous twin of {@link run}, for process-exit cleanup where nothing async can run. */
export function runSync(cmd: string, args: readonly string[], options: RunOptions = {}): RunResult {
  try {
    const stdout = execFileSync(cmd, args, {
      encoding: 'utf8',
      input: options.input ?? '',
      timeout: options.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return { stdout, stderr: '', ok: true };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    if (options.allowFailure === true) return { stdout: e.stdout ?? '', stderr: e.stderr || e.message, ok: false };
    throw new LabCommandError([cmd, ...args].join(' '), e.stderr || e.message, { cause: err });
  }
}
