/**
 * `blipcast state GROUP:PORT --map NAME`: one replica of a replicated map
 * (blipcast/state). `--load FILE` sets its `key=value` lines once the replica
 * is synced, `--dump` prints every entry once the group is settled (every
 * replica heard synced, with the same content), `--watch` prints each
 * change as a JSON line; `--serve SECONDS` keeps the replica in the group
 * (serving snapshots to those that join) for that long after.
 */

import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { open } from '../index';
import { replicate, type ChangeEvent, type ReplicatedMap, type ReplicateOptions } from '../state/index';
import { intOption, parseCommand, secondsOption, type Parsed } from './args';
import { flushed, requiredValue, stringValue } from './bus-common';
import { keyOption, onStopSignal, signalExitCode, statsLine, transportOption } from './common';
import { UsageError } from './usage';

const OPTIONS = {
  map: { type: 'string' },
  load: { type: 'string' },
  dump: { type: 'boolean' },
  watch: { type: 'boolean' },
  serve: { type: 'string' },
  timeout: { type: 'string' },
  owner: { type: 'boolean' },
  'read-only': { type: 'boolean' },
  'snapshot-rate': { type: 'string' },
  'key-file': { type: 'string' },
  stats: { type: 'boolean' },
} as const;

/** How long `--load` waits to be synced and `--dump` to be settled unless --timeout says otherwise, seconds (from the start). */
export const DEFAULT_SYNC_TIMEOUT_S = 30;
/** Exit code when the replica was not synced (--load) or settled (--dump) within --timeout: nothing loaded or dumped. */
export const EXIT_NOT_SYNCED = 1;

/** One `key=value` line of a --load file. */
export interface LoadEntry {
  key: string;
  value: string;
  /** 1-based line number in the file. */
  line: number;
}

/**
 * The entries of a --load file: each line `key=value`, split at the first
 * '=' (the value may hold more); a `\r` before the newline is dropped; blank
 * lines and lines whose first character is '#' are skipped. A later line for
 * the same key wins, as its set() comes later.
 * @throws UsageError naming the first line that has no '=' or an empty key.
 */
export function parseLoadFile(text: string, file: string): LoadEntry[] {
  const entries: LoadEntry[] = [];
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  for (const [i, raw] of lines.entries()) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.trim() === '' || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    if (at === -1) throw new UsageError(`--load ${file} line ${i + 1}: no '=' (each line is key=value): ${JSON.stringify(line.length > 60 ? `${line.slice(0, 60)}…` : line)}`);
    if (at === 0) throw new UsageError(`--load ${file} line ${i + 1}: empty key (each line is key=value)`);
    entries.push({ key: line.slice(0, at), value: line.slice(at + 1), line: i + 1 });
  }
  return entries;
}

