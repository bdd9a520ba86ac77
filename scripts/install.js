#!/usr/bin/env node
'use strict';
/**
 * The package's install step ("install" in package.json). For a user of the
 * package it never fails:
 *   1. a prebuilt addon (prebuilds/<platform>-<arch>/) or an earlier build in
 *      build/Release loads → done, nothing is compiled (the usual case);
 *   2. else, with make, a C++ compiler, python3 and Node's own headers next to
 *      the running node (<prefix>/include/node), node-gyp builds from source,
 *      offline;
 *   3. else, or when that build fails, one short note and exit 0: blipcast
 *      then runs on node:dgram and says so once at first use.
 * In a checkout of the repository (it has test/, which the package never
 * ships) it always builds from source and a failure fails the install, so
 * that the tests never run on a stale addon or quietly on node:dgram.
 * `npm install --build-from-source` (or BLIPCAST_BUILD_FROM_SOURCE=1) skips
 * step 1, and a failed build then fails the install too.
 *
 * Plain JavaScript on purpose: it runs before anything is compiled, and needs
 * nothing but node-gyp-build (a dependency) and the node-gyp that npm bundles.
 */

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const IS_CHECKOUT = fs.existsSync(path.join(ROOT, 'test'));
const FORCED = isForced();
const HOW_TO_GET_NATIVE = 'install make, a C++17 compiler and python3, then run `npm rebuild blipcast`';

function main() {
  if (!IS_CHECKOUT && !FORCED) {
    const loaded = loadExisting();
    if (loaded) return 0;
  }

  const missing = missingTools();
  const nodedir = nodedirArgs();
  if (missing.length > 0 || nodedir === undefined) {
    const what = missing.length > 0 ? `no ${missing.join(', ')} on PATH` : 'no Node headers next to node (<prefix>/include/node) and npm_config_nodedir is not set';
    return giveUp(`cannot build the native addon from source: ${what}`);
  }

  const nodeGyp = nodeGypCommand();
  if (nodeGyp === undefined) return giveUp('cannot build the native addon from source: node-gyp not found (npm bundles it; run the install through npm)');
  const result = spawnSync(process.execPath, [nodeGyp, 'rebuild', ...nodedir], { cwd: ROOT, stdio: 'inherit' });
  if (result.status === 0 && loadExisting()) return 0;
  if (!IS_CHECKOUT) fs.rmSync(path.join(ROOT, 'build'), { recursive: true, force: true });
  return giveUp(`the source build of the native addon failed (${result.error ? result.error.message : `node-gyp exit ${result.status ?? result.signal}`})`);
}

/** Whether the addon node-gyp-build would pick (build/Release, then a fitting prebuild) loads here. */
function loadExisting() {
  try {
    const file = require('node-gyp-build').path(ROOT);
    require(file);
    return true;
  } catch {
    return false;
  }
}

/** make, a C++ compiler and python3, as node-gyp looks for them; [] when all are there. */
function missingTools() {
  const missing = [];
  if (!onPath('make')) missing.push('make');
  const cxx = process.env.CXX;
  if (!(cxx ? onPath(cxx.split(' ')[0]) : ['c++', 'g++', 'clang++'].some(onPath))) missing.push('C++ compiler');
  const python = process.env.npm_config_python || process.env.PYTHON;
  if (!(python ? onPath(python) : onPath('python3'))) missing.push('python3');
  return missing;
}

function onPath(name) {
  if (name.includes(path.sep)) return isExecutable(name);
  return (process.env.PATH || '').split(path.delimiter).some((dir) => dir !== '' && isExecutable(path.join(dir, name)));
}

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/**
 * node-gyp's arguments for Node's headers, so that nothing is downloaded:
 * none when the user set npm_config_nodedir (node-gyp reads it), else
 * `--nodedir=<prefix>` of the running node when its include/node holds what
 * the addon includes (node_api.h, uv.h, openssl/evp.h) and common.gypi, which
 * node-gyp needs. Node-API headers alone (node-api-headers) are not enough:
 * the addon drives uv_poll and calls the OpenSSL inside node. undefined: no
 * headers here; in a checkout node-gyp's default (its header cache, filled by
 * a download) is then the last resort.
 */
function nodedirArgs() {
  if (process.env.npm_config_nodedir) return [];
  const prefix = path.resolve(path.dirname(process.execPath), '..');
  const include = path.join(prefix, 'include', 'node');
  const needed = ['node_api.h', 'uv.h', path.join('openssl', 'evp.h'), 'common.gypi'];
  if (needed.every((file) => fs.existsSync(path.join(include, file)))) return [`--nodedir=${prefix}`];
  return IS_CHECKOUT ? [] : undefined;
}

/** node-gyp's script, run with this node: npm's bundled one (npm sets npm_config_node_gyp for scripts), else the one next to npm. */
function nodeGypCommand() {
  const candidates = [
    process.env.npm_config_node_gyp,
    path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  return candidates.find((file) => file && fs.existsSync(file));
}

function isForced() {
  const flag = process.env.npm_config_build_from_source;
  return process.env.BLIPCAST_BUILD_FROM_SOURCE === '1' || flag === 'true' || flag === 'blipcast';
}

/** A package install ends here with exit 0 (node:dgram at run time); a checkout or a forced build fails. */
function giveUp(reason) {
  if (IS_CHECKOUT || FORCED) {
    process.stderr.write(`blipcast: ${reason}.\n` +
      (IS_CHECKOUT ? 'blipcast: this checkout needs the addon (its tests run on it): on Debian, apt-get install build-essential python3.\n' : ''));
    return 1;
  }
  process.stderr.write(`blipcast: no prebuilt addon for ${process.platform}-${process.arch} and ${reason}; blipcast will run on node:dgram (to get the native transport: ${HOW_TO_GET_NATIVE}).\n`);
  return 0;
}

process.exitCode = main();
