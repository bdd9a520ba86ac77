/**
 * The lab tools the delivery scenarios stand on: burst loss (runs of
 * consecutive datagrams, exactly where the rule says), UDP GSO runs crossing
 * the lab whole or cut into datagrams, and the CPU load helper (running while
 * asked, nothing left after stop() or after its time bound).
 */

import test, { type ImplementationFn } from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import type { SeqRecvResult } from './fixtures/seq-recv';
import { labTest } from './lab/availability';
import { CpuLoad } from './lab/cpu-load';
import { fixturePath, type Lab, withLab } from './lab/lab';
import { ProcessWatch } from './lab/process-watch';
import { randomGroup4, randomPort } from './lab/traffic';

const DATAGRAM_BYTES = 200;

/**
 * Sends `count` sequence-numbered datagrams from h0 to a group with the native
 * transport, in send() calls of `run` equal-size datagrams (one UDP GSO run
 * each), and returns which ones h1 missed.
 */
async function sendSeqs(lab: Lab, count: number, run: number): Promise<SeqRecvResult> {
  const group = randomGroup4();
  const port = String(randomPort());
  const receiver = new ProcessWatch(lab.spawnNode(1, fixturePath('seq-recv'), ['--group', group, '--port', port, '--iface', lab.host(1).ipv4, '--count', String(count)]), 'seq-recv@h1');
  await receiver.waitForLine(/^ready$/);
  const sender = new ProcessWatch(
    lab.spawnNode(0, fixturePath('transport-send'), ['--kind', 'native', '--group', group, '--port', port, '--iface', lab.host(0).ipv4, '--count', String(count), '--size', String(DATAGRAM_BYTES), '--burst', String(run), '--gap-ms', '2']),
    'transport-send@h0',
  );
  await sender.result();
  return receiver.result<SeqRecvResult>();
}

function missingCount(r: SeqRecvResult): number {
  return r.missing.reduce((sum, [a, b]) => sum + b - a + 1, 0);
}

labTest.serial('burst loss drops runs of exactly the asked length, once every period, at the asked phase', async (t) => {
  await withLab({ hosts: 2, name: 'burst' }, async (lab) => {
    await lab.setLoss(1, 0, { burst: { length: 10, rate: 0.1, phase: 3 } });
    const before = (await lab.udpCounters(1)).rcvbufErrors;
    const r = await sendSeqs(lab, 1000, 16);
    t.is((await lab.udpCounters(1)).rcvbufErrors - before, 0, 'socket-buffer drops would blur which datagrams the rule dropped');
    // period = 10 / 0.1 = 100: datagrams 3–12 of every hundred.
    const want = Array.from({ length: 10 }, (_, k): [number, number] => [100 * k + 3, 100 * k + 12]);
    t.deepEqual(r.missing, want);
    t.deepEqual(await lab.lossDropsByRule(1), { burst: 100, random: 0 });
    t.is(await lab.lossDrops(1), 100);
  });
});

// 900 datagrams reach the random rule at p = 0.1: Binomial(900, 0.1), mean 90, σ 9; ±6 σ is 36..144.
labTest.serial('burst loss on top of random loss still drops every burst whole and counts the two rules apart', async (t) => {
  await withLab({ hosts: 2, name: 'burstr' }, async (lab) => {
    await lab.setLoss(1, 0.1, { burst: { length: 10, rate: 0.1, phase: 0 } });
    const before = (await lab.udpCounters(1)).rcvbufErrors;
    const r = await sendSeqs(lab, 1000, 16);
    const bufferDrops = (await lab.udpCounters(1)).rcvbufErrors - before;
    const drops = await lab.lossDropsByRule(1);
    t.is(drops.burst, 100);
    t.true(drops.random >= 36 && drops.random <= 144, `random rule dropped ${drops.random} of 900, expected 90 ± 54`);
    const missing = new Set(r.missing.flatMap(([a, b]) => Array.from({ length: b - a + 1 }, (_, i) => a + i)));
    for (let k = 0; k < 10; k++) for (let i = 0; i < 10; i++) t.true(missing.has(100 * k + i), `datagram ${100 * k + i} of burst ${k} arrived`);
    t.is(missingCount(r), drops.burst + drops.random + bufferDrops, 'every missing datagram is one a rule (or a full socket buffer) dropped');
  });
});

