/**
 * `blipcast doctor` on network-namespace hosts (test/lab/doctor-scenario.ts):
 * a healthy host passes, a host with multicast off on eth0 and one with an
 * nftables drop rule for the port fail with the right explanation, and two
 * hosts probing at once see each other. Each case runs in a lab of its own.
 *
 * Repeats: BLIPCAST_DOCTOR_LAB_RUNS=20 runs each case 20 times in a row (a
 * fresh lab every run); BLIPCAST_DOCTOR_LAB_LOAD=1 puts the machine under CPU
 * load (test/lab/cpu-load.ts: a busy loop per CPU and allocating churn) for
 * the whole series. Without root the tests skip (fail under CI).
 */

import { labTest } from './lab/availability';
import { withCpuLoad } from './lab/cpu-load';
import { DOCTOR_CASES, runDoctorCase } from './lab/doctor-scenario';

const RUNS = Number(process.env['BLIPCAST_DOCTOR_LAB_RUNS'] ?? '1');
const LOAD = process.env['BLIPCAST_DOCTOR_LAB_LOAD'] === '1';
/** One run: lab setup, one or two doctors (about 1 s each, 4.5 s with a 2 s probe), teardown; generous under load. */
const RUN_BUDGET_MS = 30_000;

if (!Number.isInteger(RUNS) || RUNS < 1) throw new RangeError(`BLIPCAST_DOCTOR_LAB_RUNS must be a whole number ≥ 1, got ${process.env['BLIPCAST_DOCTOR_LAB_RUNS']}`);

for (const c of DOCTOR_CASES) {
  labTest.serial(`${c.title}${RUNS > 1 ? ` (${RUNS} runs${LOAD ? ', under CPU load' : ''})` : LOAD ? ' (under CPU load)' : ''}`, async (t) => {
    t.timeout(RUNS * RUN_BUDGET_MS + 30_000);
    const series = async (): Promise<string[][]> => {
      const results: string[][] = [];
      for (let i = 0; i < RUNS; i++) {
        const failures = await runDoctorCase(c, (line) => {
          if (i === 0 || RUNS <= 3) t.log(line);
        });
        if (failures.length > 0) t.log(`run ${i + 1}: ${failures.join('\n')}`);
        results.push(failures);
      }
      return results;
    };
    const results = LOAD ? (await withCpuLoad({ maxMs: RUNS * RUN_BUDGET_MS + 30_000 }, series)).result : await series();
    const failed = results.filter((f) => f.length > 0).length;
    t.log(`${c.name}: ${RUNS - failed}/${RUNS} runs ok${LOAD ? ' under CPU load' : ''}`);
    t.is(failed, 0, results.flat().join('\n'));
  });
}
