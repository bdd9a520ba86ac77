/**
 * The logging lab scenarios of issue 12, with real processes on lab hosts:
 * three services (test/fixtures/logging-service.ts: pino with the
 * `blipcast/pino` transport, `process.exit(0)` right after the last line) on
 * three hosts, two `blipcast collect logs` on two other hosts, each losing
 * 5 % of what arrives. Every collector must end up holding exactly every
 * service's lines: per source, in order, each once, with no loss line.
 *
 * With `restart`, the second collector is killed (SIGKILL) in the middle of
 * the stream and started again at once with `--from earliest` on the same
 * directory: it must end with exactly the same lines again — or, where the
 * sender no longer held them, loss lines that name precisely the records it
 * does not have. Does not import AVA.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CpuLoad } from './cpu-load';
import { BIN, capture, type Captured, tail, waitForMembership } from './delivery';
import { fixturePath, type Lab, type LabHost, withLab } from './lab';
import { exitText, formatLoad, runNotes, type ScenarioOptions, type ScenarioResult } from './scenario-result';
import { randomGroup4, randomPort } from './traffic';

const SERVICES = 3;
const LINES = 10_000;
const LOSS_RATE = 0.05;
/** Services log 100 lines every 40 ms: about 4 s of logging, long enough to kill a collector in the middle. */
const BATCH = 100;
const PAUSE_MS = 40;
/** A service that has not exited this long after it started is killed (its transport waits at most ~10 s at exit). */
const SERVICE_MAX_MS = 40_000;
/** After the last service exited, collectors get this long to hold every line. */
const SETTLE_MS = 20_000;
/** The restarted collector is killed once it has written this many records (about a third of the stream). */
const KILL_AFTER_RECORDS = 10_000;

/** What one collector's directory holds, per source name. */
export interface SourceLog {
  /** The `i` of each record, in file order. */
  indexes: number[];
  /** seq − i of the records (one value when the mapping is consistent): each line carries its `seq`. */
  offsets: Set<number>;
  /** Loss lines: inclusive seq ranges. */
  losses: { fromSeq: number; toSeq: number; reason: string }[];
  divergences: number;
  dropped: number;
  files: Set<string>;
}

/** Reads every log file of a collector directory (not its checkpoints), grouped by `source.name`. */
export function readCollectorDir(dir: string): { sources: Map<string, SourceLog>; unparsable: number; records: number } {
  const sources = new Map<string, SourceLog>();
  let unparsable = 0;
  let records = 0;
  const files = listFiles(dir);
  for (const file of files) {
    const text = readFileSync(file, 'utf8');
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        unparsable++;
        continue;
      }
      const source = rec.source as { name?: string } | undefined;
      if (source === undefined || typeof source.name !== 'string') continue;
      let log = sources.get(source.name);
      if (log === undefined) sources.set(source.name, (log = { indexes: [], offsets: new Set(), losses: [], divergences: 0, dropped: 0, files: new Set() }));
      log.files.add(file);
      if (rec.blipcast === 'loss') log.losses.push({ fromSeq: Number(rec.fromSeq), toSeq: Number(rec.toSeq), reason: String(rec.reason) });
      else if (rec.blipcast === 'divergence') log.divergences++;
      else if (rec.blipcast === 'dropped') log.dropped += Number(rec.dropped);
      else if (typeof rec.i === 'number') {
        records++;
        log.indexes.push(rec.i);
        if (typeof rec.seq === 'number') log.offsets.add(rec.seq - rec.i);
      }
    }
  }
  return { sources, unparsable, records };
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) out.push(...listFiles(path));
    else if (st.isFile() && !name.startsWith('.') && !/checkpoint/i.test(name)) out.push(path);
  }
  return out;
}

/**
 * Checks one source's records against 0 … lines−1. Exact: all of them, in order, once, no loss line.
 * With `gapsAllowed`, records may be missing where loss lines name them precisely (every missing
 * record inside a loss range, no loss range over a record that is there).
 */
