/**
 * Every ```ts / ```js block of README.md, docs/api.md and the apps' pages
 * (docs/logging.md, docs/logging-senders.md, docs/metrics.md, docs/bus.md, docs/state.md), and docs/simulator.md runs as pasted: each
 * is written to a temporary directory where `blipcast` resolves to this
 * repository (node_modules/blipcast → the repo), TypeScript is transpiled with
 * `transpileModule`, and the result runs as an ES module in its own Node
 * process that must exit 0 within the timeout.
 *
 * A block that is not a program (a type, the shape of an object) is marked on
 * the line before its fence with `<!-- snippet: fragment: why -->`; the counts
 * below make every new fragment a decision. Before anything runs, a block must
 * name loopback (`interface: '127.0.0.1'` and `ttl: 0`) or use the memory
 * transport (`blipcast/sim` opens nothing else): no snippet sends out of a real interface.
 */

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';

const ROOT = join(__dirname, '..', '..');
const FILES = ['README.md', 'docs/api.md', 'docs/logging.md', 'docs/logging-senders.md', 'docs/metrics.md', 'docs/bus.md', 'docs/state.md', 'docs/observe.md', 'docs/doctor.md', 'docs/simulator.md'] as const;
/** Packages besides blipcast that snippets import (devDependencies or dependencies of this repository). */
const SNIPPET_PACKAGES = ['pino', 'winston', 'prom-client'];
/** What each file holds; update when a block is added, removed or marked. */
const EXPECTED: Record<(typeof FILES)[number], { run: number; fragment: number; other: number }> = {
  'README.md': { run: 10, fragment: 0, other: 9 },
  'docs/api.md': { run: 9, fragment: 2, other: 0 },
  'docs/logging.md': { run: 1, fragment: 0, other: 8 },
  'docs/logging-senders.md': { run: 2, fragment: 2, other: 1 },
  'docs/metrics.md': { run: 1, fragment: 0, other: 4 },
  'docs/bus.md': { run: 1, fragment: 3, other: 1 },
  'docs/state.md': { run: 1, fragment: 0, other: 1 },
  'docs/observe.md': { run: 1, fragment: 0, other: 4 },
  'docs/doctor.md': { run: 0, fragment: 0, other: 8 },
  'docs/simulator.md': { run: 2, fragment: 0, other: 1 },
};
/** Generous: the lab tests that load the machine on purpose (busy loops, process churn) run beside this file. */
const SNIPPET_TIMEOUT_MS = 60_000;
const CODE_LANGUAGES = new Set(['ts', 'js']);
const OTHER_LANGUAGES = new Set(['sh', 'text', 'json']);
const FRAGMENT = /^<!-- snippet: fragment: (\S.*\S) -->$/;

interface Block {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  language: string;
  code: string;
  /** The reason given by a fragment marker. */
  fragment?: string;
}

function blocks(file: string): Block[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(.*)$/.exec(lines[i]!);
    if (!open) continue;
    const start = i;
    let end = i + 1;
    while (end < lines.length && lines[end] !== '```') end++;
    if (end === lines.length) throw new Error(`${file}:${start + 1}: a fence that never closes`);
    let before = start - 1;
    while (before >= 0 && lines[before]!.trim() === '') before--;
    const marker = before >= 0 ? FRAGMENT.exec(lines[before]!.trim()) : null;
    out.push({ file, line: start + 1, language: open[1]!.trim(), code: lines.slice(start + 1, end).join('\n') + '\n', ...(marker ? { fragment: marker[1]! } : {}) });
    i = end;
  }
  return out;
}

const all = FILES.flatMap((file) => blocks(file));
const runnable = all.filter((b) => CODE_LANGUAGES.has(b.language) && b.fragment === undefined);

test('every code block of README.md, docs/api.md and the apps\' pages is run, or marked as a fragment with a reason, or is shell', (t) => {
  for (const file of FILES) {
    const mine = all.filter((b) => b.file === file);
    for (const b of mine) {
      t.true(CODE_LANGUAGES.has(b.language) || OTHER_LANGUAGES.has(b.language), `${file}:${b.line}: a fence needs a language (ts, js, sh, text or json), got '${b.language}'`);
      if (b.fragment !== undefined) t.true(CODE_LANGUAGES.has(b.language), `${file}:${b.line}: only ts/js blocks are marked as fragments`);
    }
    const counts = {
      run: mine.filter((b) => CODE_LANGUAGES.has(b.language) && b.fragment === undefined).length,
      fragment: mine.filter((b) => b.fragment !== undefined).length,
      other: mine.filter((b) => !CODE_LANGUAGES.has(b.language)).length,
    };
    t.log(`${file}: ${counts.run} run, ${counts.fragment} fragments (${mine.filter((b) => b.fragment).map((b) => `line ${b.line}: ${b.fragment}`).join('; ')}), ${counts.other} shell/other`);
    t.deepEqual(counts, EXPECTED[file], `${file}: the blocks changed; update EXPECTED in this test on purpose`);
    // A marker that is not right above a fence marks nothing.
    const markers = readFileSync(join(ROOT, file), 'utf8').split('\n').filter((l) => l.includes('<!-- snippet:')).length;
    t.is(markers, counts.fragment, `${file}: every '<!-- snippet: … -->' marker sits right above a ts/js fence and has the form '<!-- snippet: fragment: why -->'`);
  }
});

