/**
 * Issue 13, the service bus with real processes on lab hosts: each scenario
 * of BUS_SCENARIOS (test/lab/bus-scenario.ts) once. `submit` must print one
 * right result per task although a worker was killed and another stopped
 * past its lease; `request --gather` must name the server stopped while it
 * handled the gather; a request must be answered although the server it
 * asked was killed. bench/lab-scenarios.ts runs them many times in a row:
 * `node dist/bench/lab-scenarios.js --scenario bus-tasks,bus-gather,bus-request --runs 20`.
 */

import { labTest } from './lab/availability';
import { BUS_SCENARIOS } from './lab/scenarios';

for (const scenario of BUS_SCENARIOS) {
  labTest.serial(scenario.title, async (t) => {
    t.timeout(scenario.budgetMs + 30_000);
    const result = await scenario.run({ log: (line) => t.log(line) });
    t.log(`${scenario.name}: ${result.ok ? 'ok' : 'FAILED'} in ${(result.wallMs / 1000).toFixed(1)} s`);
    t.true(result.ok, `${scenario.name} failed:\n${result.failures.join('\n')}`);
  });
}
