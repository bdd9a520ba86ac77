/**
 * The package as a user installs it: `npm pack` (prepack builds the prebuilt
 * addon, prepare the JavaScript), then `npm install` of the tarball into a
 * fresh project with no compiler on PATH, no nodedir, an empty HOME, offline
 * from the machine's npm cache. The tarball is packed from a copy of the
 * package's sources in a temp dir, so the checkout's dist/ and build/ are not
 * rewritten while other test files run on them. Channels open on loopback
 * only (interface 127.0.0.1, TTL 0).
 */

import test from 'ava';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
/** Top-level entries of the checkout not needed to pack: the copy packs faster and cannot pick up built files. */
const NOT_COPIED = new Set(['.git', 'node_modules', 'dist', 'build', 'prebuilds', 'test', 'bench', 'examples', 'docs', '.bench-out']);
/** What a compiler-free PATH holds: node, npm, and the sh that npm runs scripts with. */
const TOOLS = ['node', 'npm', 'sh'];

const npm = findOnPath('npm');
const work = mkdtempSync(join(tmpdir(), 'blipcast-pack-'));
/** The machine's npm cache, where `npm ci` left the package's dependencies. */
const npmCache = npm === undefined ? '' : spawnSync(npm, ['config', 'get', 'cache'], { encoding: 'utf8' }).stdout.trim();
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv, timeoutMs: number): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd, env, encoding: 'utf8', timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] });
}

function output(r: SpawnSyncReturns<string>): string {
  return `exit ${String(r.status)}${r.error ? ` (${r.error.message})` : ''}\n${r.stdout}\n${r.stderr}`;
}

/** The environment less anything that points npm or node-gyp at Node's headers, a compiler or the user's npm config. */
function cleanEnv(path: string, home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || /^(CC|CXX|LINK|PYTHON|NODE_GYP_.*|BLIPCAST_.*|NODE_OPTIONS|PREBUILD_.*)$/.test(key)) continue;
    env[key] = value;
  }
  writeFileSync(join(work, 'empty-npmrc'), '');
  Object.assign(env, {
    PATH: path,
    HOME: home,
    npm_config_userconfig: join(work, 'empty-npmrc'),
    npm_config_cache: npmCache,
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    // A header download would have to reach this, and fail at once.
    npm_config_dist_url: 'http://127.0.0.1:9',
    NODEJS_ORG_MIRROR: 'http://127.0.0.1:9',
  });
  return env;
}

/** A PATH of one directory with node, npm and sh, and nothing that compiles. */
function compilerFreePath(): string {
  const bin = join(work, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const tool of TOOLS) {
    const target = tool === 'node' ? process.execPath : findOnPath(tool);
    if (target !== undefined && !existsSync(join(bin, tool))) symlinkSync(target, join(bin, tool));
  }
  return bin;
}

/** Packs a copy of the package; returns the tarball's path and what prebuildify's header cache holds afterwards. */
function pack(): { tarball: string; headerCache: string[]; result: SpawnSyncReturns<string> } {
  const stage = join(work, 'stage');
  mkdirSync(stage);
  for (const entry of readdirSync(ROOT)) {
    if (!NOT_COPIED.has(entry) && !entry.startsWith('build-')) cpSync(join(ROOT, entry), join(stage, entry), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(stage, 'node_modules'));
  const tmp = join(work, 'tmp');
  mkdirSync(tmp);
  // The real PATH (pack needs the compiler), but no nodedir from the user's npm config or the environment.
  const env = { ...cleanEnv(process.env.PATH ?? '', join(work, 'pack-home')), TMPDIR: tmp };
  mkdirSync(join(work, 'pack-home'));
  const result = run(npm!, ['pack', '--pack-destination', work], stage, env, 240_000);
  const name = result.stdout.trim().split('\n').pop() ?? '';
  const cache = join(tmp, 'prebuildify');
  const headerCache = existsSync(cache) ? readdirSync(cache, { recursive: true }).map(String) : [];
  return { tarball: join(work, name), headerCache, result };
}

/** The same tarball without prebuilds/: what a user on a platform with no prebuild gets. */
function withoutPrebuilds(tarball: string): string {
  const out = join(work, 'no-prebuilds.tgz');
  if (existsSync(out)) return out;
  const unpacked = join(work, 'unpacked');
  mkdirSync(unpacked);
  const tar = (args: string[]) => {
    const r = run('tar', args, work, process.env, 30_000);
    if (r.status !== 0) throw new Error(`tar ${args.join(' ')}: ${output(r)}`);
  };
  tar(['-xzf', tarball, '-C', unpacked]);
  rmSync(join(unpacked, 'package', 'prebuilds'), { recursive: true, force: true });
  tar(['-czf', out, '-C', unpacked, 'package']);
  return out;
}

/**
 * Every package the installed tarball needs, transitive ones included, as `name@version` from package-lock.json
 * (its non-dev entries): an offline install resolves each of them from the cache, metadata and tarball.
 */
function productionTree(): string[] {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string; dev?: boolean; link?: boolean }> };
  const out = new Set<string>();
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path === '' || entry.dev === true || entry.link === true || entry.version === undefined) continue;
    out.add(`${path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${entry.version}`);
  }
  return [...out];
}

