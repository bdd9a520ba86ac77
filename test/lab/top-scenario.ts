/**
 * `blipcast top` in the lab (issue 15): can an operator find the receiver in
 * trouble in one look? Host h0 sends 100-byte lines at 3 MB/s
 * (`blipcast send --name sender`); h1 (`clean`) and h2 (`lossy`, losing 5 %
 * of the UDP datagrams that reach it, nftables) listen; 2 s into the stream,
 * h3 runs `blipcast top --once --json --wait 4`. Its snapshot must list the
 * four members (top itself as the observer), the sender with its rate, both
 * receivers of it, and put `lossy` first and alone among the rows that need a
 * look, with the NAKs, repairs and repair latency it reported; `clean` must
 * show no NAK. Does not import AVA.
 */

import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { isTroubled } from '../../src/observe/format';
import type { GroupSnapshot, ReceiverRow } from '../../src/observe/types';
import { CpuLoad } from './cpu-load';
import { BIN, capture, type Captured, tail, waitForMembership } from './delivery';
import { type LabHost, withLab } from './lab';
import { exitText, formatLoad, runNotes, type ScenarioOptions, type ScenarioResult } from './scenario-result';
import { randomGroup4, randomPort } from './traffic';

const RATE_BYTES_PER_S = 3_000_000;
/** Lines of 99 characters + newline: about 10 s at the rate. */
const LINES = 300_000;
const LOSSY_RATE = 0.05;
/** From the sender's start to top's start. */
const TOP_AFTER_MS = 2000;
const TOP_WAIT_S = 4;
const TOP_MAX_MS = 30_000;

