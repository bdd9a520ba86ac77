/**
 * What a delivery scenario run reports (test/lab/scenarios.ts), and the
 * pieces every kind of scenario shares: watching processes to the end with a
 * bound on a stream that stalls, and formatting. Does not import AVA.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { CpuLoadReport } from './cpu-load';
import type { Captured } from './delivery';

/** Sender --linger used by the scenarios unless told otherwise: long enough that a give-up is a protocol verdict, not a short default. */
export const DEFAULT_LINGER_S = 20;
/** Once every sender has exited, a receiver that prints nothing for this long is stopped and counted as stalled (longer than the 5 s source timeout, so a 'source-gone' report still shows). */
export const STALL_MS = 8000;
/** A sender still running this long after its receivers' --timeout is killed. */
export const SENDER_GRACE_MS = 15_000;
/** Exit code of `blipcast send` when it gave up on a receiver. */
export const SEND_GAVE_UP = 3;

export interface ScenarioOptions {
  /** Put the machine under CPU load for the whole run (scenarios that have a load of their own keep theirs). */
  load?: boolean;
  /** Senders' --linger in seconds, or 'default' for the CLI's own default. Default {@link DEFAULT_LINGER_S}. */
  lingerS?: number | 'default';
  /** Receivers' --from (default: the CLI default, 'next'; every receiver is listening before the first line is sent). */
  from?: 'next' | 'earliest';
  /** Let UDP GSO runs cross the lab whole (LabOptions.gsoRuns): a loss-rule match at a receiver then drops a sender's whole run. */
  gsoRuns?: boolean;
  /** Progress lines as the run goes (t.log, console.error). */
  log?: (line: string) => void;
}

export interface ReceiverOutcome {
  label: string;
  exact: boolean;
  lines: number;
  expectedLines: number;
  /** How it ended: its own exit code or signal; 'stalled' when the scenario stopped it, see {@link STALL_MS}. */
  exit: string;
  seconds: number;
  /** Empty when exact. */
  mismatch: string;
  losses: string[];
  /** Datagrams the host's loss rules dropped (bursts, single) and its socket-buffer drops. */
  drops: { burst: number; random: number; rcvbuf: number };
  /** Per sender index: did this receiver get all of that sender's lines exactly? */
  completeFrom: boolean[];
  /** JSON lines other than loss reports it printed on stderr (--stats counters). */
  json: Record<string, unknown>[];
  stderr: string;
}

export interface SenderOutcome {
  label: string;
  exit: string;
  code: number | null;
  seconds: number;
  /** The code it should have exited with: 0 when every receiver got all its lines, else {@link SEND_GAVE_UP}. */
  expectedCode: number;
  /** JSON lines it printed on stderr (give-ups, stats). */
  json: Record<string, unknown>[];
  stderr: string;
}

export interface ScenarioResult {
  scenario: string;
  /** Every receiver exact and every sender's exit code as expected. */
  ok: boolean;
  /** Every receiver printed exactly what was sent. */
  exact: boolean;
  senders: SenderOutcome[];
  receivers: ReceiverOutcome[];
  /** One line per thing that went wrong, each naming the process. */
  failures: string[];
  /** The first loss report of the first receiver that printed one. */
  firstLoss: string | undefined;
  /** The failure in one line, for a table ('' when ok). */
  shape: string;
  /** What happened, for the log: per process, counts, timings, drops, load. */
  notes: string[];
  wallMs: number;
}

export interface Scenario {
  name: string;
  /** What it checks, as a test title. */
  title: string;
  /** Upper bound on one run's wall time (a failing run included), for test timeouts. */
  budgetMs: number;
  run(options?: ScenarioOptions): Promise<ScenarioResult>;
}

/** A run's notes: `note(line)` keeps the line for the result and passes it to `options.log` as the run goes. */
export function runNotes(options: ScenarioOptions): { notes: string[]; note: (line: string) => void } {
  const notes: string[] = [];
  return {
    notes,
    note: (line) => {
      notes.push(line);
      options.log?.(line);
    },
  };
}

/** A process's exit as text: its code, its signal, or 'running'. */
export function exitText(exit: { code: number | null; signal: NodeJS.Signals | null } | undefined): string {
  if (exit === undefined) return 'running';
  return exit.code !== null ? String(exit.code) : String(exit.signal);
}

/**
 * Waits until every process has exited. Once every sender has, a receiver that prints
 * nothing for {@link STALL_MS} is stopped (SIGTERM) and returned as stalled; a sender
 * still running after `senderMaxMs` is killed.
 */
export async function supervise(senders: Captured[], receivers: Captured[], senderMaxMs: number): Promise<Set<Captured>> {
  const stalled = new Set<Captured>();
  const startMs = performance.now();
  for (;;) {
    const now = performance.now();
    for (const s of senders) if (s.exited === undefined && now - startMs > senderMaxMs) s.child.kill('SIGKILL');
    const sendersDone = senders.every((s) => s.exited !== undefined);
    const lastSenderMs = Math.max(...senders.map((s) => s.exited?.atMs ?? 0));
    for (const r of receivers) {
      if (r.exited !== undefined || stalled.has(r) || !sendersDone) continue;
      if (now - Math.max(r.lastOutputMs, lastSenderMs) > STALL_MS) {
        stalled.add(r);
        r.child.kill('SIGTERM');
      }
    }
    if ([...senders, ...receivers].every((p) => p.exited !== undefined)) return stalled;
    await sleep(200);
  }
}

/** A CPU load report as one line for a scenario's notes. */
export function formatLoad(load: CpuLoadReport): string {
  return `CPU load: ${load.busy} busy loop(s) + ${load.churn} churn loop(s) (${load.churnProcesses} short-lived node processes) for ${(load.durationMs / 1000).toFixed(1)} s; machine busy ${(load.machineBusy * 100).toFixed(0)}%`;
}

/** Everything about a result that a failing test should print: the failures, then the notes. */
export function explain(result: ScenarioResult): string {
  return [...result.failures, '', ...result.notes].join('\n');
}
