/**
 * Every program in examples/ runs as the README says (`node dist/examples/NAME.js`)
 * on loopback and exits 0: the examples are part of the documentation.
 */

import test from 'ava';
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const DIR = join(__dirname, '..', 'examples');
const EXAMPLES = readdirSync(DIR).filter((f) => f.endsWith('.js'));

test('there are examples to run', (t) => {
  t.true(EXAMPLES.includes('hello.js') && EXAMPLES.includes('logging.js') && EXAMPLES.includes('metrics.js') && EXAMPLES.includes('bus.js') && EXAMPLES.includes('sessions.js'), EXAMPLES.join(', '));
});

// hello.js runs in test/cli.test.ts, where its output is checked line by line.
for (const file of EXAMPLES.filter((f) => f !== 'hello.js')) {
  test(`examples/${file.replace(/\.js$/, '.ts')} runs and exits 0`, async (t) => {
    const child = spawn(process.execPath, [join(DIR, file)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    const code = await new Promise<number | null>((resolve) => child.once('close', (c) => resolve(c)));
    clearTimeout(timer);
    t.log(out.split('\n').slice(0, 6).join('\n'));
    t.is(code, 0, out);
  });
}
