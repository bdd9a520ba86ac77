/**
 * Runs one compiled AVA test file N times in a row, optionally with the
 * machine under CPU load (test/lab/cpu-load.ts), and prints a line per run
 * and the count that passed: the "20 runs quiet, 20 under load" series for
 * tests that are not lab scenarios (bench/lab-scenarios.ts runs those).
 *
 *   node dist/bench/repeat-test.js --file dist/test/dashboard-browser.test.js --runs 20 [--load] [--match REGEX]
 *
 * `--match REGEX` also prints, per run, the first line of the test's verbose
 * output that matches (e.g. a measured time the test logs).
 */

import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CpuLoad } from '../test/lab/cpu-load';

const ROOT = join(__dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { file: { type: 'string' }, runs: { type: 'string', default: '20' }, load: { type: 'boolean', default: false }, match: { type: 'string' } } });
  if (values.file === undefined) throw new Error('--file PATH (a compiled test file, e.g. dist/test/dashboard-browser.test.js) is required');
  const runs = Number(values.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs must be a whole number ≥ 1, got ${values.runs}`);
  const match = values.match === undefined ? undefined : new RegExp(values.match);
  const load = values.load ? CpuLoad.start({}) : undefined;
  let passed = 0;
  try {
    for (let i = 1; i <= runs; i++) {
      const r = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'ava', 'entrypoints', 'cli.mjs'), values.file, '--verbose'], { cwd: ROOT, encoding: 'utf8' });
      const ok = r.status === 0;
      if (ok) passed++;
      const seen = match === undefined ? '' : ` ${(r.stdout.split('\n').find((l) => match.test(l)) ?? '').trim()}`;
      console.log(`run ${i}/${runs}: ${ok ? 'ok' : 'FAILED'}${seen}`);
      if (!ok) console.log(r.stdout.slice(-3000) + r.stderr.slice(-1000));
    }
  } finally {
    const report = load ? await load.stop() : undefined;
    console.log(`${passed}/${runs} passed${report ? `; under CPU load, machine busy ${(report.machineBusy * 100).toFixed(0)} %` : ''}`);
  }
  process.exitCode = passed === runs ? 0 : 1;
}

void main();
