/**
 * Watching a child process that runs inside a lab host: its stdout as lines
 * (buffered from the start, so no line is missed between spawn and the first
 * wait), its stderr for error messages, and its exit.
 */

import type { ChildProcess } from 'node:child_process';

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class ProcessWatch {
  /** Every complete stdout line so far. */
  readonly lines: string[] = [];
  stderr = '';
  /** Set once the process has exited. */
  exit: ProcessExit | undefined;

  private partial = '';
  private readonly waiters = new Set<() => void>();

  constructor(readonly child: ChildProcess, readonly label = 'process') {
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop() ?? '';
      this.lines.push(...parts);
      this.wake();
    });
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => {
      this.stderr += chunk;
    });
    child.on('close', (code, signal) => {
      if (this.partial !== '') this.lines.push(this.partial);
      this.partial = '';
      this.exit = { code, signal };
      this.wake();
    });
    child.on('error', (err) => {
      this.stderr += `spawn error: ${err.message}\n`;
      this.exit ??= { code: null, signal: null };
      this.wake();
    });
  }

  /** Resolves with the first stdout line matching `pattern`; rejects if the process exits first or the time runs out. */
  waitForLine(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    return this.waitFor(() => this.lines.find((line) => pattern.test(line)), `a stdout line matching ${String(pattern)}`, timeoutMs, true);
  }

  /** Resolves when the process has exited (with any code); rejects when the time runs out. */
  waitForExit(timeoutMs = 30_000): Promise<ProcessExit> {
    return this.waitFor(() => this.exit, 'exit', timeoutMs, false);
  }

  /** Waits for a clean exit (code 0) and parses the last stdout line as JSON. */
  async result<T>(timeoutMs = 30_000): Promise<T> {
    const exit = await this.waitForExit(timeoutMs);
    if (exit.code !== 0) throw new Error(`${this.label} exited with ${exit.code ?? exit.signal}: ${this.stderr.trim()}`);
    const last = [...this.lines].reverse().find((line) => line.trim() !== '');
    if (last === undefined) throw new Error(`${this.label} exited 0 and printed nothing; stderr: ${this.stderr.trim() || '(empty)'}`);
    return JSON.parse(last) as T;
  }

  private waitFor<T>(check: () => T | undefined, what: string, timeoutMs: number, failOnExit: boolean): Promise<T> {
    return new Promise((resolve, reject) => {
      const attempt = (): boolean => {
        const value = check();
        if (value !== undefined) {
          done();
          resolve(value);
          return true;
        }
        if (failOnExit && this.exit !== undefined) {
          done();
          reject(new Error(`${this.label} exited (${this.exit.code ?? this.exit.signal}) before ${what}: ${this.stderr.trim()}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`${this.label}: timed out after ${timeoutMs} ms waiting for ${what}; stderr: ${this.stderr.trim()}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = (): void => {
        attempt();
      };
      if (!attempt()) this.waiters.add(waiter);
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}