labTest.serial('burst loss rejects lengths and rates it cannot express', async (t) => {
  await withLab({ hosts: 1, name: 'burstv' }, async (lab) => {
    await t.throwsAsync(lab.setLoss(0, 0, { burst: { length: 0, rate: 0.1 } }), { instanceOf: RangeError });
    await t.throwsAsync(lab.setLoss(0, 0, { burst: { length: 10, rate: 0.9 } }), { instanceOf: RangeError });
    await t.throwsAsync(lab.setLoss(0, 0, { burst: { length: 10, rate: 0.1, phase: 91 } }), { instanceOf: RangeError });
    await lab.setLoss(0, 0, { burst: { length: 1, rate: 0.5, phase: 1 } });
    t.deepEqual(await lab.lossDropsByRule(0), { burst: 0, random: 0 });
    await lab.setLoss(0, 0);
    t.deepEqual(await lab.lossDropsByRule(0), { burst: 0, random: 0 });
  });
});

// 1600 datagrams in runs of 16 at p = 0.25 per rule match.
labTest.serial('GSO runs are cut into datagrams by default, and with gsoRuns one rule match drops a whole run', async (t) => {
  await withLab({ hosts: 2, name: 'gso' }, async (lab) => {
    t.is(await lab.gsoMaxSegs(0), 1);
    await lab.setLoss(1, 0.25);
    const cut = await sendSeqs(lab, 1600, 16);
    const cutDrops = await lab.lossDrops(1);
    t.is(missingCount(cut), cutDrops, 'cut: one rule match, one datagram');
    t.true(cut.missing.some(([a, b]) => b - a + 1 < 16), 'cut: some loss shorter than a run');

    await lab.setGsoRuns(0, true);
    t.is(await lab.gsoMaxSegs(0), 65_535);
    await lab.setLoss(1, 0.25);
    const whole = await sendSeqs(lab, 1600, 16);
    const wholeDrops = await lab.lossDrops(1);
    t.log(`cut: ${cutDrops} rule matches, ${missingCount(cut)} datagrams lost; whole runs: ${wholeDrops} rule matches, ${missingCount(whole)} datagrams lost in ${whole.missing.length} range(s)`);
    t.true(wholeDrops > 0);
    t.is(missingCount(whole), 16 * wholeDrops, 'whole: one rule match, one run of 16');
    for (const [a, b] of whole.missing) t.true(a % 16 === 0 && (b + 1) % 16 === 0, `lost ${a}-${b} is not whole runs`);

    await lab.setGsoRuns(0, false);
    t.is(await lab.gsoMaxSegs(0), 1);
  });
});

labTest.serial('a lab made with gsoRuns leaves GSO runs whole on every host', async (t) => {
  await withLab({ hosts: 2, name: 'gsoall', gsoRuns: true }, async (lab) => {
    t.deepEqual(await Promise.all(lab.hosts.map((h) => lab.gsoMaxSegs(h))), [65_535, 65_535]);
  });
});

/** Processes of process group `pgid` that are still running (zombies not counted), from /proc. */
function liveInGroup(pgid: number): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // "pid (comm) state ppid pgrp …": comm may hold spaces and parentheses, so split after the last ')'.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') pids.push(Number(entry));
  }
  return pids;
}

/** Registers a serial test that reads /proc; elsewhere a skipped one that says why. */
function linuxOnly(title: string, body: ImplementationFn<[]>): void {
  if (process.platform === 'linux') test.serial(title, body);
  else test.skip(`${title} [skipped: this reads /proc, which only Linux has; run it on Linux.]`, body);
}

linuxOnly('a CPU load keeps the machine busy until stop(), which leaves none of its processes behind', async (t) => {
  const load = CpuLoad.start({ busy: 1, churn: 1, maxMs: 20_000 });
  const groups = load.processGroups;
  t.is(groups.length, 2);
  await sleep(2000);
  for (const g of groups) t.true(liveInGroup(g).length > 0, `load group ${g} is not running`);
  const report = await load.stop();
  t.log(`load: ${JSON.stringify(report)}`);
  t.true(report.churnProcesses >= 1, 'the churn loop started no process');
  t.true(report.machineBusy > 0.4, `machine busy ${report.machineBusy}`);
  await sleep(200);
  for (const g of groups) t.deepEqual(liveInGroup(g), [], `load group ${g} survived stop()`);
  t.deepEqual(await load.stop(), report, 'stop() is idempotent');
});

linuxOnly('a CPU load that is never stopped ends at its time bound', async (t) => {
  const load = CpuLoad.start({ busy: 1, churn: 1, maxMs: 1000 });
  const groups = load.processGroups;
  await sleep(2500);
  for (const g of groups) t.deepEqual(liveInGroup(g), [], `load group ${g} outlived maxMs`);
  await load.stop();
});
