/**
 * Plumbing for delivery scenarios that run the real CLI on lab hosts: the
 * path of `bin/blipcast.js`, a child process captured as bytes with its
 * stderr split into loss reports and other JSON lines, waiting for a
 * receiver's group membership, and explaining a received line sequence that
 * is not the sent one. This module does not import AVA.
 */

import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { systemBinary } from './command';
import type { Lab, LabHost } from './lab';

/** The CLI, as a user runs it (dist/test/lab → repository root). */
export const BIN = join(__dirname, '..', '..', '..', 'bin', 'blipcast.js');
const CAT = systemBinary('cat');

/** A loss report of `blipcast listen` (a JSON line on its stderr). */
export interface LossEvent {
  event: 'loss';
  source: string;
  stream: string;
  fromSeq: number;
  toSeq: number;
  reason: string;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** performance.now() when the process closed. */
  atMs: number;
}

/** A child process whose stdout is kept as bytes, with running counts, and its stderr as text. */
export interface Captured {
  label: string;
  child: ChildProcess;
  chunks: Buffer[];
  /** Newlines seen on stdout so far. */
  lines: number;
  stderr: string;
  /** performance.now() of the last byte on stdout or stderr (or of the spawn). */
  lastOutputMs: number;
  exit: Promise<Exit>;
  /** Set once the process has closed. */
  exited: Exit | undefined;
}

export function capture(label: string, child: ChildProcess): Captured {
  const c: Captured = {
    label,
    child,
    chunks: [],
    lines: 0,
    stderr: '',
    lastOutputMs: performance.now(),
    exit: new Promise((resolve) =>
      child.once('close', (code, signal) => {
        c.exited = { code, signal, atMs: performance.now() };
        resolve(c.exited);
      }),
    ),
    exited: undefined,
  };
  child.stdout?.on('data', (chunk: Buffer) => {
    c.chunks.push(chunk);
    c.lastOutputMs = performance.now();
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) c.lines++;
  });
  child.stderr?.setEncoding('utf8').on('data', (text: string) => {
    c.stderr += text;
    c.lastOutputMs = performance.now();
  });
  child.once('error', (err) => (c.stderr += `spawn error: ${err.message}\n`));
  return c;
}

/** What a CLI process printed on stderr, sorted: loss reports, other JSON lines (stats, give-ups), plain text. */
export interface Stderr {
  losses: LossEvent[];
  json: Record<string, unknown>[];
  text: string[];
}

export function parseStderr(stderr: string): Stderr {
  const out: Stderr = { losses: [], json: [], text: [] };
  for (const line of stderr.split('\n')) {
    if (line.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      out.text.push(line);
      continue;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) out.text.push(line);
    else if ((value as { event?: unknown }).event === 'loss') out.losses.push(value as LossEvent);
    else out.json.push(value as Record<string, unknown>);
  }
  return out;
}

/** `/proc/net/igmp` prints a group as its 32-bit value in host byte order; accept either order. */
function igmpHexForms(group: string): string[] {
  const octets = group.split('.').map((o) => Number(o).toString(16).padStart(2, '0').toUpperCase());
  return [octets.join(''), [...octets].reverse().join('')];
}

/** Resolves once the kernel of `host` reports membership of the IPv4 `group`; rejects if `listener` exits first or the time runs out. */
export async function waitForMembership(lab: Lab, host: LabHost, group: string, listener: Captured, timeoutMs = 10_000): Promise<void> {
  const forms = igmpHexForms(group);
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const igmp = (await lab.exec(host, CAT, ['/proc/net/igmp'])).stdout;
    if (forms.some((form) => igmp.includes(form))) return;
    if (listener.exited !== undefined) throw new Error(`${listener.label} exited (${listener.exited.code ?? listener.exited.signal}) before joining: ${listener.stderr.trim()}`);
    await sleep(50);
  }
  throw new Error(`${listener.label} did not join ${group} within ${timeoutMs} ms; stderr: ${listener.stderr.trim()}`);
}

/** Splits newline-terminated text into lines (a trailing newline ends the last line; it does not start another). */
export function splitLines(text: string): string[] {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  return lines;
}

/**
 * What is wrong with a received line sequence, in terms a protocol engineer can
 * act on: how many lines, the first difference (with both lines), which of the
 * sent lines are missing (as index ranges), duplicates, steps backwards, lines
 * that were never sent. `want` must not repeat a line. Empty when `got` equals `want`.
 */
export function describeLines(got: readonly string[], want: readonly string[]): string {
  let first = 0;
  while (first < got.length && first < want.length && got[first] === want[first]) first++;
  if (first === got.length && first === want.length) return '';
  const index = new Map<string, number>();
  want.forEach((line, i) => index.set(line, i));
  const seen = new Uint32Array(want.length);
  let foreign = 0;
  let backwards = 0;
  let last = -1;
  for (const line of got) {
    const n = index.get(line);
    if (n === undefined) {
      foreign++;
      continue;
    }
    if (n < last) backwards++;
    last = n;
    seen[n]!++;
  }
  const missing: string[] = [];
  let missingLines = 0;
  for (let n = 0; n < want.length; n++) {
    if (seen[n] !== 0) continue;
    let end = n;
    while (end + 1 < want.length && seen[end + 1] === 0) end++;
    missing.push(n === end ? `${n}` : `${n}-${end}`);
    missingLines += end - n + 1;
    n = end;
  }
  let duplicates = 0;
  for (const times of seen) if (times > 1) duplicates++;
  const show = (line: string | undefined): string => (line === undefined ? '(end)' : JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line));
  return [
    `received ${got.length} of ${want.length} lines; first difference at line ${first}: got ${show(got[first])}, want ${show(want[first])}`,
    `missing ${missingLines} line(s) in ${missing.length} range(s)${missing.length ? `: ${missing.slice(0, 12).join(', ')}${missing.length > 12 ? ', …' : ''}` : ''}`,
    `duplicated ${duplicates}, steps backwards ${backwards}, lines never sent ${foreign}`,
  ].join('; ');
}

/** A LossEvent as one short phrase: `seq 1200-1430 (231) source-gone from 3f…`. */
export function formatLoss(loss: LossEvent): string {
  return `seq ${loss.fromSeq}-${loss.toSeq} (${loss.toSeq - loss.fromSeq + 1}) ${loss.reason}${loss.stream ? ` stream ${loss.stream}` : ''} from ${String(loss.source).slice(0, 8)}`;
}

/** The last `maxChars` of a text, for failure messages. */
export function tail(text: string, maxChars = 600): string {
  const t = text.trim();
  if (t === '') return '(empty)';
  return t.length <= maxChars ? t : `…${t.slice(-maxChars)}`;
}
