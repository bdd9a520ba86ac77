/**
 * Simulate before you deploy (blipcast/sim, docs/simulator.md). Two runs,
 * both on virtual time, both replayed exactly by their seed:
 *
 * 1. the membership core alone, 100 members at 10 % loss, one killed: the
 *    same figures as `node dist/bench/membership-sim.js --members 100 --loss 0.1`
 *    (the 100-member row of bench/RESULTS.md), wall time aside;
 * 2. real channels: a sender and three member receivers over lossy,
 *    jittery links; one receiver's host crashes halfway. Every message
 *    reaches the two survivors, repaired by NAKs, and the group declares
 *    the crashed one dead.
 *
 * Run: `node dist/examples/simulate.js`.
 */

import { formatMembershipScenario, runMembershipScenario, Simulation } from '../src/sim/index';
import type { Message } from '../src/index';

async function main(): Promise<void> {
  console.log(formatMembershipScenario(runMembershipScenario({ members: 100, loss: 0.1, seed: 1 })));
  console.log();

  const sim = new Simulation({ seed: 7, link: { lossRate: 0.05, delayMs: 2, jitterMs: 1 } });
  const member = (name: string) => ({ member: { name, tuning: { probeIntervalMs: 200, probeTimeoutMs: 80, announceIntervalMs: 200 } } });
  const sender = await sim.channel('tx', member('tx'));
  const received = new Map<string, Message[]>();
  for (const name of ['rx1', 'rx2', 'rx3']) {
    const channel = await sim.channel(name, member(name));
    const got: Message[] = [];
    received.set(name, got);
    void (async () => {
      for await (const m of channel) got.push(m);
    })();
  }
  await sim.runUntil(() => sim.converged(), 5000);
  const N = 1000;
  const start = sim.nowMs;
  for (let i = 0; i < N; i++) sim.at(start + i * 2, () => sender.write(`reading ${i}`));
  sim.at(start + N, () => sim.crash('rx3'));
  await sim.runUntil(() => received.get('rx1')!.length === N && received.get('rx2')!.length === N, 30_000);
  const bound = sender.group!.timers().deadBoundMs;
  await sim.runUntil(() => sim.report().membership.detections.every((d) => d.declared === d.expected), bound + 1000);

  const report = sim.report();
  for (const c of report.channels.slice(1)) {
    console.log(`${c.host}: ${c.state}, ${c.messagesReceived} of ${N} messages received, ${c.messagesLost} reported lost, ${c.naksSent} NAKs sent`);
  }
  console.log(`tx: ${report.channels[0]!.repairsSent} repairs sent; links dropped ${report.links.dropped} of ${report.links.datagrams} datagrams`);
  for (const d of report.membership.detections) console.log(`${d.host} crashed at ${d.crashedAtMs.toFixed(0)} ms: declared dead by ${d.declared} of ${d.expected} after ${d.lastMs?.toFixed(0)} ms (bound ${bound.toFixed(0)} ms)`);
  console.log(`false deaths: ${report.membership.falseDeaths}`);
  await sim.closeAll();
  const inOrder = ['rx1', 'rx2'].every((name) => received.get(name)!.every((m, i) => m.data.toString() === `reading ${i}`));
  if (!inOrder || report.membership.falseDeaths > 0) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
