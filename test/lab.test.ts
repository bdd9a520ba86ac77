/**
 * The namespace lab itself: hosts reach each other, multicast floods the
 * bridge, injected loss has the requested rate, and no namespace outlives the
 * test or the process that made it.
 */

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { labTest } from './lab/availability';
import { existingNamespaces, fixturePath, IP, Lab, listNamespaces, withLab } from './lab/lab';
import { ProcessWatch } from './lab/process-watch';
import { randomGroup4, randomPort, transfer } from './lab/traffic';
import { runSync } from './lab/command';

labTest('hosts reach each other by IPv4 unicast', async (t) => {
  await withLab({ hosts: 2, name: 'uni4' }, async (lab) => {
    const [a, b] = [lab.host(0), lab.host(1)];
    const { sender, receivers } = await transfer(lab, { family: 4, from: a, to: [b], port: randomPort(), count: 50 });
    t.deepEqual(sender, { sent: 50, errors: 0 });
    t.is(receivers[0]!.unique, 50);
    t.deepEqual(receivers[0]!.sources, { [a.ipv4]: 50 });
  });
});

labTest('hosts reach each other by IPv6 unicast at once, without waiting for DAD', async (t) => {
  await withLab({ hosts: 3, name: 'uni6' }, async (lab) => {
    const a = lab.host(0);
    const c = lab.host(2);
    const { receivers } = await transfer(lab, { family: 6, from: a, to: [c], port: randomPort(), count: 50 });
    t.is(receivers[0]!.unique, 50);
    t.deepEqual(receivers[0]!.sources, { [a.ipv6]: 50 });
  });
});

labTest('a multicast datagram from one host reaches every other host', async (t) => {
  await withLab({ hosts: 3, name: 'mc4' }, async (lab) => {
    const a = lab.host(0);
    const { receivers } = await transfer(lab, { family: 4, from: a, to: [1, 2], group: randomGroup4(), port: randomPort(), count: 100 });
    for (const r of receivers) {
      t.is(r.unique, 100);
      t.is(r.received, 100, 'no duplicates on a single bridge');
      t.deepEqual(r.sources, { [a.ipv4]: 100 });
    }
  });
});

labTest('a host that has not joined the group receives nothing from it', async (t) => {
  await withLab({ hosts: 2, name: 'nojoin' }, async (lab) => {
    const port = randomPort();
    // Bound to the port but not a member: the kernel must not deliver the group's datagrams.
    const idle = new ProcessWatch(lab.spawnNode(1, fixturePath('udp-recv'), ['--family', '4', '--port', String(port), '--max-ms', '1500']), 'udp-recv@h1');
    await idle.waitForLine(/^ready$/);
    const group = randomGroup4();
    const sent = new ProcessWatch(lab.spawnNode(0, fixturePath('udp-send'), ['--to', group, '--port', String(port), '--count', '20', '--iface', lab.host(0).ipv4]), 'udp-send@h0');
    t.is((await sent.result<{ sent: number }>()).sent, 20);
    t.is((await idle.result<{ received: number }>()).received, 0);
  });
});

// 5000 datagrams at p = 0.2: the number dropped is Binomial(5000, 0.2), mean 1000,
// standard deviation 28.3. ±6 σ (830..1170) fails a correct rule about once in 10^9 runs.
labTest('setLoss drops about the requested fraction of incoming UDP and clearLoss restores delivery', async (t) => {
  await withLab({ hosts: 2, name: 'loss' }, async (lab) => {
    const [a, b] = [lab.host(0), lab.host(1)];
    const count = 5000;
    await lab.setLoss(b, 0.2);
    const before = await lab.udpCounters(b);
    const lossy = await transfer(lab, { family: 4, from: a, to: [b], port: randomPort(), count, burst: 25, gapMs: 1, idleMs: 1500 });
    const after = await lab.udpCounters(b);
    const dropped = await lab.lossDrops(b);
    const bufferDrops = after.rcvbufErrors - before.rcvbufErrors;
    const received = lossy.receivers[0]!.unique;
    t.log(`loss 0.2: sent ${count}, received ${received}, dropped by nft ${dropped}, socket-buffer drops ${bufferDrops}`);
    t.is(lossy.sender.sent, count);
    t.true(dropped >= 830 && dropped <= 1170, `nft dropped ${dropped} of ${count}, expected 1000 ± 170`);
    t.is(received + dropped + bufferDrops, count, 'every datagram is either received or accounted for as dropped');
    const lossRate = 1 - received / count;
    t.true(lossRate >= 0.166 && lossRate <= 0.234 + bufferDrops / count, `measured loss ${lossRate.toFixed(4)}`);

    await lab.clearLoss(b);
    t.is(await lab.lossDrops(b), 0);
    const before2 = await lab.udpCounters(b);
    const clean = await transfer(lab, { family: 4, from: a, to: [b], port: randomPort(), count, burst: 25, gapMs: 1, idleMs: 1500 });
    const bufferDrops2 = (await lab.udpCounters(b)).rcvbufErrors - before2.rcvbufErrors;
    t.log(`after clearLoss: received ${clean.receivers[0]!.unique} of ${count}, socket-buffer drops ${bufferDrops2}`);
    t.is(await lab.lossDrops(b), 0, 'no loss rule is left to count drops');
    // Exact: a datagram is either received or dropped by a full socket buffer (a receiver stalled by a loaded machine), never by a rule.
    t.is(clean.receivers[0]!.unique + bufferDrops2, count);
    t.true(bufferDrops2 <= count / 100, `${bufferDrops2} socket-buffer drops: the paced sender should almost never overrun the receiver`);
  });
});

