import test from 'ava';
import { account, message, Sim, sourceIdOf, type SimNode } from './helpers/sim';

/** Schedules `count` messages from `sender`, `perTurn` per event-loop turn, one turn every `intervalMs`. */
function schedule(sim: Sim, sender: SimNode, count: number, perTurn: number, intervalMs: number, size = 64, startMs = 1): void {
  for (let i = 0, turn = 0; i < count; i += perTurn, turn++) {
    const first = i;
    sim.at(startMs + turn * intervalMs, () => {
      const batch: Buffer[] = [];
      for (let k = first; k < Math.min(count, first + perTurn); k++) batch.push(message(k, size));
      sim.write(sender, 0, batch);
    });
  }
}

function allDelivered(receivers: SimNode[], count: number): boolean {
  return receivers.every((r) => r.ep.stats().messagesDelivered >= count);
}

for (const receiversN of [1, 10, 100]) {
  for (const loss of [0, 0.01, 0.05, 0.2]) {
    test(`delivers every message exactly once and in order to ${receiversN} receivers at ${loss * 100}% loss`, (t) => {
      const sim = new Sim({ seed: 1000 + receiversN * 7 + Math.round(loss * 100), link: { loss, delayMs: 0.1, jitterMs: 0.05 } });
      const sender = sim.add('sender');
      const receivers = Array.from({ length: receiversN }, (_, i) => sim.add(`r${i}`, { lateJoin: 'earliest' }));
      const count = receiversN === 100 ? (loss >= 0.2 ? 400 : 1000) : 3000;
      schedule(sim, sender, count, 10, 0.2);
      const t0 = performance.now();
      const done = sim.runWhile(() => !allDelivered(receivers, count), 60_000, 5);
      const id = sourceIdOf(sender);
      for (const r of receivers) {
        const acc = account(r.events, id);
        t.deepEqual(acc.errors, []);
        t.deepEqual(acc.losses, []);
        t.is(acc.indexes.length, count);
        t.is(acc.indexes[count - 1], count - 1);
      }
      t.true(done);
      const st = sender.ep.stats();
      t.log(`virtual ${sim.nowMs.toFixed(1)} ms, wall ${(performance.now() - t0).toFixed(0)} ms; sender datagrams ${st.datagramsSent}, naks received ${st.naksReceived}, repairs ${st.repairsSent}, ncfs ${st.ncfsSent}`);
    });
  }
}
