/**
 * The lab scenarios: delivery scenarios for issue 10 ("nothing lost for a
 * live receiver"), the logging ones of issue 12, and the service bus's of
 * issue 13 ({@link BUS_SCENARIOS}, test/lab/bus-scenario.ts, which says what
 * they check) and the replicated map's of issue 14 ({@link STATE_SCENARIOS},
 * test/lab/state-scenario.ts). The delivery scenarios run with real processes on lab hosts: `blipcast send` / `blipcast listen` (or,
 * for the slow reader, two fixture programs on the public API) under the
 * faults users meet — a receiver paused across the end of the stream, several
 * senders at once, burst loss, CPU load, a rate-limited sender, a slow reader.
 *
 * Each scenario checks two things and reports both:
 * - every receiver printed exactly what each sender sent: every line, in order,
 *   once, per source, and no loss report;
 * - each sender's exit code matches the outcome: 0 when every receiver got all
 *   of its lines, 3 (with one JSON line per receiver it gave up on) otherwise.
 *
 * Shared by the AVA tests (test/delivery-lab.test.ts, test/bus-lab.test.ts and test/state-lab.test.ts, one run each) and the
 * repeat runner (bench/lab-scenarios.ts, N runs in a row), so this module does
 * not import AVA. A run never throws for a delivery failure: it returns a
 * {@link ScenarioResult}; it throws only when the lab itself breaks.
 */

import { runCli, seqLines, type SenderPlan, shortLines, variedLines } from './cli-scenario';
import type { BurstLoss } from './lab';
import type { Scenario } from './scenario-result';
import { runBusGather, runBusRequest, runBusTasks } from './bus-scenario';
import { runLogging } from './logging-scenario';
import { runSlowReader } from './slow-reader-scenario';
import { runStateSync } from './state-scenario';
import { runTopLossy } from './top-scenario';

export { cliHasStats, seqLines, shortLines, variedLines } from './cli-scenario';
export { DEFAULT_LINGER_S, explain, SEND_GAVE_UP, type ReceiverOutcome, type Scenario, type ScenarioOptions, type ScenarioResult, type SenderOutcome } from './scenario-result';

const PAUSED_LINES = 50_000;
const MULTI_LINES = 30_000;
const SIX_LINES = 50_000;
const RATE_LINES = 1_000_000;
/** `--rate` of the rate-limited sender, bytes/s: `seq 1 1000000` (6.9 MB) takes about 14 s. */
const RATE_BYTES_PER_S = 500_000;
/** Multi-sender burst loss: 5 % in runs of 16 consecutive datagrams (one in every 320). */
const BURST: BurstLoss = { length: 16, rate: 0.05 };

/** Lines of three senders, told apart by their prefix: s0-…, s1-…, s2-… (varied lengths, up to 120 characters). */
function threeSenders(feed: SenderPlan['feed']): SenderPlan[] {
  return [0, 1, 2].map((k) => ({ input: variedLines(MULTI_LINES, `s${k}`, 0x51ed + k, 120), feed }));
}

/** Inputs are built on first use and kept: the same bytes every run. */
function lazy<T>(make: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= make());
}
const pausedInput = lazy(() => shortLines(PAUSED_LINES));
const multiInput = lazy(() => threeSenders('stdin'));
const sixInput = lazy(() => variedLines(SIX_LINES, 'line', 0x9e3779b9, 160, 1000));
const rateInput = lazy(() => seqLines(RATE_LINES));

