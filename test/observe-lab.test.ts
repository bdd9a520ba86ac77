/**
 * Issue 15, `blipcast top` with real processes on lab hosts: each scenario of
 * OBSERVE_SCENARIOS (test/lab/top-scenario.ts) once. bench/lab-scenarios.ts
 * runs them many times in a row:
 * `node dist/bench/lab-scenarios.js --scenario top-finds-lossy --runs 20`.
 */

import { labTest } from './lab/availability';
import { explain } from './lab/scenarios';
import { OBSERVE_SCENARIOS } from './lab/scenarios';

for (const scenario of OBSERVE_SCENARIOS) {
  labTest.serial(scenario.title, async (t) => {
    t.timeout(scenario.budgetMs + 30_000);
    const result = await scenario.run({ log: (line) => t.log(line) });
    t.log(`${scenario.name}: ${result.ok ? 'ok' : 'FAILED'} in ${(result.wallMs / 1000).toFixed(1)} s`);
    t.true(result.ok, `${scenario.name} failed:\n${explain(result)}`);
  });
}
