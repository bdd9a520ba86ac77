import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { loadNative } from '../src/addon/addon';
import { createDgramTransport } from '../src/transport/dgram';
import { createNativeTransport } from '../src/transport/native';
import { transportSuite } from './transport.suite';

transportSuite('dgram', createDgramTransport);

const native = loadNative();
if (native.addon) {
  transportSuite('native', createNativeTransport);
} else if (process.env.CI) {
  test('native: the addon loads (required when CI is set)', (t) => {
    t.fail(`native addon did not load: ${native.error.message}`);
  });
} else {
  test.skip(`native: transport suite — skipped: the native addon did not load (${native.error.message}); build it with 'npm run build:native', which needs a C++17 compiler and Python for node-gyp.`, () => undefined);
}

// ---- choosing a transport: each case in a fresh process, since the addon load and the warning happen once per process

const INDEX = join(__dirname, '..', 'src', 'transport', 'index.js');

interface ChildResult {
  kinds: string[];
  warnings: Array<{ code: string; message: string }>;
  error?: { name: string; code: string; message: string };
}

/** Runs createTransport() `opens` times in a child with `env` (loopback only) and reports the kinds and warnings. */
function choose(env: Record<string, string>, kind: string | undefined, opens = 2): Promise<ChildResult> {
  const script = `
    const { createTransport } = require(${JSON.stringify(INDEX)});
    const warnings = [];
    process.on('warning', (w) => warnings.push({ code: w.code, message: w.message }));
    (async () => {
      const kinds = [];
      try {
        for (let i = 0; i < ${opens}; i++) {
          const port = 20000 + Math.floor(Math.random() * 40000);
          const t = await createTransport({ ${kind === undefined ? '' : `kind: ${JSON.stringify(kind)}, `}group: '239.255.3.' + (1 + i), port, interface: '127.0.0.1', ttl: 0 });
          kinds.push(t.kind);
          await t.close();
        }
        setImmediate(() => console.log(JSON.stringify({ kinds, warnings })));
      } catch (e) {
        setImmediate(() => console.log(JSON.stringify({ kinds, warnings, error: { name: e.name, code: e.code, message: e.message } })));
      }
    })();`;
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  delete childEnv.BLIPCAST_TRANSPORT;
  delete childEnv.BLIPCAST_NATIVE_PATH;
  Object.assign(childEnv, env);
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['-e', script], { env: childEnv, timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`child failed: ${err.message}\n${stderr}`));
      resolve(JSON.parse(stdout.trim().split('\n').pop()!) as ChildResult);
    });
  });
}

const MISSING_ADDON = { BLIPCAST_NATIVE_PATH: '/nonexistent/blipcast-test.node' };

test('auto falls back to dgram when the addon cannot load, warning once with the reason', async (t) => {
  const result = await choose(MISSING_ADDON, undefined, 3);
  t.deepEqual(result.kinds, ['dgram', 'dgram', 'dgram']);
  const ours = result.warnings.filter((w) => w.code === 'BLIPCAST_NATIVE_UNAVAILABLE');
  t.is(ours.length, 1);
  t.regex(ours[0]!.message, /nonexistent/);
});

test('asking for native when the addon cannot load throws TransportUnavailableError', async (t) => {
  const result = await choose(MISSING_ADDON, 'native');
  t.is(result.error?.name, 'TransportUnavailableError');
  t.is(result.error?.code, 'BLIPCAST_ERR_TRANSPORT_UNAVAILABLE');
  t.deepEqual(result.kinds, []);
});

test('BLIPCAST_TRANSPORT=native with auto throws TransportUnavailableError when the addon cannot load', async (t) => {
  const result = await choose({ ...MISSING_ADDON, BLIPCAST_TRANSPORT: 'native' }, undefined);
  t.is(result.error?.code, 'BLIPCAST_ERR_TRANSPORT_UNAVAILABLE');
});

test('BLIPCAST_TRANSPORT=dgram forces dgram without a warning', async (t) => {
  const result = await choose({ BLIPCAST_TRANSPORT: 'dgram' }, undefined);
  t.deepEqual(result.kinds, ['dgram', 'dgram']);
  t.deepEqual(result.warnings.filter((w) => w.code === 'BLIPCAST_NATIVE_UNAVAILABLE'), []);
});

test('an explicit kind wins over BLIPCAST_TRANSPORT', async (t) => {
  const result = await choose({ BLIPCAST_TRANSPORT: 'native', ...MISSING_ADDON }, 'dgram');
  t.deepEqual(result.kinds, ['dgram', 'dgram']);
});

test('an unknown BLIPCAST_TRANSPORT value is rejected', async (t) => {
  const result = await choose({ BLIPCAST_TRANSPORT: 'carrier-pigeon' }, undefined);
  t.is(result.error?.code, 'BLIPCAST_ERR_INVALID_ARG_VALUE');
  t.regex(result.error!.message, /BLIPCAST_TRANSPORT/);
});

test('the memory kind is rejected by createTransport (it needs a MemoryNetwork)', async (t) => {
  const result = await choose({}, 'memory');
  t.is(result.error?.code, 'BLIPCAST_ERR_INVALID_ARG_VALUE');
});

if (native.addon) {
  test('auto opens the native transport when the addon loads, without a warning', async (t) => {
    const result = await choose({}, undefined);
    t.deepEqual(result.kinds, ['native', 'native']);
    t.deepEqual(result.warnings, []);
  });
}