/** The scenarios test/delivery-lab.test.ts runs: delivery (issue 10) and logging (issue 12). */
export const DELIVERY_SCENARIOS: readonly Scenario[] = [
  {
    name: 'paused-receiver',
    title: 'a receiver stopped before the first line and continued after the input ended still prints all 50,000 lines, and the sender waits for it',
    budgetMs: 75_000,
    run: (options = {}) =>
      runCli(
        { name: 'paused-receiver', labName: 'pause', senders: [{ input: pausedInput(), feed: 'stdin' }], receivers: 3, lossRate: 0.2, listenTimeoutS: 45, json: false, pause: { receiver: 0, minMs: 300, maxMs: 1500 } },
        options,
      ),
  },
  {
    name: 'three-senders',
    title: 'three senders starting together reach two receivers at 5 % loss with every line of each, in order, once',
    budgetMs: 75_000,
    run: (options = {}) => runCli({ name: 'three-senders', labName: 'multi', senders: multiInput(), receivers: 2, lossRate: 0.05, listenTimeoutS: 45, json: true }, options),
  },
  {
    name: 'three-senders-burst',
    title: 'three senders starting together reach two receivers that lose 5 % in bursts of 16 datagrams, every line of each, in order, once',
    budgetMs: 75_000,
    run: (options = {}) => runCli({ name: 'three-senders-burst', labName: 'multib', senders: multiInput(), receivers: 2, lossRate: 0, burst: BURST, listenTimeoutS: 45, json: true }, options),
  },
  {
    name: 'six-receivers-load',
    title: 'six receivers at 5 % loss on a machine under CPU load each print all 50,000 lines exactly',
    budgetMs: 100_000,
    run: (options = {}) =>
      runCli({ name: 'six-receivers-load', labName: 'six', senders: [{ input: sixInput(), feed: 'stdin' }], receivers: 6, lossRate: 0.05, listenTimeoutS: 70, json: false, load: { churn: 2 } }, options),
  },
  {
    name: 'rate-limited-pipe',
    title: '`seq 1 1000000 | blipcast send --rate 500000` reaches three receivers at 5 % loss exactly',
    budgetMs: 90_000,
    run: (options = {}) =>
      runCli({ name: 'rate-limited-pipe', labName: 'ratep', senders: [{ input: rateInput(), feed: 'seq-pipe', args: ['--rate', String(RATE_BYTES_PER_S)] }], receivers: 3, lossRate: 0.05, listenTimeoutS: 60, json: false }, options),
  },
  {
    name: 'rate-limited-file',
    title: '`blipcast send --rate 500000 < file` (seq 1 1000000) reaches three receivers at 5 % loss exactly',
    budgetMs: 90_000,
    run: (options = {}) =>
      runCli({ name: 'rate-limited-file', labName: 'ratef', senders: [{ input: rateInput(), feed: 'file', args: ['--rate', String(RATE_BYTES_PER_S)] }], receivers: 3, lossRate: 0.05, listenTimeoutS: 60, json: false }, options),
  },
  {
    name: 'slow-reader',
    title: 'a reader that awaits 1 ms every 500 messages gets all 1,000,000 messages in order with no loss: the writer is paced to it',
    budgetMs: 120_000,
    run: (options = {}) => runSlowReader(options),
  },
  {
    name: 'logging',
    title: 'three services log 10,000 lines each through blipcast/pino and exit; two collectors at 5 % loss each hold exactly those 30,000 lines, per source in order, once',
    budgetMs: 90_000,
    run: (options = {}) => runLogging({ ...options, restart: false }),
  },
  {
    name: 'logging-restart',
    title: 'a log collector killed mid-stream and restarted with --from earliest ends with exactly the same lines (or a loss line naming precisely what the senders no longer held)',
    budgetMs: 90_000,
    run: (options = {}) => runLogging({ ...options, restart: true }),
  },
];

/** The service bus's scenarios (issue 13), run by test/bus-lab.test.ts. */
export const BUS_SCENARIOS: readonly Scenario[] = [
  {
    name: 'bus-tasks',
    title: 'submit of 1,000 tasks to three workers, one killed (SIGKILL) and one stopped past its lease mid-run, at 5 % loss, prints exactly one right result per task and exits 0',
    budgetMs: 60_000,
    run: (options = {}) => runBusTasks(options),
  },
  {
    name: 'bus-gather',
    title: 'request --gather to five servers, one stopped (SIGSTOP) while it handles it, prints the four replies, names the fifth as missing and exits 1; continued, the fifth answers the next gather',
    budgetMs: 45_000,
    run: (options = {}) => runBusGather(options),
  },
  {
    name: 'bus-request',
    title: 'a request whose server is killed (SIGKILL) while it handles it is answered by the other server',
    budgetMs: 40_000,
    run: (options = {}) => runBusRequest(options),
  },
];

/** The replicated map's scenarios (issue 14, test/lab/state-scenario.ts), run by test/state-lab.test.ts. */
export const STATE_SCENARIOS: readonly Scenario[] = [
  {
    name: 'state-sync',
    title: 'two `state --dump` at 10 % loss, started 3 s after another host loaded 20,000 entries and while a third loads 1,000 updates, each print exactly the 20,000 entries with the updates',
    budgetMs: 150_000,
    run: (options = {}) => runStateSync({ ...options, dumpers: 'with-updater' }),
  },
  {
    name: 'state-sync-after-update',
    title: 'two `state --dump` at 10 % loss, started once another host has written 1,000 updates over the 20,000 entries a third loaded, each print exactly the 20,000 entries with the updates',
    budgetMs: 150_000,
    run: (options = {}) => runStateSync({ ...options, dumpers: 'after-updates' }),
  },
];

/** Every scenario, for the repeat runner (bench/lab-scenarios.ts). */
/** Observability (issue 15, test/lab/top-scenario.ts), run by test/observe-lab.test.ts. */
export const OBSERVE_SCENARIOS: readonly Scenario[] = [
  {
    name: 'top-finds-lossy',
    title: 'blipcast top on another host lists every member and the sender, and puts the listener at 5 % loss first and alone among the rows that need a look, with its NAKs, repairs and repair latency',
    budgetMs: 60_000,
    run: (options = {}) => runTopLossy(options),
  },
];

export const SCENARIOS: readonly Scenario[] = [...DELIVERY_SCENARIOS, ...BUS_SCENARIOS, ...STATE_SCENARIOS, ...OBSERVE_SCENARIOS];

/** The scenario called `name`. @throws RangeError naming the known ones. */
export function scenarioByName(name: string): Scenario {
  const s = SCENARIOS.find((x) => x.name === name);
  if (!s) throw new RangeError(`no scenario '${name}'; known: ${SCENARIOS.map((x) => x.name).join(', ')}`);
  return s;
}
