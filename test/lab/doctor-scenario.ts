/**
 * `blipcast doctor` on lab hosts (network namespaces, test/lab/lab.ts): a
 * healthy host, a host whose eth0 has multicast switched off, a host with an
 * nftables rule that drops the group's port, and two hosts probing each
 * other. Each case builds its own lab and removes it, and returns the
 * failures it saw (empty when the doctor said the right thing), so the AVA
 * test (test/doctor-lab.test.ts) can run it many times in a row, with or
 * without CPU load. Does not import AVA.
 */

import { randomInt } from 'node:crypto';
import { BIN } from './delivery';
import { IP, NFT, withLab, type Lab, type LabHost } from './lab';

export interface DoctorCheck {
  name: string;
  status: 'pass' | 'warn' | 'fail' | 'skip';
  detail: string;
  fix?: string;
}

export interface DoctorRun {
  code: number | null;
  checks: DoctorCheck[];
  stdout: string;
  stderr: string;
}

export interface DoctorCase {
  name: string;
  title: string;
  /** Lab hosts the case needs. */
  hosts: number;
  /** What went wrong (empty: the doctor diagnosed the host right); `log` gets one line of what it said. */
  run: (lab: Lab, log: (line: string) => void) => Promise<string[]>;
}

/** A random group and port per run: labs of several test files may exist at once (each in its own namespaces anyway). */
function groupFor(): { group: string; port: number } {
  const port = 20000 + randomInt(40000);
  return { group: `239.255.${10 + randomInt(200)}.${1 + randomInt(250)}:${port}`, port };
}

/** Runs `blipcast doctor … --json` on `host` to completion. */
export async function runDoctor(lab: Lab, host: LabHost, args: readonly string[], timeoutMs = 30_000): Promise<DoctorRun> {
  const r = await lab.exec(host, process.execPath, [BIN, 'doctor', ...args, '--json'], { timeoutMs });
  let checks: DoctorCheck[] = [];
  try {
    checks = (JSON.parse(r.stdout) as { checks: DoctorCheck[] }).checks;
  } catch {
    // Reported as a failure by the caller: no JSON.
  }
  return { code: r.code, checks, stdout: r.stdout, stderr: r.stderr };
}

function check(run: DoctorRun, name: string): DoctorCheck | undefined {
  return run.checks.find((c) => c.name === name);
}

function brief(run: DoctorRun): string {
  return run.checks.map((c) => `${c.status === 'pass' ? '✓' : c.status === 'warn' ? '!' : c.status === 'fail' ? '✗' : '-'} ${c.name}`).join(' ');
}

/** Failures when `run` did not exit `code`, or a check is not as `want` says (status, and a pattern its detail/fix must match). */
function expect(label: string, run: DoctorRun, code: number, want: Record<string, { status: DoctorCheck['status'][]; detail?: RegExp; fix?: RegExp }>): string[] {
  const failures: string[] = [];
  if (run.checks.length === 0) return [`${label}: no JSON on stdout (exit ${run.code}): ${run.stdout.slice(0, 300)} ${run.stderr.slice(0, 300)}`];
  if (run.code !== code) failures.push(`${label}: exit ${run.code}, expected ${code}: ${brief(run)}; ${run.checks.filter((c) => c.status === 'fail').map((c) => c.detail).join('; ')}`);
  for (const [name, w] of Object.entries(want)) {
    const c = check(run, name);
    if (c === undefined) failures.push(`${label}: no ${name} check`);
    else {
      if (!w.status.includes(c.status)) failures.push(`${label}: ${name} is ${c.status}, expected ${w.status.join('|')}: ${c.detail}`);
      if (w.detail !== undefined && !w.detail.test(c.detail)) failures.push(`${label}: ${name} detail does not match ${w.detail}: ${c.detail}`);
      if (w.fix !== undefined && !w.fix.test(c.fix ?? '')) failures.push(`${label}: ${name} fix does not match ${w.fix}: ${c.fix ?? '(none)'}`);
    }
  }
  return failures;
}

const HEALTHY = ['interface', 'route', 'rp_filter', 'receive-buffer', 'ttl', 'firewall', 'igmp', 'multicast-all'];

