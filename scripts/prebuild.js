#!/usr/bin/env node
'use strict';
/**
 * Builds the prebuilt addon that the package ships: prebuildify, Node-API
 * (one build for every Node >= 20 on this platform and arch), stripped, tagged
 * with the libc so that a glibc build is never picked on musl. Output:
 * prebuilds/<platform>-<arch>/blipcast.napi.<libc>.node. Runs as `prepack`, so
 * `npm pack` and `npm publish` ship it; prebuilds/ is not in git. Prebuilds for
 * other platforms are built there and copied into prebuilds/ before packing.
 *
 * Compiles against the running node's own headers (--nodedir, like
 * scripts/install.js), so nothing is downloaded. prebuildify moves the
 * addon out of build/Release; it is copied back so that the checkout keeps
 * loading the build it tests.
 */

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const env = { ...process.env };
if (!env.npm_config_nodedir) {
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  if (fs.existsSync(path.join(prefix, 'include', 'node', 'common.gypi'))) env.npm_config_nodedir = prefix;
}

const prebuildify = require.resolve('prebuildify/bin.js', { paths: [ROOT] });
const result = spawnSync(process.execPath, [prebuildify, '--napi', '--strip', '--tag-libc'], { cwd: ROOT, env, stdio: 'inherit' });
if (result.status !== 0) {
  process.stderr.write(`prebuild: prebuildify failed (${result.error ? result.error.message : `exit ${result.status ?? result.signal}`})\n`);
  process.exit(1);
}

const dir = path.join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
const built = fs.readdirSync(dir).filter((name) => name.endsWith('.node'));
fs.mkdirSync(path.join(ROOT, 'build', 'Release'), { recursive: true });
fs.copyFileSync(path.join(dir, built[0]), path.join(ROOT, 'build', 'Release', 'blipcast.node'));
process.stdout.write(`prebuild: ${path.relative(ROOT, path.join(dir, built[0]))} (${fs.statSync(path.join(dir, built[0])).size} bytes)\n`);
