/**
 * Runs the delivery lab scenarios (test/lab/scenarios.ts) many times in a row
 * and prints a table: a scenario is trusted only after 20+ clean runs
 * (DESIGN.md, Testing). Needs root (network namespaces, nftables).
 *
 *   node dist/bench/lab-scenarios.js --scenario NAME[,NAME…]|all [--runs 20] [--load]
 *        [--gso-runs] [--linger SECONDS|default] [--from next|earliest] [--verbose] [--list]
 *
 * --load puts the machine under CPU load during every run (busy loops and
 * short-lived allocating processes, test/lab/cpu-load.ts). --gso-runs lets UDP
 * GSO runs cross the lab whole, so each loss-rule match drops a sender's whole
 * run (a burst of up to 64 datagrams). --verbose prints
 * each run's notes; a failed run's failures are always printed as it ends.
 * Exit code: 0 when every run of every scenario was ok, 1 otherwise, 2 on bad
 * arguments or without root.
 */

import { parseArgs } from 'node:util';
import { DEFAULT_LINGER_S, explain, SCENARIOS, scenarioByName, type Scenario, type ScenarioOptions, type ScenarioResult } from '../test/lab/scenarios';
import { parseRuns, requireRoot } from './runner';
import { formatTable, median } from './table';

interface Tally {
  scenario: Scenario;
  results: ScenarioResult[];
}

function usage(): string {
  return [
    'usage: node dist/bench/lab-scenarios.js --scenario NAME[,NAME…]|all [--runs N] [--load] [--gso-runs] [--linger SECONDS|default] [--from next|earliest] [--verbose] [--list]',
    `scenarios: ${SCENARIOS.map((s) => s.name).join(', ')}`,
  ].join('\n');
}

function parse(): { scenarios: Scenario[]; runs: number; options: ScenarioOptions; verbose: boolean } | undefined {
  const { values } = parseArgs({
    options: {
      scenario: { type: 'string' },
      runs: { type: 'string' },
      load: { type: 'boolean', default: false },
      'gso-runs': { type: 'boolean', default: false },
      linger: { type: 'string' },
      from: { type: 'string' },
      verbose: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || values.list) {
    console.log(values.list ? SCENARIOS.map((s) => `${s.name.padEnd(20)} ${s.title}`).join('\n') : usage());
    return undefined;
  }
  if (values.scenario === undefined) throw new RangeError('--scenario is required');
  const scenarios = values.scenario === 'all' ? [...SCENARIOS] : values.scenario.split(',').map((name) => scenarioByName(name.trim()));
  // One run by default would hide exactly the rare failures this program is for: default 20.
  const runs = parseRuns(values.runs ?? '20', false);
  const options: ScenarioOptions = { load: values.load, gsoRuns: values['gso-runs'] };
  if (values.linger !== undefined) {
    if (values.linger === 'default') options.lingerS = 'default';
    else {
      const s = Number(values.linger);
      if (!Number.isFinite(s) || s < 0) throw new RangeError(`--linger must be a number of seconds or 'default', got '${values.linger}'`);
      options.lingerS = s;
    }
  }
  if (values.from !== undefined) {
    if (values.from !== 'next' && values.from !== 'earliest') throw new RangeError(`--from must be next or earliest, got '${values.from}'`);
    options.from = values.from;
  }
  return { scenarios, runs, options, verbose: values.verbose };
}

function countBy(values: string[]): string {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]).map(([v, n]) => `${v}×${n}`).join(' ');
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}`;
}

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parse();
  } catch (err) {
    console.error(`${(err as Error).message}\n${usage()}`);
    process.exitCode = 2;
    return;
  }
  if (parsed === undefined) return;
  if (!requireRoot('lab-scenarios')) return;
  const { scenarios, runs, options, verbose } = parsed;
  const lingerText = options.lingerS === undefined ? `${DEFAULT_LINGER_S} s` : options.lingerS === 'default' ? 'CLI default' : `${options.lingerS} s`;
  console.error(`${scenarios.length} scenario(s) × ${runs} run(s)${options.load ? ', under CPU load' : ''}${options.gsoRuns ? ', GSO runs whole' : ''}; sender linger ${lingerText}; receivers --from ${options.from ?? 'next (default)'}`);

  const tallies: Tally[] = [];
  for (const scenario of scenarios) {
    const tally: Tally = { scenario, results: [] };
    tallies.push(tally);
    for (let run = 1; run <= runs; run++) {
      const result = await scenario.run({ ...options, ...(verbose ? { log: (line: string) => console.error(`    ${line}`) } : {}) });
      tally.results.push(result);
      console.error(`${scenario.name} run ${run}/${runs}: ${result.ok ? 'ok' : 'FAILED'} in ${seconds(result.wallMs)} s; sender exit ${result.senders.map((s) => s.exit).join(',')}${result.ok ? '' : `; ${result.shape}`}`);
      if (!result.ok) console.error(explain(result).split('\n').map((l) => `    ${l}`).join('\n'));
    }
  }

  const rows = tallies.map(({ scenario, results }) => {
    const failed = results.map((r, i) => ({ r, i })).filter(({ r }) => !r.ok);
    return [
      scenario.name,
      String(results.length),
      String(results.filter((r) => r.exact).length),
      String(results.filter((r) => r.ok).length),
      countBy(results.flatMap((r) => r.senders.map((s) => s.exit))),
      `${seconds(median(results.map((r) => r.wallMs)))} / ${seconds(Math.max(...results.map((r) => r.wallMs)))}`,
      failed.length === 0 ? '—' : failed.slice(0, 5).map(({ r, i }) => `#${i + 1}: ${r.firstLoss ?? r.shape}`).join(' · ') + (failed.length > 5 ? ` · (+${failed.length - 5})` : ''),
    ];
  });
  console.log(formatTable(['scenario', 'runs', 'exact runs', 'ok runs', 'sender exit codes seen', 'wall s (median / max)', 'failures: first loss event (or shape)'], rows));
  if (tallies.some((t) => t.results.some((r) => !r.ok))) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error((err as Error).stack ?? String(err));
  process.exitCode = 1;
});