export function checkSource(label: string, log: SourceLog | undefined, lines: number, gapsAllowed: boolean): string[] {
  if (log === undefined) return [`${label}: no records at all`];
  const failures: string[] = [];
  const seen = new Set<number>();
  let last = -1;
  for (const i of log.indexes) {
    if (seen.has(i)) {
      failures.push(`${label}: record ${i} written twice`);
      break;
    }
    if (i < last) {
      failures.push(`${label}: record ${i} after ${last} (out of order)`);
      break;
    }
    seen.add(i);
    last = i;
  }
  const missing: number[] = [];
  for (let i = 0; i < lines; i++) if (!seen.has(i)) missing.push(i);
  if (log.divergences > 0) failures.push(`${label}: ${log.divergences} divergence line(s)`);
  if (log.dropped > 0) failures.push(`${label}: the sender dropped ${log.dropped} record(s)`);
  if (!gapsAllowed) {
    if (missing.length > 0) failures.push(`${label}: ${missing.length} of ${lines} records missing (first ${missing.slice(0, 5).join(', ')})`);
    if (log.losses.length > 0) failures.push(`${label}: ${log.losses.length} loss line(s): ${log.losses.slice(0, 3).map((l) => `${l.fromSeq}-${l.toSeq} ${l.reason}`).join(', ')}`);
    return failures;
  }
  if (log.offsets.size !== 1) {
    if (missing.length > 0 || log.losses.length > 0) failures.push(`${label}: records carry no consistent source.seq (${[...log.offsets].slice(0, 3).join(', ')}), cannot match loss lines to records`);
    return failures;
  }
  const offset = [...log.offsets][0]!;
  const inLoss = (i: number): boolean => log.losses.some((l) => i + offset >= l.fromSeq && i + offset <= l.toSeq);
  const unreported = missing.filter((i) => !inLoss(i));
  if (unreported.length > 0) failures.push(`${label}: ${unreported.length} record(s) missing without a loss line (first ${unreported.slice(0, 5).join(', ')})`);
  const overReported = [...seen].filter(inLoss);
  if (overReported.length > 0) failures.push(`${label}: loss line(s) cover ${overReported.length} record(s) that are there (first ${overReported.slice(0, 5).join(', ')})`);
  for (const l of log.losses) {
    if (l.fromSeq - offset < 0 || l.toSeq - offset >= lines) failures.push(`${label}: loss line ${l.fromSeq}-${l.toSeq} outside the records sent`);
  }
  return failures;
}

function countRecords(dir: string): number {
  try {
    return readCollectorDir(dir).records;
  } catch {
    return 0;
  }
}

function collectorArgs(target: string, host: LabHost, dir: string): string[] {
  return [BIN, 'collect', 'logs', target, '--dir', dir, '--interface', host.ipv4, '--from', 'earliest', '--stats'];
}

function startCollector(lab: Lab, host: LabHost, target: string, dir: string, label: string): Captured {
  const [script, ...args] = collectorArgs(target, host, dir);
  return capture(label, lab.spawnNode(host, script!, args, { stdio: ['ignore', 'pipe', 'pipe'] }));
}