/** Installs `tarball` into a new project, offline; warms the npm cache online once if the dependencies are not in it. */
function install(name: string, tarball: string, env: NodeJS.ProcessEnv): { project: string; result: SpawnSyncReturns<string>; ms: number } {
  const project = join(work, name);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, private: true }));
  const args = ['install', '--offline', '--foreground-scripts', tarball];
  let started = Date.now();
  let result = run(npm!, args, project, env, 120_000);
  if (result.status !== 0 && /ENOTCACHED/.test(result.stdout + result.stderr)) {
    run(npm!, ['cache', 'add', ...productionTree()], work, { ...process.env, npm_config_cache: env.npm_config_cache }, 120_000);
    started = Date.now();
    result = run(npm!, args, project, env, 120_000);
  }
  return { project, result, ms: Date.now() - started };
}

/** Opens two channels on loopback in `project` and reports their transports and the process's stderr. */
function openChannels(project: string, env: NodeJS.ProcessEnv): { kinds: string[]; stderr: string; result: SpawnSyncReturns<string> } {
  const script = `
    const { open } = require('blipcast');
    (async () => {
      const kinds = [];
      for (let i = 0; i < 2; i++) {
        const port = 20000 + Math.floor(Math.random() * 40000);
        const channel = await open({ group: '239.255.0.1:' + port, interface: '127.0.0.1', ttl: 0 });
        kinds.push(channel.info.transport);
        await channel.close();
      }
      console.log(JSON.stringify({ kinds }));
    })();`;
  const result = run(process.execPath, ['-e', script], project, env, 30_000);
  const last = result.stdout.trim().split('\n').pop() ?? '';
  const kinds = last.startsWith('{') ? (JSON.parse(last) as { kinds: string[] }).kinds : [];
  return { kinds, stderr: result.stderr, result };
}

/** Runs the installed `blipcast dashboard` on loopback in `project`, fetches its page, uPlot and a snapshot, stops it; reports the HTTP statuses. */
function serveDashboardOnce(project: string, env: NodeJS.ProcessEnv): { statuses: Record<string, number>; result: SpawnSyncReturns<string> } {
  const script = `
    const { spawn } = require('node:child_process');
    const bin = require.resolve('blipcast/package.json').replace(/package\\.json$/, 'bin/blipcast.js');
    const port = 20000 + Math.floor(Math.random() * 40000);
    const child = spawn(process.execPath, [bin, 'dashboard', '239.255.0.1:' + port, '--interface', '127.0.0.1', '--ttl', '0', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', async (d) => {
      err += d;
      const m = /dashboard: (\\S+)/.exec(err);
      if (!m) return;
      child.stderr.removeAllListeners('data');
      const statuses = {};
      for (const path of ['', 'app.js', 'vendor/uPlot.iife.min.js', 'snapshot.json']) statuses[path] = (await fetch(m[1] + path)).status;
      child.kill('SIGTERM');
      child.on('close', (code) => {
        console.log(JSON.stringify({ statuses, code }));
        process.exit(code);
      });
    });
    child.on('close', (code) => { if (!/dashboard: /.test(err)) { console.error(err); process.exit(code || 1); } });`;
  const result = run(process.execPath, ['-e', script], project, env, 30_000);
  const last = result.stdout.trim().split('\n').pop() ?? '';
  const statuses = last.startsWith('{') ? (JSON.parse(last) as { statuses: Record<string, number> }).statuses : {};
  return { statuses, result };
}