labTest('setLoss limited to a port drops only that port', async (t) => {
  await withLab({ hosts: 2, name: 'lossp' }, async (lab) => {
    const lossyPort = randomPort();
    const cleanPort = lossyPort === 59_999 ? 20_000 : lossyPort + 1;
    await lab.setLoss(1, 1, { port: lossyPort });
    const lossy = await transfer(lab, { family: 6, from: 0, to: [1], port: lossyPort, count: 100, maxMs: 2000 });
    const clean = await transfer(lab, { family: 6, from: 0, to: [1], port: cleanPort, count: 100 });
    t.is(lossy.receivers[0]!.received, 0);
    t.is(await lab.lossDrops(1), 100);
    t.is(clean.receivers[0]!.unique, 100);
  });
});

labTest('destroy removes every namespace, kills the processes in them, and is idempotent', async (t) => {
  const lab = await Lab.create({ hosts: 3, name: 'destroy' });
  t.is(lab.namespaces.length, 4);
  t.deepEqual((await existingNamespaces(lab)).sort(), [...lab.namespaces].sort());
  // Nothing of the lab lives in the root namespace: no veth end, no bridge.
  const rootLinks = runSync(IP, ['-o', 'link', 'show']).stdout;
  t.false(rootLinks.includes(lab.id), 'no root-namespace link points into the lab');
  t.false(/^\d+: (p\d+|br0)[@:]/m.test(rootLinks), 'no bridge or bridge port in the root namespace');
  const sleeper = lab.spawn(1, 'sleep', ['600']);
  const sleeperExit = new Promise<NodeJS.Signals | null>((resolve) => sleeper.once('exit', (_code, signal) => resolve(signal)));
  await lab.destroy();
  await lab.destroy();
  t.is(await sleeperExit, 'SIGKILL');
  const all = await listNamespaces();
  t.deepEqual(lab.namespaces.filter((ns) => all.includes(ns)), []);
  t.throws(() => lab.spawn(0, 'true'), { message: /destroyed/ });
});

labTest('withLab removes the lab when the test body throws', async (t) => {
  let names: string[] = [];
  await t.throwsAsync(
    withLab({ hosts: 2, name: 'throws' }, async (lab) => {
      names = lab.namespaces;
      lab.spawn(0, 'sleep', ['600']);
      throw new Error('deliberate failure inside the lab');
    }),
    { message: 'deliberate failure inside the lab' },
  );
  t.is(names.length, 3);
  const all = await listNamespaces();
  t.deepEqual(names.filter((ns) => all.includes(ns)), []);
});

/** True once `pid` has exited (gone, or a zombie nobody reaps), polling for up to 2 s: SIGKILL is delivered asynchronously. */
async function processGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 40; i++) {
    try {
      if (/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    } catch {
      return true;
    }
    await sleep(50);
  }
  return false;
}

/** Starts the lab-owner fixture as a separate process and returns it with the namespaces it created. */
async function startOwner(mode: 'wait' | 'throw'): Promise<{ owner: ProcessWatch; namespaces: string[] }> {
  const owner = new ProcessWatch(spawn(process.execPath, [fixturePath('lab-owner'), '--mode', mode], { stdio: ['ignore', 'pipe', 'pipe'] }), 'lab-owner');
  const line = await owner.waitForLine(/^\{/, 15_000);
  return { owner, namespaces: (JSON.parse(line) as { namespaces: string[] }).namespaces };
}

labTest('a lab owner stopped by SIGTERM removes its namespaces on the way out', async (t) => {
  const { owner, namespaces } = await startOwner('wait');
  t.is(namespaces.length, 3);
  t.deepEqual(namespaces.filter((ns) => !runSync(IP, ['netns', 'list']).stdout.includes(ns)), [], 'the lab exists while its owner runs');
  owner.child.kill('SIGTERM');
  const exit = await owner.waitForExit();
  t.is(exit.signal, 'SIGTERM', 'the exit hook re-raises the signal after cleaning up');
  const all = await listNamespaces();
  t.deepEqual(namespaces.filter((ns) => all.includes(ns)), []);
});

labTest('a lab owner dying of an uncaught exception removes its namespaces', async (t) => {
  const { owner, namespaces } = await startOwner('throw');
  const exit = await owner.waitForExit();
  t.not(exit.code, 0);
  t.regex(owner.stderr, /deliberate uncaught exception/);
  const all = await listNamespaces();
  t.deepEqual(namespaces.filter((ns) => all.includes(ns)), []);
});

// Serial: every Lab.create in this file also runs cleanupStale, and would race this test for the stale lab.
labTest.serial('cleanupStale removes the namespaces of an owner killed with SIGKILL', async (t) => {
  const { owner, namespaces } = await startOwner('wait');
  owner.child.kill('SIGKILL');
  await owner.waitForExit();
  // The owner's `sleep` child is orphaned inside the lab; cleanupStale must kill it too.
  const orphans = runSync(IP, ['netns', 'pids', namespaces[0]!], { allowFailure: true }).stdout.trim();
  const removed = await Lab.cleanupStale();
  // A concurrent test run in another process may have removed some first (same code); what matters is none is left.
  t.log(`removed ${removed.filter((ns) => namespaces.includes(ns)).length} of ${namespaces.length} stale namespaces; orphan pids: ${orphans || 'none'}`);
  const all = await listNamespaces();
  t.deepEqual(namespaces.filter((ns) => all.includes(ns)), []);
  for (const pid of orphans.split(/\s+/).filter((p) => p !== '').map(Number)) t.true(await processGone(pid), `orphan ${pid} is gone`);
});