export const DOCTOR_CASES: readonly DoctorCase[] = [
  {
    name: 'doctor-healthy',
    title: 'doctor on a healthy lab host passes every check and exits 0, with --interface and with the interface of the route',
    hosts: 1,
    run: async (lab, log) => {
      const host = lab.host(0);
      const { group } = groupFor();
      const given = await runDoctor(lab, host, ['--interface', host.ipv4, '--ttl', '1', '--group', group]);
      const routed = await runDoctor(lab, host, ['--group', group]);
      log(`healthy: ${brief(given)} | without --interface: ${brief(routed)}`);
      const all = Object.fromEntries(HEALTHY.map((n) => [n, { status: ['pass', 'warn'] as DoctorCheck['status'][] }]));
      return [
        ...expect('--interface', given, 0, { ...all, interface: { status: ['pass'], detail: /^interface eth0: up, multicast$/ }, igmp: { status: ['pass'], detail: /joined on eth0/ }, firewall: { status: ['pass'] } }),
        ...expect('route', routed, 0, { ...all, route: { status: ['pass'], detail: /out of eth0/ }, interface: { status: ['pass'], detail: /interface eth0: up, multicast \(the route's/ } }),
      ];
    },
  },
  {
    name: 'doctor-multicast-off',
    title: 'doctor on a host whose eth0 has multicast switched off fails, explaining it with `ip link set eth0 multicast on`',
    hosts: 1,
    run: async (lab, log) => {
      const host = lab.host(0);
      const { group } = groupFor();
      await lab.exec(host, IP, ['link', 'set', 'eth0', 'multicast', 'off']).then(assertOk('ip link set eth0 multicast off'));
      const run = await runDoctor(lab, host, ['--interface', 'eth0', '--ttl', '1', '--group', group]);
      log(`multicast off: ${check(run, 'interface')?.detail ?? '?'} | ${brief(run)}`);
      return expect('multicast off', run, 1, { interface: { status: ['fail'], detail: /interface eth0: MULTICAST flag off/, fix: /^ip link set eth0 multicast on$/ } });
    },
  },
  {
    name: 'doctor-nft-drop',
    title: 'doctor on a host with an nftables rule dropping the group\'s UDP port fails naming the rule; its fix makes the doctor pass',
    hosts: 1,
    run: async (lab, log) => {
      const host = lab.host(0);
      const { group, port } = groupFor();
      const script = `table inet doctor_test {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport ${port} counter drop\n  }\n}\n`;
      await lab.exec(host, NFT, ['-f', '-'], { input: script }).then(assertOk('nft -f (drop rule)'));
      const args = ['--interface', 'eth0', '--ttl', '1', '--group', group];
      const run = await runDoctor(lab, host, args);
      const firewall = check(run, 'firewall');
      log(`nft drop: ${firewall?.detail ?? '?'} (fix: ${firewall?.fix ?? '?'})`);
      const failures = expect('nft drop', run, 1, {
        firewall: { status: ['fail'], detail: new RegExp(`nft rule inet doctor_test input handle \\d+ drops udp to port ${port}: udp dport ${port} drop`), fix: /^nft delete rule inet doctor_test input handle \d+$/ },
      });
      if (firewall?.fix === undefined || failures.length > 0) return failures;
      // The fix is a command: run it as the doctor wrote it, then the doctor must be satisfied.
      const [cmd, ...cmdArgs] = firewall.fix.split(' ');
      if (cmd !== 'nft') return [`fix does not start with nft: ${firewall.fix}`];
      await lab.exec(host, NFT, cmdArgs).then(assertOk(firewall.fix));
      const after = await runDoctor(lab, host, args);
      return expect('after the fix', after, 0, { firewall: { status: ['pass'] } });
    },
  },
  {
    name: 'doctor-probe',
    title: 'two hosts running `doctor --probe` at once each see the other, with its address and a round trip',
    hosts: 2,
    run: async (lab, log) => {
      const { group } = groupFor();
      const [a, b] = [lab.host(0), lab.host(1)];
      const args = (h: LabHost): string[] => ['--interface', h.ipv4, '--ttl', '1', '--group', group, '--probe', '--probe-seconds', '2'];
      const runs = await Promise.all([runDoctor(lab, a, args(a)), runDoctor(lab, b, args(b))]);
      const failures: string[] = [];
      for (const [i, run] of runs.entries()) {
        const other = i === 0 ? b : a;
        const probes = run.checks.filter((c) => c.name === 'probe');
        log(`probe on h${i}: ${probes.map((p) => p.detail).join(' | ') || brief(run)}`);
        failures.push(...expect(`h${i}`, run, 0, {}));
        if (probes.length !== 1) failures.push(`h${i}: ${probes.length} probe results, expected 1 (the other host): ${probes.map((p) => p.detail).join(' | ')}`);
        else {
          const p = probes[0]!;
          if (p.status !== 'pass') failures.push(`h${i}: probe ${p.status}: ${p.detail}`);
          if (!p.detail.includes(`(${other.ipv4})`)) failures.push(`h${i}: the probe does not name ${other.ipv4}: ${p.detail}`);
          if (!/round trip p50 [\d.]+ ms, p99 [\d.]+ ms/.test(p.detail)) failures.push(`h${i}: no round trip: ${p.detail}`);
        }
      }
      return failures;
    },
  },
];

function assertOk(what: string): (r: { code: number | null; stderr: string }) => void {
  return (r) => {
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${r.stderr.trim()}`);
  };
}

/** Runs one case in a fresh lab (removed afterwards); resolves with its failures. */
export function runDoctorCase(c: DoctorCase, log: (line: string) => void): Promise<string[]> {
  return withLab({ hosts: c.hosts, name: 'doctor' }, (lab) => c.run(lab, log));
}
