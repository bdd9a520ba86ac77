/**
 * Issue 14, the replicated map with real processes on lab hosts: each
 * scenario of STATE_SCENARIOS (test/lab/state-scenario.ts) once. Two
 * `blipcast state --dump` at 10 % loss must print exactly the 20,000 entries
 * another host loaded, with the 1,000 updates a third host wrote as they
 * synced (state-sync) or just before they started (state-sync-after-update).
 * bench/lab-scenarios.ts runs them many times in a row:
 * `node dist/bench/lab-scenarios.js --scenario state-sync,state-sync-after-update --runs 20`.
 */

import { labTest } from './lab/availability';
import { STATE_SCENARIOS } from './lab/scenarios';

for (const scenario of STATE_SCENARIOS) {
  labTest.serial(scenario.title, async (t) => {
    t.timeout(scenario.budgetMs + 30_000);
    const result = await scenario.run({ log: (line) => t.log(line) });
    t.log(`${scenario.name}: ${result.ok ? 'ok' : 'FAILED'} in ${(result.wallMs / 1000).toFixed(1)} s`);
    t.true(result.ok, `${scenario.name} failed:\n${result.failures.join('\n')}`);
  });
}
