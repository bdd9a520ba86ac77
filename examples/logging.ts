/**
 * Centralized logging on one machine: a collector writing one file per
 * source, and an application logging 1,000 records with pino through the
 * `blipcast/pino` transport, on loopback. The application ends its logger
 * (what `process.exit()` would do), the collector writes everything, and the
 * example prints the file and its first lines. Run: `node dist/examples/logging.js`.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { createLogCollector } from '../src/logs/index';

const RECORDS = 1000;

async function main(): Promise<void> {
  const group = `239.255.0.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
  // Loopback only: interface 127.0.0.1 and TTL 0 keep every datagram on this machine.
  const net = { group, interface: '127.0.0.1', ttl: 0 };
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-logs-'));
  const collector = await createLogCollector({ ...net, dir });

  // The application: pino with the blipcast transport (it runs in pino's worker thread).
  const transport = pino.transport({ target: 'blipcast/pino', options: { ...net, name: 'checkout' } });
  const logger = pino(transport);
  for (let i = 0; i < RECORDS; i++) logger.info({ order: i, total: (i * 7) % 100 }, 'order placed');
  // Ending the transport sends what is queued and waits (bounded) for the collectors it knows.
  await new Promise<void>((resolve) => {
    transport.once('close', () => resolve());
    transport.end();
  });

  const deadline = Date.now() + 10_000;
  while (collector.counters().records < RECORDS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await collector.close();

  const files = readdirSync(dir).filter((f) => f.endsWith('.ndjson'));
  for (const file of files) {
    const lines = readFileSync(join(dir, file), 'utf8').trimEnd().split('\n');
    console.log(`${file}: ${lines.length} lines`);
    for (const line of lines.slice(0, 2)) console.log(`  ${line}`);
  }
  const { records, losses } = collector.counters();
  console.log(`collector: ${records} records written, ${losses} loss line(s)`);
  rmSync(dir, { recursive: true, force: true });
  if (records !== RECORDS) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
