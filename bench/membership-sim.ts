/**
 * Runs the group membership (src/group) on the simulated network of
 * blipcast/sim (runMembershipScenario, src/sim/membership-scenario.ts) and prints convergence time, failure-detection time,
 * false positives and control traffic per member. Virtual time: the numbers
 * do not depend on the machine, only on the seed.
 *
 *   node dist/bench/membership-sim.js --members 100 --loss 0.1
 *   node dist/bench/membership-sim.js --members 50 --partition 20:40 --duration 90
 *
 * --members N      group size (default 50)
 * --loss P         per-delivery loss probability (default 0)
 * --kill K         members killed (kill -9, no leave) once converged (default 1)
 * --partition A:B  split the group in two halves from A s to B s after convergence
 * --duration S     virtual seconds to run after convergence (default 60)
 * --join-ms MS     spread of the joins (default 1000)
 * --seed N         (default 1)
 * --json           one JSON object instead of the table: { members, loss,
 *                  convergenceMs, detectionMs, boundMs, falseDeaths,
 *                  suspicions, bytesSentPerMemberPerSec,
 *                  bytesReceivedPerMemberPerSec } (convergenceMs /
 *                  detectionMs null when it did not happen; detectionMs is
 *                  the slowest victim's kill → dead at every live member;
 *                  with --partition also partition: { crossSideDeaths,
 *                  reunitedMs })
 */

import { parseArgs } from 'node:util';
import { formatMembershipScenario, runMembershipScenario } from '../src/sim';

const { values } = parseArgs({
  options: {
    members: { type: 'string', default: '50' },
    loss: { type: 'string', default: '0' },
    kill: { type: 'string', default: '1' },
    partition: { type: 'string' },
    duration: { type: 'string', default: '60' },
    'join-ms': { type: 'string', default: '1000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
});

const partition = values.partition?.split(':').map((x) => Number(x) * 1000);
const result = runMembershipScenario({
  members: Number(values.members),
  loss: Number(values.loss),
  kill: Number(values.kill),
  durationMs: Number(values.duration) * 1000,
  joinSpreadMs: Number(values['join-ms']),
  seed: Number(values.seed),
  ...(partition ? { partition: { fromMs: partition[0]!, toMs: partition[1]! } } : {}),
});
console.log(values.json === true ? JSON.stringify(result.report) : formatMembershipScenario(result));
