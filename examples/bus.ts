/**
 * A service bus with no broker, on loopback: two servers and a client
 * (request/reply and a gather), then 100 tasks over three workers, one of
 * which leaves in the middle of its tasks — they are offered again and every
 * task still gets exactly one result. Run: `node dist/examples/bus.js`.
 */

import { openBus } from '../src/bus/index';

async function main(): Promise<void> {
  const group = `239.255.0.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
  // Loopback only: interface 127.0.0.1 and TTL 0 keep every datagram on this machine.
  const net = { group, interface: '127.0.0.1', ttl: 0 };
  const [a, b, c, client] = await Promise.all(['a', 'b', 'c', 'client'].map((name) => openBus({ ...net, name })));

  for (const bus of [a!, b!]) bus.serve('time', () => `${bus.name}: ${new Date().toISOString()}`);
  const reply = await client!.request('time');
  console.log(`request → ${reply.data} (answered by ${reply.from.name}, attempt ${reply.attempt})`);

  const gather = client!.gather('time', undefined, { deadlineMs: 2000 });
  for await (const r of gather) console.log(`gather  → ${r.data}`);
  const summary = await gather.summary;
  console.log(`gather: ${summary.replied.length} of ${summary.expected.length} answered, missing ${summary.missing.length}`);

  // Three workers of 'square'; worker c leaves (closes) while it holds tasks.
  let runs = 0;
  for (const bus of [a!, b!, c!]) {
    bus.work('square', async (task) => {
      runs++;
      await new Promise((r) => setTimeout(r, 5));
      return String(Number(task.data) ** 2);
    }, { capacity: 4 });
  }
  while (client!.workers('square').length < 3) await new Promise((r) => setTimeout(r, 50));
  const started = performance.now();
  const tasks = Array.from({ length: 100 }, (_, i) => client!.submit('square', String(i), { leaseMs: 2000 }));
  setTimeout(() => void c!.close(), 20);
  const results = await Promise.all(tasks);
  const right = results.filter((r, i) => r.data.toString() === String(i * i)).length;
  const stats = client!.stats();
  console.log(`tasks: ${right}/100 right in ${Math.round(performance.now() - started)} ms; handler runs ${runs}, re-offered ${stats.tasksReoffered}, late results ${stats.resultsLate}`);

  await Promise.all([a!, b!, client!].map((bus) => bus.close()));
  if (right !== 100) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
