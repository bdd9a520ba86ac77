/**
 * `node dist/bench/membership-sim.js --json` (issue 17, item 4): one JSON
 * object a script can read, with the fields the membership table reports.
 */

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

const SIM = join(__dirname, '..', 'bench', 'membership-sim.js');

test('membership-sim --json prints one object: convergence, detection within its bound, no false death, traffic per member', (t) => {
  const r = spawnSync(process.execPath, [SIM, '--members', '20', '--loss', '0.1', '--duration', '30', '--json'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  t.is(lines.length, 1);
  const o = JSON.parse(lines[0]!) as Record<string, number | null>;
  t.deepEqual(Object.keys(o), ['members', 'loss', 'convergenceMs', 'detectionMs', 'boundMs', 'falseDeaths', 'suspicions', 'bytesSentPerMemberPerSec', 'bytesReceivedPerMemberPerSec']);
  t.is(o.members, 20);
  t.is(o.loss, 0.1);
  t.true(typeof o.convergenceMs === 'number' && o.convergenceMs >= 0);
  t.true(typeof o.detectionMs === 'number' && o.detectionMs > 0 && o.detectionMs <= o.boundMs!, `detected in ${o.detectionMs} ms, bound ${o.boundMs}`);
  t.is(o.falseDeaths, 0);
  t.true(o.bytesSentPerMemberPerSec! > 0 && o.bytesReceivedPerMemberPerSec! > o.bytesSentPerMemberPerSec!);
});

test('membership-sim --json --partition adds the partition: no cross-side death left, reunited after the heal', (t) => {
  const r = spawnSync(process.execPath, [SIM, '--members', '10', '--partition', '5:15', '--duration', '40', '--kill', '0', '--json'], { encoding: 'utf8', timeout: 60_000 });
  t.is(r.status, 0, r.stderr);
  const o = JSON.parse(r.stdout) as { detectionMs: number | null; partition: { crossSideDeaths: number; reunitedMs: number | null } };
  t.is(o.detectionMs, null, 'nobody was killed');
  t.true(o.partition.reunitedMs !== null, JSON.stringify(o.partition));
});