/** A directory where `import … from 'blipcast'` is this repository. */
function sandbox(): string {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-snippet-'));
  mkdirSync(join(dir, 'node_modules'));
  symlinkSync(ROOT, join(dir, 'node_modules', 'blipcast'), 'dir');
  // The loggers and the metrics library the app snippets import, as an application would have them.
  for (const pkg of SNIPPET_PACKAGES) symlinkSync(join(ROOT, 'node_modules', pkg), join(dir, 'node_modules', pkg), 'dir');
  return dir;
}

function toJavaScript(block: Pick<Block, 'language' | 'code'>): string {
  if (block.language === 'js') return block.code;
  return ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
}

function runFile(dir: string, name: string, source: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  writeFileSync(join(dir, name), source);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [name], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'], timeout: SNIPPET_TIMEOUT_MS, killSignal: 'SIGKILL' });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.on('exit', (code, signal) => resolve({ code, signal, output }));
  });
}

/** Loopback only: every snippet names 127.0.0.1 with TTL 0, or runs on the in-process memory network (itself or through `blipcast/sim`), or opens no socket (the sans-IO core of `blipcast/core`). */
function staysOnLoopback(code: string): boolean {
  const memory = /transport: 'memory'/.test(code) || (/from 'blipcast\/sim'/.test(code) && !/\bopen\(|createTransport/.test(code));
  const noSocket = /from 'blipcast\/core'/.test(code) && !/\bopen\(|createTransport/.test(code);
  if (noSocket) return true;
  const loopback = /interface: '127\.0\.0\.1'/.test(code) && /ttl: 0\b/.test(code);
  return memory || loopback;
}

// One at a time: the snippets share the documented group 239.255.0.1:5000.
for (const block of runnable) {
  test.serial(`${block.file}:${block.line} (${block.language}) runs as pasted on loopback and exits 0`, async (t) => {
    t.true(staysOnLoopback(block.code), `${block.file}:${block.line} must open on interface '127.0.0.1' with ttl: 0 (or transport 'memory') before it is run`);
    if (!staysOnLoopback(block.code)) return;
    const dir = sandbox();
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const r = await runFile(dir, 'snippet.mjs', toJavaScript(block));
    t.is(r.code, 0, `${block.file}:${block.line} exited with ${r.code ?? r.signal}${r.signal === 'SIGKILL' ? ` (still running after ${SNIPPET_TIMEOUT_MS} ms)` : ''}:\n${r.output}`);
  });
}

const TEN_LINES = runnable.find((b) => b.file === 'README.md' && b.code.includes('// CommonJS:'));

test.serial("README's CommonJS note is true: the ten lines run with require() inside an async function", async (t) => {
  if (!TEN_LINES) return t.fail("README.md's first example no longer carries the '// CommonJS:' note");
  const note = /\/\/ CommonJS: (.*)$/m.exec(TEN_LINES.code)![1]!;
  const requireLine = /const \{ open \} = require\('blipcast'\)/.exec(note);
  t.truthy(requireLine, note);
  t.regex(note, /async function/, 'the note says where the awaits go (CommonJS has no top-level await)');
  const body = TEN_LINES.code.replace(/^import \{ open \} from 'blipcast';.*$/m, '');
  const dir = sandbox();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runFile(dir, 'snippet.cjs', `${requireLine![0]};\nasync function main() {\n${body}\n}\nmain().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });\n`);
  t.is(r.code, 0, r.output);
});

test.serial("README's `await using` note is true: TypeScript's output closes the channel on Node 20, and JavaScript there does not parse it", async (t) => {
  const block = runnable.find((b) => b.file === 'README.md' && b.code.includes('await using'));
  if (!block) return t.fail('README.md has no runnable block with `await using`');
  t.is(block.language, 'ts', 'the `await using` example is TypeScript, which is what makes it run on Node 20');
  const dir = sandbox();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await runFile(dir, 'snippet.mjs', toJavaScript(block));
  t.is(r.code, 0, r.output);
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const major = Number(process.versions.node.split('.')[0]);
  const parse = spawnSync(process.execPath, ['--input-type=module', '-e', 'await using x = null;'], { encoding: 'utf8' });
  if (major === 20) {
    t.not(parse.status, 0, 'Node 20 rejects `await using` in JavaScript');
    t.regex(parse.stderr, /SyntaxError/);
    t.true(/Node 20 does not parse\s+`await using`/.test(readme), 'the README says that Node 20 does not parse `await using`');
  } else {
    t.log(`Node ${process.versions.node}: \`await using\` in plain JavaScript ${parse.status === 0 ? 'parses' : 'does not parse'}`);
  }
});