export async function runLogging(options: ScenarioOptions & { restart: boolean }): Promise<ScenarioResult> {
  const name = options.restart ? 'logging-restart' : 'logging';
  const startedMs = performance.now();
  const { notes, note } = runNotes(options);
  const load = options.load === true ? CpuLoad.start({}) : undefined;
  const dirs = [0, 1].map((k) => mkdtempSync(join(tmpdir(), `blipcast-lab-logs-${k}-`)));
  try {
    return await withLab({ hosts: SERVICES + 2, name: options.restart ? 'logrs' : 'logs' }, async (lab) => {
      const serviceHosts = lab.hosts.slice(0, SERVICES);
      const collectorHosts = lab.hosts.slice(SERVICES);
      const target = `${randomGroup4()}:${randomPort()}`;
      const collectors: Captured[] = [];
      for (const [k, host] of collectorHosts.entries()) {
        await lab.setLoss(host, LOSS_RATE);
        const c = startCollector(lab, host, target, dirs[k]!, `collector${k}@${host.name}`);
        collectors.push(c);
        await waitForMembership(lab, host, target.split(':')[0]!, c);
      }
      const services = serviceHosts.map((host, k) =>
        capture(
          `s${k}@${host.name}`,
          lab.spawnNode(host, fixturePath('logging-service'), ['--group', target, '--iface', host.ipv4, '--name', `s${k}`, '--lines', String(LINES), '--batch', String(BATCH), '--pause-ms', String(PAUSE_MS)], {
            stdio: ['ignore', 'pipe', 'pipe'],
          }),
        ),
      );
      const servicesStartMs = performance.now();

      let restarted: Captured | undefined;
      const killed: Captured[] = [];
      if (options.restart) {
        const victim = collectors[1]!;
        while (countRecords(dirs[1]!) < KILL_AFTER_RECORDS && performance.now() - servicesStartMs < SERVICE_MAX_MS && victim.exited === undefined) await sleep(20);
        const atRecords = countRecords(dirs[1]!);
        victim.child.kill('SIGKILL');
        await victim.exit;
        killed.push(victim);
        restarted = startCollector(lab, collectorHosts[1]!, target, dirs[1]!, `collector1'@${collectorHosts[1]!.name}`);
        collectors[1] = restarted;
        note(`killed ${victim.label} (SIGKILL) at ${atRecords} records written, ${((performance.now() - servicesStartMs) / 1000).toFixed(2)} s into the stream; restarted with --from earliest`);
      }

      const serviceDeadline = servicesStartMs + SERVICE_MAX_MS;
      for (const s of services) {
        while (s.exited === undefined && performance.now() < serviceDeadline) await sleep(50);
        if (s.exited === undefined) s.child.kill('SIGKILL');
      }
      await Promise.all(services.map((s) => s.exit));
      const lastServiceMs = Math.max(...services.map((s) => s.exited!.atMs));
      // Collectors get until every line is there (or SETTLE_MS), then are stopped the way an operator would.
      while (performance.now() - lastServiceMs < SETTLE_MS && dirs.some((d) => countRecords(d) < SERVICES * LINES)) await sleep(200);
      for (const c of collectors) c.child.kill('SIGTERM');
      const stopDeadline = performance.now() + 10_000;
      for (const c of collectors) {
        while (c.exited === undefined && performance.now() < stopDeadline) await sleep(50);
        if (c.exited === undefined) c.child.kill('SIGKILL');
      }
      await Promise.all(collectors.map((c) => c.exit));
      const loadReport = load ? await load.stop() : undefined;

      const failures: string[] = [];
      let lossLines = 0;
      for (const s of services) {
        if (s.exited?.code !== 0) failures.push(`${s.label} exited ${exitText(s.exited)}: ${tail(s.stderr)}`);
        note(`${s.label}: exit ${exitText(s.exited)} ${((s.exited!.atMs - servicesStartMs) / 1000).toFixed(2)} s after start`);
      }
      for (const [k, c] of collectors.entries()) {
        if (c.exited?.code !== 0) failures.push(`${c.label} exited ${exitText(c.exited)} after SIGTERM: ${tail(c.stderr)}`);
        const { sources, unparsable, records } = readCollectorDir(dirs[k]!);
        if (unparsable > 0) failures.push(`${c.label}: ${unparsable} line(s) that are not JSON`);
        const gapsAllowed = options.restart && k === 1;
        for (let s = 0; s < SERVICES; s++) failures.push(...checkSource(`${c.label} s${s}`, sources.get(`s${s}`), LINES, gapsAllowed));
        const others = [...sources.keys()].filter((n) => !/^s\d$/.test(n));
        if (others.length > 0) failures.push(`${c.label}: records from unexpected sources ${others.join(', ')}`);
        const losses = [...sources.values()].flatMap((l) => l.losses);
        lossLines += losses.length;
        const drops = await lab.lossDrops(collectorHosts[k]!);
        note(
          `${c.label}: ${records} records in ${new Set([...sources.values()].flatMap((l) => [...l.files])).size} file(s), ${losses.length} loss line(s)` +
            `${losses.length ? ` (${losses.map((l) => `${l.fromSeq}-${l.toSeq} ${l.reason}`).slice(0, 4).join(', ')})` : ''}; ${drops} datagrams dropped by the loss rules; exit ${exitText(c.exited)}`,
        );
        const statsLine = c.stderr.split('\n').filter((l) => l.startsWith('{')).at(-1);
        if (statsLine) note(`${c.label} stats: ${statsLine.slice(0, 400)}`);
      }
      if (loadReport) note(formatLoad(loadReport));
      const ok = failures.length === 0;
      return {
        scenario: name,
        ok,
        // Exact: every line there, no loss line at all (a restart gap, reported precisely, is ok but not exact).
        exact: ok && lossLines === 0,
        senders: services.map((s) => ({ label: s.label, exit: exitText(s.exited), code: s.exited?.code ?? null, seconds: (s.exited!.atMs - servicesStartMs) / 1000, expectedCode: 0, json: [], stderr: s.stderr })),
        receivers: [],
        failures,
        firstLoss: undefined,
        shape: ok ? '' : failures[0]!.slice(0, 160),
        notes,
        wallMs: performance.now() - startedMs,
      };
    });
  } finally {
    if (load) await load.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
}
