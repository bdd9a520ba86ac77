/**
 * CPU load for lab scenarios: the machine a user runs blipcast on is rarely
 * idle. Two kinds of load, both bounded in time twice over (stop() kills them;
 * `timeout -s KILL` kills them anyway if this process dies before stop()):
 *
 * - busy: `sha256sum /dev/zero`, one process spinning on a CPU for the whole load;
 * - churn: a shell loop that starts short-lived Node processes one after another,
 *   each allocating some tens of MB of small objects and exiting — fork/exec,
 *   page faults, GC and exit teardown, what a build or a test run on the same
 *   machine looks like to the scheduler.
 *
 * The load runs in the root namespace: it needs no network, and CPU is shared
 * by every namespace anyway. Each load process leads its own process group, so
 * stop() ends a churn loop together with the Node child it is waiting for.
 * This module does not import AVA.
 */

import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { systemBinary } from './command';

const TIMEOUT = systemBinary('timeout');
const SHA256SUM = systemBinary('sha256sum');
const SH = systemBinary('sh');
/** Default hard bound on a load's life (the scenarios end well before it). */
const DEFAULT_MAX_MS = 120_000;
/** Objects each churn process allocates before it exits: about 100–200 ms of CPU and ~40 MB of heap. */
const CHURN_OBJECTS = 400_000;
const CHURN_SCRIPT = `const a=[];for(let i=0;i<${CHURN_OBJECTS};i++)a.push({i,s:'x'+i,b:[i,i+1]});if(a.length!==${CHURN_OBJECTS})process.exit(1)`;

export interface CpuLoadOptions {
  /** Processes that spin for the whole load. Default: one per CPU. */
  busy?: number;
  /** Loops that each run one short-lived allocating Node process after another. Default 1. */
  churn?: number;
  /** Every load process is killed after this long even if {@link CpuLoad.stop} never comes. Default 120 s. */
  maxMs?: number;
}

export interface CpuLoadReport {
  busy: number;
  churn: number;
  /** Short-lived Node processes the churn loops started. */
  churnProcesses: number;
  durationMs: number;
  /** Fraction of all CPU time of the machine that was not idle while the load ran (/proc/stat), 0–1. */
  machineBusy: number;
}

/** Every load not yet stopped, for the exit hook. */
const live = new Set<CpuLoad>();
let hookInstalled = false;

export class CpuLoad {
  private readonly children: ChildProcess[] = [];
  private churnProcesses = 0;
  private readonly startedMs = performance.now();
  private readonly cpuAtStart = cpuTimes();
  private stopped: Promise<CpuLoadReport> | undefined;

  private constructor(readonly options: Required<CpuLoadOptions>) {}

  /** Starts the load at once. Call {@link stop} when the scenario ends (or use {@link withCpuLoad}). */
  static start(options: CpuLoadOptions = {}): CpuLoad {
    const busy = options.busy ?? availableParallelism();
    const churn = options.churn ?? 1;
    const maxMs = options.maxMs ?? DEFAULT_MAX_MS;
    for (const [name, n] of [['busy', busy], ['churn', churn]] as const) {
      if (!Number.isInteger(n) || n < 0 || n > 64) throw new RangeError(`${name} must be an integer in 0..64, got ${n}`);
    }
    if (!Number.isInteger(maxMs) || maxMs < 1000) throw new RangeError(`maxMs must be an integer ≥ 1000, got ${maxMs}`);
    installExitHook();
    const load = new CpuLoad({ busy, churn, maxMs });
    live.add(load);
    const seconds = String(Math.ceil(maxMs / 1000));
    for (let i = 0; i < busy; i++) load.launch([TIMEOUT, '-s', 'KILL', seconds, SHA256SUM, '/dev/zero']);
    // The loop prints one byte per process it starts, so the report can say how many ran.
    const loop = `while :; do printf .; ${JSON.stringify(process.execPath)} -e "${CHURN_SCRIPT}"; done`;
    for (let i = 0; i < churn; i++) {
      const child = load.launch([TIMEOUT, '-s', 'KILL', seconds, SH, '-c', loop]);
      child.stdout?.on('data', (chunk: Buffer) => (load.churnProcesses += chunk.length));
    }
    return load;
  }

  private launch(argv: string[]): ChildProcess {
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
    child.on('error', () => undefined);
    this.children.push(child);
    return child;
  }

  /** Process group ids of the load's processes (each its leader's pid), e.g. to check that none is left. */
  get processGroups(): number[] {
    return this.children.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }

  /** Kills every load process (its whole process group) and reports what the load did. Idempotent. */
  stop(): Promise<CpuLoadReport> {
    this.stopped ??= this.kill();
    return this.stopped;
  }

  private async kill(): Promise<CpuLoadReport> {
    const cpu = cpuTimes();
    const durationMs = performance.now() - this.startedMs;
    const exited = this.children.map((child) => (child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('close', () => resolve()))));
    this.killSync();
    await Promise.race([Promise.all(exited), new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
    live.delete(this);
    const total = cpu.total - this.cpuAtStart.total;
    const idle = cpu.idle - this.cpuAtStart.idle;
    return {
      busy: this.options.busy,
      churn: this.options.churn,
      churnProcesses: this.churnProcesses,
      durationMs,
      machineBusy: total > 0 ? 1 - idle / total : 0,
    };
  }

  /** SIGKILLs each load process group this load started (by its own pid, which is the group id). */
  killSync(): void {
    for (const child of this.children) {
      if (child.pid === undefined) continue;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // The group is gone already.
      }
    }
  }
}

/** Runs `body` with a CPU load started before it and stopped after it, whether it returns or throws. */
export async function withCpuLoad<T>(options: CpuLoadOptions, body: (load: CpuLoad) => Promise<T>): Promise<{ result: T; load: CpuLoadReport }> {
  const load = CpuLoad.start(options);
  try {
    const result = await body(load);
    return { result, load: await load.stop() };
  } finally {
    await load.stop();
  }
}

function installExitHook(): void {
  if (hookInstalled) return;
  hookInstalled = true;
  const killAll = (): void => {
    for (const load of live) load.killSync();
  };
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAll();
      // Then let the signal do what it would have done without us (as the lab registry does).
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Aggregate CPU jiffies of the machine: all and idle (idle + iowait), from the first line of /proc/stat. */
function cpuTimes(): { total: number; idle: number } {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0);
    return { total, idle: (fields[3] ?? 0) + (fields[4] ?? 0) };
  } catch {
    return { total: 0, idle: 0 };
  }
}
