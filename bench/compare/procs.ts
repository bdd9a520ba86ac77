/**
 * Process plumbing of bench:compare (compare.ts, latency.ts): the built
 * harnesses, one lab process watched for its `{"ready":true}` and result
 * lines, a receiver + sender pair, and the command lines the harnesses take.
 */

import type { ChildProcess } from 'node:child_process';
import type { Lab as LabType } from '../../test/lab/lab';

/** A process that has not finished this long after its run started is killed and the run counts as failed. */
const PROCESS_TIMEOUT_MS = 60_000;
/** How long a sender that keeps serving repairs is given to report after SIGTERM. */
const TERM_GRACE_MS = 5_000;

let verbose = false;

/** --verbose: every result line (and the stderr tail of every process) on stderr. */
export function setVerbose(on: boolean): void {
  verbose = on;
}

/** What build() produced: harness binaries, the JGroups command prefix, and why a reference is not available. */
export interface Built {
  norm?: string;
  pgm?: string;
  jgroups?: string[];
  /** Why each reference is not available. */
  skipped: Map<string, string>;
}

export interface Proc {
  ready: Promise<void>;
  /** The first JSON line with a "role" (the result). */
  result: Promise<Record<string, unknown>>;
  /** A sender's `{"wrote":N}` line (harness-common.h): how many messages it wrote. Never settles for a process that prints none. */
  wrote: Promise<number>;
  /** Writes a line to the process's stdin. */
  tell(line: string): void;
  terminate(): void;
  kill(): void;
}

export function watch(child: ChildProcess, name: string): Proc {
  let out = '';
  let err = '';
  let onReady!: () => void;
  let onResult!: (r: Record<string, unknown>) => void;
  let onFail!: (e: Error) => void;
  let onWrote!: (n: number) => void;
  const wrote = new Promise<number>((r) => (onWrote = r));
  const ready = new Promise<void>((r) => (onReady = r));
  const result = new Promise<Record<string, unknown>>((res, rej) => ((onResult = res), (onFail = rej)));
  let done = false;
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    let nl: number;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl).trim();
      out = out.slice(nl + 1);
      if (line.includes('"ready":true')) onReady();
      else if (line.startsWith('{"wrote":')) onWrote(Number((JSON.parse(line) as { wrote: number }).wrote));
      else if (line.startsWith('{') && line.includes('"role"') && !done) {
        done = true;
        if (verbose) process.stderr.write(`[${name}] ${line.slice(0, 300)}\n`);
        try {
          onResult(JSON.parse(line) as Record<string, unknown>);
        } catch (e) {
          onFail(e as Error);
        }
      }
    }
  });
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), PROCESS_TIMEOUT_MS);
  child.once('exit', (code, signal) => {
    clearTimeout(timer);
    onReady();
    if (!done) {
      done = true;
      const tail = err.trim().split('\n').slice(-3).join(' | ');
      onFail(new Error(`${name} exited ${code ?? signal} without a result${tail ? `: ${tail}` : ''}`));
    } else if (verbose && err.trim()) process.stderr.write(`[${name}] ${err.trim().split('\n').slice(-3).join(' | ')}\n`);
  });
  // An echo process killed at the end has no result, and nobody waits for one: that must not be an unhandled rejection.
  result.catch(() => undefined);
  return { ready, result, wrote, tell: (line) => child.stdin?.write(`${line}\n`), terminate: () => child.kill('SIGTERM'), kill: () => child.kill('SIGKILL') };
}

export function randomPort(): number {
  return 20000 + Math.floor(Math.random() * 40000);
}

export function randomGroup(): string {
  return `239.255.${Math.floor(Math.random() * 250) + 1}.${Math.floor(Math.random() * 250) + 1}`;
}

export interface HarnessResult {
  sent?: number;
  delivered?: number;
  bytes?: number;
  firstMs?: number;
  lastMs?: number;
  cpuUserMs?: number;
  cpuSysMs?: number;
}

/**
 * Receiver on host 1, then sender on host 0; once the sender says how many
 * messages it wrote, the receiver is told (it stops when it has them all);
 * the receiver's result; then the sender is told to stop (SIGTERM: it has
 * been serving repairs until now) and reports its own. `selfEnding` senders
 * (the node workers) finish on their own.
 */
export async function pair(lab: LabType, name: string, rx: [string, string[]], tx: [string, string[]], selfEnding: boolean): Promise<[HarnessResult, HarnessResult]> {
  const receiver = watch(lab.spawn(1, rx[0], rx[1]), `${name} recv h1`);
  let sender: Proc | undefined;
  try {
    await receiver.ready;
    sender = watch(lab.spawn(0, tx[0], tx[1]), `${name} send h0`);
    void sender.wrote.then((n) => receiver.tell(String(n)));
    // A sender that dies early must not leave us waiting for the receiver's idle timeout only.
    const r = (await Promise.race([receiver.result, sender.result.then(async (x) => (selfEnding ? receiver.result : Promise.reject(new Error(`sender ended early: ${JSON.stringify(x)}`))))])) as HarnessResult;
    if (!selfEnding) sender.terminate();
    const killer = setTimeout(() => sender?.kill(), TERM_GRACE_MS + (selfEnding ? 30_000 : 0));
    try {
      const t = (await sender.result) as HarnessResult;
      return [t, r];
    } finally {
      clearTimeout(killer);
    }
  } finally {
    sender?.kill();
    receiver.kill();
  }
}

/** The interface as each library wants it: NORM takes a name; ZeroMQ's epgm:// wants the address (a name fails with EINVAL here). */
export function ifaceArg(lab: LabType, host: number, binary: string): string {
  return `if=${binary.endsWith('pgm-harness') ? lab.hosts[host]!.ipv4 : lab.hosts[host]!.ifname}`;
}

/**
 * The JVM command of the JGroups harness on `host`: the stock udp.xml takes
 * the group, port, bind address and TTL from these system properties.
 */
export function jvmCommand(built: Built, lab: LabType, host: number, group: string, port: number, harnessArgs: string[]): [string, string[]] {
  const [java, ...flags] = built.jgroups!;
  return [java!, [...flags, `-Djgroups.bind_addr=${lab.hosts[host]!.ipv4}`, `-Djgroups.udp.mcast_addr=${group}`, `-Djgroups.udp.mcast_port=${port}`, '-Djgroups.udp.ip_ttl=1',
    'JGroupsHarness', ...harnessArgs]];
}
