/**
 * Whether this machine can run the namespace lab, and how tests react when it
 * cannot: an ordinary developer (not root, no iproute2) sees the lab tests
 * skipped with the reason; under CI (env `CI` set) a missing lab is a failure,
 * because a CI run that silently skips the real-network tests proves nothing.
 */

import test, { type ExecutionContext, type ImplementationFn } from 'ava';
import { randomBytes } from 'node:crypto';
import { IP, NFT, runSync } from './command';
import { LAB_PREFIX, removeNamespaceSync } from './registry';

export type LabAvailability = { ok: true } | { ok: false; reason: string };

let cached: LabAvailability | undefined;

/** Probes (once per process) for root, `ip`, `nft`, and a namespace that can be created, entered and firewalled. */
export function labAvailable(): LabAvailability {
  cached ??= probe();
  return cached;
}

function probe(): LabAvailability {
  if (process.platform !== 'linux') return { ok: false, reason: `The namespace lab needs Linux network namespaces and this is ${process.platform}; run these tests on Linux (a VM or a container will do).` };
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    return { ok: false, reason: 'The namespace lab needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN, to create network namespaces); run the tests as root (sudo npm test) or let CI run them.' };
  }
  // Check what the tool prints, not just its exit status: a different program of the same name may come first.
  for (const [cmd, args, pkg, banner] of [[IP, ['-V'], 'iproute2', /iproute2/], [NFT, ['--version'], 'nftables', /^nftables v/]] as const) {
    const r = runSync(cmd, args, { allowFailure: true });
    if (!r.ok || !banner.test(r.stdout)) {
      const said = (r.stderr || r.stdout).trim();
      return { ok: false, reason: `The namespace lab needs ${pkg}, and '${[cmd, ...args].join(' ')}' did not answer as ${pkg}${said ? ` (it said: ${said})` : ''}; install it, e.g. with 'apt-get install ${pkg}'.` };
    }
  }
  const netns = `${LAB_PREFIX}-${process.pid}-probe${randomBytes(2).toString('hex')}`;
  try {
    const steps: [string, string[]][] = [
      [IP, ['netns', 'add', netns]],
      [IP, ['netns', 'exec', netns, IP, 'link', 'set', 'lo', 'up']],
      [IP, ['netns', 'exec', netns, NFT, 'list', 'tables']],
    ];
    for (const [cmd, args] of steps) {
      const r = runSync(cmd, args, { allowFailure: true });
      if (!r.ok) return { ok: false, reason: `The namespace lab could not set up a network namespace ('${[cmd, ...args].join(' ')}' failed: ${r.stderr.trim()}); run the tests where namespaces are allowed (a container needs --privileged or CAP_SYS_ADMIN).` };
    }
    return { ok: true };
  } finally {
    removeNamespaceSync(netns);
  }
}

/** True when CI is set: a missing lab must fail, not skip. */
export function inCi(): boolean {
  const ci = process.env['CI'];
  return ci !== undefined && ci !== '' && ci !== '0' && ci.toLowerCase() !== 'false';
}

/**
 * For use at the top of a test body: returns true when the lab is available.
 * Otherwise, under CI it fails the test with the reason; outside CI it logs the
 * reason and passes the (then empty) test — AVA cannot skip a test that has
 * already started, so prefer {@link labTest}, which skips at registration.
 */
export function requireLab(t: ExecutionContext): boolean {
  const availability = labAvailable();
  if (availability.ok) return true;
  if (inCi()) t.fail(`namespace lab unavailable under CI: ${availability.reason}`);
  else {
    t.log(`Skipped. ${availability.reason}`);
    t.pass();
  }
  return false;
}

/**
 * Registers a test that needs the lab. Where the lab is unavailable the test is
 * registered as skipped with the reason in its title — or, under CI, as a test
 * that fails with the reason.
 */
export function labTest(title: string, implementation: ImplementationFn<[]>): void {
  const availability = labAvailable();
  if (availability.ok) test(title, implementation);
  else if (inCi()) test(title, (t) => t.fail(`namespace lab unavailable under CI: ${availability.reason}`));
  else test.skip(`${title} [lab unavailable: ${availability.reason}]`, implementation);
}

/** {@link labTest} for tests that must not run concurrently with the others of their file. */
labTest.serial = function serial(title: string, implementation: ImplementationFn<[]>): void {
  const availability = labAvailable();
  if (availability.ok) test.serial(title, implementation);
  else if (inCi()) test.serial(title, (t) => t.fail(`namespace lab unavailable under CI: ${availability.reason}`));
  else test.skip(`${title} [lab unavailable: ${availability.reason}]`, implementation);
};
