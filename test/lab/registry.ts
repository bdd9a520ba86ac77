/**
 * Bookkeeping that keeps labs from outliving the process that made them.
 *
 * Every lab namespace is named `bclab-<owner pid>-<random>-…`. Labs still alive
 * when the process exits normally, on an uncaught exception or on SIGINT/SIGTERM
 * are destroyed synchronously from exit hooks. A process killed with SIGKILL
 * cannot clean up: its namespaces stay until {@link cleanupStale} (called by
 * every `Lab.create`) sees that the owner pid is gone and removes them.
 */

import { IP, run, runSync } from './command';

/** Prefix of every namespace the lab creates. */
export const LAB_PREFIX = 'bclab';

const OWNED = new RegExp(`^${LAB_PREFIX}-(\\d+)-`);

/** Something the exit hooks can tear down without awaiting. */
export interface SyncDestroyable {
  destroySync(): void;
}

const live = new Set<SyncDestroyable>();
let hooksInstalled = false;

export function registerLab(lab: SyncDestroyable): void {
  installExitHooks();
  live.add(lab);
}

export function unregisterLab(lab: SyncDestroyable): void {
  live.delete(lab);
}

function destroyAllSync(): void {
  for (const lab of [...live]) {
    try {
      lab.destroySync();
    } catch {
      // Best effort at exit: the next run's cleanupStale removes what is left.
    }
    live.delete(lab);
  }
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', destroyAllSync);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      destroyAllSync();
      // Let the signal do what it would have done without us (usually: terminate).
      process.removeListener(signal, onSignal);
      process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Names of every network namespace on the host (`ip netns list`). */
export async function listNamespaces(): Promise<string[]> {
  const { stdout } = await run(IP, ['netns', 'list']);
  return parseNetnsList(stdout);
}

export function listNamespacesSync(): string[] {
  return parseNetnsList(runSync(IP, ['netns', 'list']).stdout);
}

function parseNetnsList(stdout: string): string[] {
  // Lines look like `name` or `name (id: 3)`.
  return stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '').filter((name) => name !== '');
}

/** The pid encoded in a lab namespace name, or undefined for a namespace that is not a lab's. */
export function ownerPid(netns: string): number | undefined {
  const m = OWNED.exec(netns);
  return m ? Number(m[1]) : undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** SIGKILLs every process inside `netns` and deletes it. Missing namespaces are fine. */
export async function removeNamespace(netns: string): Promise<void> {
  const pids = await run(IP, ['netns', 'pids', netns], { allowFailure: true });
  killPids(pids.stdout);
  await run(IP, ['netns', 'del', netns], { allowFailure: true });
}

export function removeNamespaceSync(netns: string): void {
  killPids(runSync(IP, ['netns', 'pids', netns], { allowFailure: true }).stdout);
  runSync(IP, ['netns', 'del', netns], { allowFailure: true });
}

function killPids(stdout: string): void {
  for (const word of stdout.split(/\s+/)) {
    const pid = Number(word);
    if (!Number.isInteger(pid) || pid <= 1 || pid === process.pid) continue;
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/**
 * Removes lab namespaces left behind by processes that no longer exist (a test
 * worker killed with SIGKILL, a crashed run). Namespaces of live processes,
 * including other concurrent test runs, are left alone. Returns the names removed.
 */
export async function cleanupStale(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((netns) => {
    const pid = ownerPid(netns);
    return pid !== undefined && pid !== process.pid && !pidAlive(pid);
  });
  for (const netns of stale) await removeNamespace(netns);
  return stale;
}
