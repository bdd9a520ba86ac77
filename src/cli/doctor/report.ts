/**
 * What every doctor check returns, and how the results are printed: one line
 * per check (✓ pass, ! warn, ✗ fail, - skip) with its fix indented below, or
 * one JSON object; and the exit code (0 unless some check failed).
 */

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  /** Short stable name: 'interface', 'route', 'rp_filter', 'receive-buffer', 'ttl', 'firewall', 'igmp', 'multicast-all', 'probe'. */
  name: string;
  status: CheckStatus;
  /** What was found, in one line (the subject first: `interface eth0: up, multicast`). */
  detail: string;
  /** What to run to fix it: one or two lines, present on warn and fail when there is something to run. */
  fix?: string;
}

export interface DoctorReport {
  /** True when no check failed (warnings and skips allowed). */
  ok: boolean;
  checks: CheckResult[];
}

const MARK: Record<CheckStatus, string> = { pass: '✓', warn: '!', fail: '✗', skip: '-' };

export function report(checks: CheckResult[]): DoctorReport {
  return { ok: checks.every((c) => c.status !== 'fail'), checks };
}

/** The plain-text form: `✓ interface eth0: up, multicast`, and `    fix: …` under a warning or failure. */
export function formatText(r: DoctorReport): string {
  const lines: string[] = [];
  for (const c of r.checks) {
    lines.push(`${MARK[c.status]} ${c.detail}`);
    if (c.fix !== undefined && (c.status === 'fail' || c.status === 'warn')) {
      const [first, ...rest] = c.fix.split('\n');
      lines.push(`    fix: ${first}`, ...rest.map((l) => `         ${l}`));
    }
  }
  lines.push(verdict(r));
  return lines.join('\n') + '\n';
}

/** The last line: `doctor: ok`, `doctor: ok (2 warnings)`, `doctor: 1 failed, 2 warnings`. */
function verdict(r: DoctorReport): string {
  const failed = r.checks.filter((c) => c.status === 'fail').length;
  const warned = r.checks.filter((c) => c.status === 'warn').length;
  const warnings = warned === 0 ? '' : `${warned} warning${warned > 1 ? 's' : ''}`;
  if (failed > 0) return `doctor: ${failed} failed${warnings ? `, ${warnings}` : ''}`;
  return `doctor: ok${warnings ? ` (${warnings})` : ''}`;
}

/** Exit code of `blipcast doctor`: 0 when every check passed or warned, 1 when one failed. */
export function exitCode(r: DoctorReport): number {
  return r.ok ? 0 : 1;
}

/** A check that could not run here, with the reason. */
export function skipped(name: string, detail: string): CheckResult {
  return { name, status: 'skip', detail };
}