/** A value as --dump prints it: a string as it is, any other JSON value as JSON. */
export function dumpValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** The --dump output: one `key=value` line per entry, sorted by key (UTF-16 code units, as `sort` with LC_ALL=C does for ASCII). */
export function dumpLines(entries: Iterable<[string, unknown]>): string {
  const sorted = [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sorted.map(([key, value]) => `${key}=${dumpValue(value)}\n`).join('');
}

/** One --watch line: `{"key","value","previous","origin"}`, value absent for a delete, previous absent when the key had none. */
export function watchLine(change: ChangeEvent): string {
  return JSON.stringify({ key: change.key, value: change.value, previous: change.previous, origin: change.origin }) + '\n';
}

interface StateArgs {
  groupText: string;
  values: Parsed['values'];
  name: string;
  load: { path: string; entries: LoadEntry[] } | undefined;
  dump: boolean;
  watch: boolean;
  serveMs: number;
  timeoutMs: number;
  options: ReplicateOptions;
}

/** Every argument checked, the --load file read and parsed: nothing is opened or sent before this has passed. */
function parseStateArgs(args: string[]): StateArgs {
  const { groupText, values } = parseCommand('state', args, OPTIONS);
  if (values.stream !== undefined) throw new UsageError("--stream does not apply: a map's stream is state/NAME (give --map NAME)");
  const name = requiredValue(values, 'map', 'NAME (the map to replicate)');
  const loadPath = stringValue(values, 'load');
  const dump = values.dump === true;
  const watch = values.watch === true;
  const owner = values.owner === true;
  const readOnly = values['read-only'] === true;
  if (loadPath === undefined && !dump && !watch) throw new UsageError('nothing to do: give --load FILE, --dump or --watch');
  if (readOnly && owner) throw new UsageError('--read-only and --owner exclude each other (the owner is the one that writes)');
  if (readOnly && loadPath !== undefined) throw new UsageError('--read-only cannot --load (a read-only replica never writes)');
  if (values.timeout !== undefined && loadPath === undefined && !dump) throw new UsageError('--timeout applies to --load and --dump (how long they wait to be synced / settled)');
  const timeoutMs = Math.round(secondsOption(values, 'timeout') ?? DEFAULT_SYNC_TIMEOUT_S * 1000);
  const serveMs = Math.round(secondsOption(values, 'serve') ?? 0);
  const snapshotRate = intOption(values, 'snapshot-rate', 1, Number.MAX_SAFE_INTEGER);
  let load: StateArgs['load'];
  if (loadPath !== undefined) {
    let text: string;
    try {
      text = readFileSync(loadPath, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --load ${loadPath}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    load = { path: loadPath, entries: parseLoadFile(text, loadPath) };
  }
  const options: ReplicateOptions = {
    ...(owner ? { owner: true } : {}),
    ...(readOnly ? { readOnly: true } : {}),
    ...(snapshotRate !== undefined ? { snapshotBytesPerSec: snapshotRate } : {}),
  };
  return { groupText, values, name, load, dump, watch, serveMs, timeoutMs, options };
}

function seconds(ms: number): string {
  return (ms / 1000).toFixed(1);
}

export async function state(args: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const a = parseStateArgs(args);
  const { values } = a;
  const ttl = intOption(values, 'ttl', 0, 255);
  const interfaceName = stringValue(values, 'interface');
  const channel = await open({
    group: a.groupText,
    ...(interfaceName !== undefined ? { interface: interfaceName } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...transportOption(values),
    ...keyOption(values, process.env, io.stderr),
  });
  channel.on('error', (err: Error) => io.stderr.write(`blipcast: ${err.message}\n`));

  // Ctrl-C / SIGTERM: ends the wait for sync (exit 130 / 143: nothing was loaded or dumped) or the serving and watching (exit 0).
  const stop = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const unhook = onStopSignal((signal) => {
    stoppedBy = signal;
    stop.abort();
  });
  const startMs = performance.now();
  let map: ReplicatedMap<unknown> | undefined;
  try {
    map = await replicate<unknown>(channel, a.name, a.options);
    const m = map;
    const what = `map '${a.name}' on ${a.groupText}`;
    io.stderr.write(`blipcast: replicating ${what} as ${m.id}\n`);
    m.on('synced', () => io.stderr.write(`blipcast: ${what} synced: ${m.size} entries after ${seconds(performance.now() - startMs)} s\n`));
    m.on('unsynced', () => io.stderr.write(`blipcast: ${what} lost changes: resyncing from a snapshot\n`));

    const watchNow = (): void => {
      // One write per event-loop turn: a snapshot arrives as thousands of changes.
      let pending = '';
      m.on('change', (change) => {
        if (pending === '') setImmediate(() => {
          io.stdout.write(pending);
          pending = '';
        });
        pending += watchLine(change);
      });
      io.stderr.write(`blipcast: watching ${what}\n`);
    };
    // --watch alone prints from the start: the entries that arrive as this replica syncs are changes too.
    if (a.watch && a.load === undefined && !a.dump) watchNow();

    // --load writes once synced (its writes then come after what the group holds); --dump prints once settled: a
    // dump at mere sync could miss a write another replica made as this one synced (test/lab/state-scenario.ts).
    const deadlineMs = startMs + a.timeoutMs;
    for (const until of [...(a.load !== undefined ? (['synced'] as const) : []), ...(a.dump ? (['settled'] as const) : [])]) {
      const outcome = await waitFor(m, until, deadlineMs - performance.now(), stop.signal);
      if (outcome === 'stopped') return signalExitCode(stoppedBy ?? 'SIGINT');
      if (outcome === 'timeout') {
        const peers = m.stats().replicas;
        io.stderr.write(
          `blipcast: ${what} not ${until} within ${seconds(a.timeoutMs)} s (${m.isSynced ? 'synced' : 'not synced'}, ${m.size} entries, ${peers} other replica(s) heard): nothing ${until === 'synced' ? 'loaded' : 'dumped'}\n`,
        );
        return EXIT_NOT_SYNCED;
      }
      if (until === 'synced') {
        for (const { key, value } of a.load!.entries) m.set(key, value);
        io.stderr.write(`blipcast: set ${a.load!.entries.length} entries from ${a.load!.path}; the map holds ${m.size}\n`);
      } else {
        io.stderr.write(`blipcast: ${what} settled: ${m.size} entries, the same on ${m.stats().replicas} other replica(s) heard, after ${seconds(performance.now() - startMs)} s\n`);
      }
    }
    if (a.dump) {
      io.stdout.write(dumpLines(m.entries()));
      await flushed(io.stdout);
    }
    if (a.watch && (a.load !== undefined || a.dump)) watchNow();

    // Serving: --watch until Ctrl-C / SIGTERM (or --serve SECONDS when given), else --serve SECONDS (default 0).
    const serveMs = a.watch && values.serve === undefined ? Infinity : a.serveMs;
    if (serveMs > 0 && !stop.signal.aborted) {
      if (serveMs !== Infinity) io.stderr.write(`blipcast: serving ${what} for ${seconds(serveMs)} s\n`);
      await (serveMs === Infinity ? aborted(stop.signal) : sleep(serveMs, undefined, { signal: stop.signal }).catch(() => undefined));
    }
    return 0;
  } finally {
    unhook();
    // The map first (its last writes go to the channel), then the channel: its close waits for the receivers to have them.
    if (map !== undefined) {
      await map.close();
      if (values.stats === true) io.stderr.write(statsLine(map.stats()));
    }
    await channel.close();
  }
}

/** Resolves once `map` is synced or settled (`until`: 'done'), `timeoutMs` has passed ('timeout') or `stop` aborts ('stopped'). */
async function waitFor(map: ReplicatedMap<unknown>, until: 'synced' | 'settled', timeoutMs: number, stop: AbortSignal): Promise<'done' | 'timeout' | 'stopped'> {
  const timeout = AbortSignal.timeout(Math.max(0, Math.round(timeoutMs)));
  try {
    await (until === 'synced' ? map.synced({ signal: AbortSignal.any([stop, timeout]) }) : map.settled({ signal: AbortSignal.any([stop, timeout]) }));
    return 'done';
  } catch (err) {
    if (stop.aborted) return 'stopped';
    if (timeout.aborted) return 'timeout';
    throw err;
  }
}

function aborted(signal: AbortSignal): Promise<void> {
  return signal.aborted ? Promise.resolve() : new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}
