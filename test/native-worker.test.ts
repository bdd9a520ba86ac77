/**
 * The native transport in worker threads (pino runs its transports in one):
 * a worker terminated, or the process exited from the main thread, while the
 * worker is inside a native callback (the close callback, a receive batch)
 * or has sockets open must end the way the main thread chose, never abort.
 * Before the fix, node-addon-api's error path aborted inside the close
 * callback (FATAL ERROR: napi_define_properties), and libuv called the
 * socket's close callback after the addon was unloaded (SIGSEGV).
 */

import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadNative } from '../src/internal';

const FIXTURE = join(__dirname, 'fixtures', 'worker-terminate.js');
const native = loadNative() !== undefined;

for (const phase of ['close', 'receive'] as const) {
  for (const how of ['exit', 'terminate'] as const) {
    (native ? test : test.skip)(`a worker ${how === 'exit' ? 'ended by process.exit()' : 'terminated'} inside a native ${phase} callback ends cleanly`, (t) => {
      for (let run = 0; run < 3; run++) {
        const r = spawnSync(process.execPath, [FIXTURE, phase, how], { encoding: 'utf8', timeout: 30_000 });
        t.is(r.signal, null, `run ${run}: killed by ${r.signal}; stderr: ${r.stderr.slice(0, 400)}`);
        t.is(r.status, 0, `run ${run}: exit ${r.status}; stderr: ${r.stderr.slice(0, 400)}`);
      }
    });
  }
}
