/**
 * `blipcast submit GROUP:PORT --queue Q`: each stdin line is one task on the
 * bus (blipcast/bus); each result is printed as `INDEX<TAB>RESULT` as it
 * arrives (INDEX the 0-based line number, RESULT without one trailing
 * newline), each failed task as `task INDEX failed: MESSAGE` on stderr.
 */

import { BacklogFullError, NoServerError, type Bus, type SubmitOptions } from '../bus/index';
import { ClosedError, InvalidArgumentTypeError, InvalidArgumentValueError } from '../index';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { intOption, parseCommand } from './args';
import { BUS_OPTIONS, DISCOVERY_MS, EXIT_NO_SERVER, flushed, openBusFromOptions, positiveSecondsOption, requiredValue, withoutTrailingNewline, writeBusStats } from './bus-common';
import { onStopSignal, signalExitCode } from './common';
import { pumpLines } from './send';

const OPTIONS = {
  ...BUS_OPTIONS,
  queue: { type: 'string' },
  lease: { type: 'string' },
  replicas: { type: 'string' },
  'max-failures': { type: 'string' },
} as const;

/**
 * Submits without a result yet beyond which stdin is paused: a bound on
 * this process's memory, well under the bus's own limit (BusOptions.maxBacklog,
 * default 65536) so that submit() never meets BacklogFullError. The lines of
 * the chunk being read are still submitted (a 64 KiB chunk holds at most
 * 32768), so the bound holds within one chunk's lines.
 */
export const MAX_UNRESOLVED_SUBMITS = 10_000;
/** Input resumes when the unresolved submits fall to this many (half: one pause per 5000 results, not one per result). */
export const RESUME_SUBMITS_AT = MAX_UNRESOLVED_SUBMITS / 2;

/** The shortest --lease, ms: the bus's own lower bound (SubmitOptions.leaseMs). */
const MIN_LEASE_MS = 10;
/** How often the wait for the queue's first worker looks, ms. */
const WORKER_POLL_MS = 50;

interface Io {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

export async function submit(args: string[], io: Io): Promise<number> {
  const { groupText, values } = parseCommand('submit', args, OPTIONS);
  const queue = requiredValue(values, 'queue', 'QUEUE (where the tasks go)');
  const leaseMs = positiveSecondsOption(values, 'lease', MIN_LEASE_MS);
  const replicas = intOption(values, 'replicas', 1, 65535);
  const maxFailures = intOption(values, 'max-failures', 1, 1_000_000);

  const bus = await openBusFromOptions(groupText, values, io.stderr);
  // Aborted by Ctrl-C / SIGTERM, or by an error that ends the whole run: every pending submit then rejects.
  const stop = new AbortController();
  // One abort listener per pending submit.
  setMaxListeners(0, stop.signal);
  let stoppedBy: NodeJS.Signals | undefined;
  let fatal: unknown;
  const unhook = onStopSignal((signal) => {
    stoppedBy = signal;
    stop.abort();
  });
  const options: SubmitOptions = {
    ...(leaseMs !== undefined ? { leaseMs } : {}),
    ...(replicas !== undefined ? { replicas } : {}),
    ...(maxFailures !== undefined ? { maxFailures } : {}),
    signal: stop.signal,
  };

  const out = new ResultLines(io.stdout, () => maybeResume());
  let submitted = 0;
  let unresolved = 0;
  let failed = 0;
  let abandoned = 0;
  let inputEnded = false;
  let resumeInput: (() => void) | undefined;
  let allSettled = (): void => {};
  const settled = new Promise<void>((resolve) => (allSettled = resolve));
  const maybeResume = (): void => {
    if (resumeInput === undefined || unresolved > RESUME_SUBMITS_AT || out.blocked) return;
    const resume = resumeInput;
    resumeInput = undefined;
    resume();
  };
  const submitLine = (line: Buffer): boolean => {
    const index = submitted++;
    unresolved++;
    bus.submit(queue, line, options).then(
      (result) => out.push(index, result.data),
      (err: Error) => {
        if (stop.signal.aborted) {
          abandoned++;
        } else if (endsTheRun(err)) {
          fatal = err;
          abandoned++;
          stop.abort();
        } else {
          failed++;
          io.stderr.write(`task ${index} failed: ${err.message}\n`);
        }
      },
    ).finally(() => {
      unresolved--;
      maybeResume();
      if (inputEnded && unresolved === 0) allSettled();
    });
    return unresolved < MAX_UNRESOLVED_SUBMITS && !out.blocked;
  };

  try {
    await firstWorker(bus, queue, stop.signal);
    if (!stop.signal.aborted) {
      await pumpLines(io.stdin, submitLine, (resume) => {
        resumeInput = resume;
        maybeResume();
      }, stop.signal);
    }
    inputEnded = true;
    if (unresolved === 0) allSettled();
    await settled;
  } finally {
    out.flush();
    // A second Ctrl-C while the bus closes exits at once.
    await bus.close();
    unhook();
    await flushed(io.stdout);
    writeBusStats(bus, values, io.stderr);
  }
  if (stoppedBy !== undefined) {
    io.stderr.write(`blipcast: stopped by ${stoppedBy}: ${abandoned} submitted task(s) without a result\n`);
    return signalExitCode(stoppedBy);
  }
  if (fatal instanceof NoServerError) {
    io.stderr.write(`blipcast: ${fatal.message}\n`);
    return EXIT_NO_SERVER;
  }
  if (fatal !== undefined) throw fatal;
  return failed > 0 ? 1 : 0;
}

/**
 * Resolves once some member works `queue`, or the bus's discovery is over
 * (submit() then says whether anybody works it). A task submitted during
 * discovery waits for a worker, however long: without this, input with
 * nobody to work it would wait forever instead of exiting 3.
 */
async function firstWorker(bus: Bus, queue: string, signal: AbortSignal): Promise<void> {
  const untilMs = Date.now() + DISCOVERY_MS;
  while (bus.workers(queue).length === 0 && Date.now() < untilMs && !signal.aborted) await sleep(WORKER_POLL_MS);
}

/** Errors that are not about one task but would meet every one (nobody works the queue, bad options, the bus gone): said once, and the run ends. */
function endsTheRun(err: Error): boolean {
  return err instanceof NoServerError || err instanceof BacklogFullError || err instanceof InvalidArgumentValueError || err instanceof InvalidArgumentTypeError || err instanceof ClosedError;
}

/**
 * The `INDEX<TAB>RESULT` lines, gathered per event-loop turn and written in
 * one call. `blocked` while stdout holds more than its high-water mark; `onDrain`
 * is called when it has taken it.
 */
class ResultLines {
  private readonly pending: Buffer[] = [];
  private scheduled = false;
  blocked = false;

  constructor(private readonly output: NodeJS.WritableStream, private readonly onDrain: () => void) {}

  push(index: number, data: Buffer): void {
    this.pending.push(Buffer.from(`${index}\t`), withoutTrailingNewline(data), NEWLINE);
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const ok = this.output.write(Buffer.concat(this.pending));
    this.pending.length = 0;
    if (ok || this.blocked) return;
    this.blocked = true;
    this.output.once('drain', () => {
      this.blocked = false;
      this.onDrain();
    });
  }
}

const NEWLINE = Buffer.from('\n');