if (npm === undefined) {
  test.skip('the packed tarball installs without a compiler — skipped: npm is not on PATH, so nothing can be packed or installed.', () => undefined);
} else {
  let packed: ReturnType<typeof pack>;
  let env: NodeJS.ProcessEnv;
  test.before(() => {
    packed = pack();
    mkdirSync(join(work, 'home'));
    env = cleanEnv(compilerFreePath(), join(work, 'home'));
  });
  const toolchain = ['make', 'python3'].every((tool) => findOnPath(tool) !== undefined) && ['c++', 'g++', 'clang++'].some((cxx) => findOnPath(cxx) !== undefined);

  test.serial('npm pack ships a prebuilt addon and no test, fuzz or source-map files, and downloads no headers', (t) => {
    t.is(packed.result.status, 0, output(packed.result));
    const list = run('tar', ['-tzf', packed.tarball], work, process.env, 30_000).stdout.split('\n').filter(Boolean);
    t.true(list.some((file) => /^package\/prebuilds\/linux-x64\/blipcast\..*\.node$/.test(file)), list.join('\n'));
    t.true(list.includes('package/scripts/install.js'));
    for (const file of ['index.html', 'app.js', 'charts.js', 'tables.js', 'style.css']) t.true(list.includes(`package/src/observe/web/${file}`), `the dashboard's ${file}`);
    const unwanted = list.filter((file) => /\/(test|bench|fuzz)\/|test_header\.cc$|CMakeLists\.txt$|\.map$|\.ts$(?<!\.d\.ts)/.test(file));
    t.deepEqual(unwanted, []);
    t.deepEqual(packed.headerCache, [], 'prebuildify\'s node-gyp header cache (--devdir) stays empty');
    t.log(`${list.length} files in ${packed.tarball}`);
  });

  test.serial('installed without a compiler, nodedir or network, the package opens channels on the prebuilt native addon', (t) => {
    t.deepEqual(readdirSync(env.PATH!).sort(), [...TOOLS].sort(), 'PATH holds no make, compiler or python');
    const { project, result, ms } = install('with-prebuild', packed.tarball, env);
    t.is(result.status, 0, output(result));
    t.log(`install: ${ms} ms`);
    t.false(existsSync(join(project, 'node_modules', 'blipcast', 'build')), 'nothing was compiled');
    const opened = openChannels(project, env);
    t.is(opened.result.status, 0, output(opened.result));
    t.deepEqual(opened.kinds, ['native', 'native']);
    t.notRegex(opened.stderr, /Warning/);
    t.deepEqual(readdirSync(join(work, 'home')), [], 'nothing was written to HOME (no node-gyp header cache)');
    const served = serveDashboardOnce(project, env);
    t.is(served.result.status, 0, output(served.result));
    t.deepEqual(served.statuses, { '': 200, 'app.js': 200, 'vendor/uPlot.iife.min.js': 200, 'snapshot.json': 200 }, 'the dashboard serves its page and uPlot from the installed package');
  });

  test.serial('without a fitting prebuild and without a compiler, the install exits 0 and channels run on dgram with one warning', (t) => {
    const { project, result } = install('without-prebuild', withoutPrebuilds(packed.tarball), env);
    t.is(result.status, 0, output(result));
    t.regex(result.stdout + result.stderr, /blipcast will run on node:dgram/);
    const opened = openChannels(project, env);
    t.is(opened.result.status, 0, output(opened.result));
    t.deepEqual(opened.kinds, ['dgram', 'dgram']);
    const warnings = opened.stderr.split('\n').filter((line) => line.includes('Warning:'));
    t.is(warnings.length, 1, opened.stderr);
    t.regex(warnings[0]!, /BLIPCAST_NATIVE_UNAVAILABLE.*using node:dgram.*npm rebuild blipcast/);
  });

  test.serial('without a fitting prebuild but with a compiler, the install builds the addon from source against the local Node headers, offline', (t) => {
    if (!toolchain) {
      if (process.env.CI) {
        t.fail('make, a C++ compiler and python3 must be on PATH under CI (.ci/run installs them).');
      } else {
        t.log('skipped: make, a C++ compiler or python3 is not on PATH, so there is nothing to build with.');
        t.pass();
      }
      return;
    }
    const home = join(work, 'home-toolchain');
    mkdirSync(home);
    const devdir = join(work, 'devdir');
    mkdirSync(devdir);
    const withCompiler = { ...cleanEnv(process.env.PATH ?? '', home), npm_config_devdir: devdir };
    const { project, result, ms } = install('from-source', withoutPrebuilds(packed.tarball), withCompiler);
    t.is(result.status, 0, output(result));
    t.log(`install with a source build: ${ms} ms`);
    t.true(existsSync(join(project, 'node_modules', 'blipcast', 'build', 'Release', 'blipcast.node')));
    t.deepEqual(readdirSync(devdir), [], 'node-gyp\'s header cache (--devdir) stays empty: no download');
    t.deepEqual(readdirSync(home), [], 'nothing was written to HOME');
    const opened = openChannels(project, withCompiler);
    t.is(opened.result.status, 0, output(opened.result));
    t.deepEqual(opened.kinds, ['native', 'native']);
  });
}