export async function runTopLossy(options: ScenarioOptions): Promise<ScenarioResult> {
  const startedMs = performance.now();
  const { notes, note } = runNotes(options);
  const load = options.load === true ? CpuLoad.start({}) : undefined;
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-top-lab-'));
  const input = join(dir, 'lines.txt');
  writeFileSync(input, `${'x'.repeat(99)}\n`.repeat(LINES));
  const procs: Captured[] = [];
  try {
    return await withLab({ hosts: 4, name: 'top' }, async (lab) => {
      const [h0, h1, h2, h3] = lab.hosts as [LabHost, LabHost, LabHost, LabHost];
      const target = `${randomGroup4()}:${randomPort()}`;
      await lab.setLoss(h2, LOSSY_RATE);
      const listen = (host: LabHost, name: string): Captured =>
        capture(`listen ${name}@${host.name}`, lab.spawnNode(host, BIN, ['listen', target, '--interface', host.ipv4, '--name', name], { stdio: ['ignore', 'ignore', 'pipe'] }));
      const clean = listen(h1, 'clean');
      const lossy = listen(h2, 'lossy');
      procs.push(clean, lossy);
      await waitForMembership(lab, h1, target.split(':')[0]!, clean);
      await waitForMembership(lab, h2, target.split(':')[0]!, lossy);
      const fd = openSync(input, 'r');
      const sender = capture('send sender@h0', lab.spawnNode(h0, BIN, ['send', target, '--interface', h0.ipv4, '--name', 'sender', '--rate', String(RATE_BYTES_PER_S), '--linger', '0'], { stdio: [fd, 'ignore', 'pipe'] }));
      closeSync(fd);
      procs.push(sender);
      await sleep(TOP_AFTER_MS);
      const top = capture('top@h3', lab.spawnNode(h3, BIN, ['top', target, '--interface', h3.ipv4, '--once', '--json', '--wait', String(TOP_WAIT_S)], { stdio: ['ignore', 'pipe', 'pipe'] }));
      procs.push(top);
      const exit = await Promise.race([top.exit, sleep(TOP_MAX_MS).then(() => undefined)]);
      const loadReport = load ? await load.stop() : undefined;
      const failures: string[] = [];
      let snap: GroupSnapshot | undefined;
      if (exit === undefined || exit.code !== 0) failures.push(`${top.label} exited ${exitText(top.exited)}: ${tail(top.stderr)}`);
      else {
        try {
          snap = JSON.parse(Buffer.concat(top.chunks).toString('utf8')) as GroupSnapshot;
        } catch (err) {
          failures.push(`${top.label} printed no JSON snapshot: ${(err as Error).message}`);
        }
      }
      if (snap !== undefined) check(snap, failures);
      note(`top-finds-lossy: sender on h0 at ${RATE_BYTES_PER_S / 1e6} MB/s (100-byte lines), listeners clean@h1 and lossy@h2 (${LOSSY_RATE * 100} % receive loss), top --once --json --wait ${TOP_WAIT_S} on h3 ${TOP_AFTER_MS / 1000} s in`);
      if (snap !== undefined) {
        note(`members: ${snap.members.map((m) => `${m.name}${m.self ? '*' : ''}${m.observer ? ' (observer)' : ''}`).join(', ')}`);
        for (const s of snap.sources) note(`source ${s.name}: ${Math.round(s.messagesPerSec)} msgs/s, ${(s.bytesPerSec / 1e6).toFixed(2)} MB/s, ${s.receivers} receivers`);
        for (const r of snap.receivers) note(`receiver ${rowText(r)}`);
      }
      note(`lossy@h2's loss rule dropped ${await lab.lossDrops(h2)} datagrams`);
      if (loadReport) note(formatLoad(loadReport));
      const ok = failures.length === 0;
      return {
        scenario: 'top-finds-lossy', ok, exact: ok, senders: [], receivers: [], failures, firstLoss: undefined,
        shape: ok ? '' : failures[0]!, notes, wallMs: performance.now() - startedMs,
      };
    });
  } finally {
    for (const p of procs) if (p.exited === undefined) p.child.kill('SIGKILL');
    if (load) await load.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function rowText(r: ReceiverRow): string {
  return `${r.name}${isTroubled(r) ? ' !' : ''}: lag ${r.lagMessages} (${r.lagBytes} B), unread ${r.readBacklogBytes} B, NAK/s ${r.naksPerSec.toFixed(1)}, NAKs ${r.naks}, repairs ${r.repairs} (${r.repairsPerSec.toFixed(1)}/s), lost ${r.lost}, gaps ${r.gapsOpen}, repair latency ${r.repairLatencyMs?.toFixed(2) ?? '-'} ms, heard ${Math.round(r.lastHeardMsAgo)} ms ago, ${r.state}`;
}

/** What an operator must see in the snapshot (each failure names what is missing). */
function check(snap: GroupSnapshot, failures: string[]): void {
  const names = snap.members.map((m) => m.name).sort().join(',');
  if (names !== 'blipcast-top,clean,lossy,sender') failures.push(`members are ${names}, not blipcast-top,clean,lossy,sender`);
  const self = snap.members.find((m) => m.self);
  if (self?.name !== 'blipcast-top' || !self.observer) failures.push(`top's own member row is ${JSON.stringify(self)}: not the observer blipcast-top`);
  const sender = snap.sources.find((s) => s.name === 'sender');
  if (sender === undefined) failures.push(`no source 'sender' among ${snap.sources.map((s) => s.name || s.id).join(', ') || 'none'}`);
  else if (sender.messagesPerSec < 10_000) failures.push(`the sender's rate shows as ${Math.round(sender.messagesPerSec)} msgs/s (it sends about 30,000)`);
  const rows = snap.receivers.filter((r) => r.sourceName === 'sender');
  const lossy = rows.find((r) => r.name === 'lossy');
  const clean = rows.find((r) => r.name === 'clean');
  if (lossy === undefined || clean === undefined) {
    failures.push(`the sender's receivers are ${rows.map((r) => r.name).join(', ') || 'none'}, not clean and lossy`);
    return;
  }
  if (snap.receivers[0]?.name !== 'lossy') failures.push(`the first row is ${snap.receivers[0]?.name ?? 'none'}, not lossy`);
  const troubled = snap.receivers.filter(isTroubled).map((r) => r.name);
  if (troubled.join(',') !== 'lossy') failures.push(`the rows that need a look are [${troubled.join(', ')}], not [lossy]`);
  if (!(lossy.naks > 0 && lossy.naksPerSec > 0)) failures.push(`lossy shows ${lossy.naks} NAKs (${lossy.naksPerSec}/s)`);
  if (!(lossy.repairs > 0)) failures.push(`lossy reports ${lossy.repairs} repairs received`);
  if (lossy.repairLatencyMs === undefined) failures.push('lossy reports no repair latency');
  if (clean.naks !== 0) failures.push(`clean shows ${clean.naks} NAKs`);
  for (const r of [lossy, clean]) if (r.state !== 'live' || r.lastHeardMsAgo > 1000) failures.push(`${r.name} is ${r.state}, last heard ${Math.round(r.lastHeardMsAgo)} ms ago`);
}
