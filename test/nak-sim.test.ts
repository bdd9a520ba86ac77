/**
 * bench/nak-sim.ts at a size CI can afford (issue 17, item 2; the recorded
 * run at 1000 receivers is in bench/RESULTS.md): shared loss costs at most two
 * NAKs per lost datagram, independent loss about one repair per datagram some
 * receiver lost, every receiver estimates the group within 2× and gets
 * everything.
 */

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const SIM = join(__dirname, '..', 'bench', 'nak-sim.js');

interface CaseResult {
  case: string;
  lostDatagrams: number;
  naksPerLoss: number;
  repairsPerOriginal: number;
  naksPerRepair: number;
  groupSize: { min: number; median: number; max: number };
  allDelivered: boolean;
}

test('nak-sim --json with 50 receivers: NAKs per loss, repairs, group size, everything delivered', (t) => {
  const r = spawnSync(process.execPath, [SIM, '--receivers', '50', '--messages', '1000', '--json'], { encoding: 'utf8', timeout: 120_000 });
  t.is(r.status, 0, r.stderr);
  const [shared, independent] = JSON.parse(r.stdout) as CaseResult[];
  t.log(r.stdout);
  for (const c of [shared!, independent!]) {
    t.true(c.allDelivered, `${c.case}: not everything delivered`);
    t.true(c.lostDatagrams > 0, `${c.case}: nothing was lost`);
    t.true(c.groupSize.min >= 25 && c.groupSize.max <= 100, `${c.case}: group size ${JSON.stringify(c.groupSize)} for 50`);
  }
  t.true(shared!.naksPerLoss <= 2, `shared loss: ${shared!.naksPerLoss} NAKs per lost datagram`);
  t.true(independent!.naksPerRepair <= 2, `independent loss: ${independent!.naksPerRepair} NAKs per repair`);
  t.true(independent!.repairsPerOriginal <= 1.5, `independent loss: ${independent!.repairsPerOriginal} repairs per original datagram`);
});
