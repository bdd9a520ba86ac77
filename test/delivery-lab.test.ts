/**
 * Issue 10, "nothing lost for a live receiver", with real processes on lab
 * hosts: each scenario of test/lab/scenarios.ts once. A receiver must print
 * every line of every sender, in order, once, with no loss report, and each
 * sender must exit 0 exactly when that happened (3 when it gave up on a
 * receiver). bench/lab-scenarios.ts runs the same scenarios many times in a
 * row: `node dist/bench/lab-scenarios.js --scenario all --runs 20`.
 */

import { labTest } from './lab/availability';
import { DELIVERY_SCENARIOS } from './lab/scenarios';

for (const scenario of DELIVERY_SCENARIOS) {
  labTest.serial(scenario.title, async (t) => {
    t.timeout(scenario.budgetMs + 30_000);
    const result = await scenario.run({ log: (line) => t.log(line) });
    t.log(`${scenario.name}: ${result.ok ? 'ok' : 'FAILED'} in ${(result.wallMs / 1000).toFixed(1)} s`);
    t.true(result.ok, `${scenario.name} failed:\n${result.failures.join('\n')}`);
  });
}
