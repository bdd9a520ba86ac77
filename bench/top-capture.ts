/**
 * The `blipcast top` capture shown in docs/observe.md and the README, made
 * again on six lab hosts (root; network namespaces, 198.18.0.0/15): `api-1`
 * (h0, 3 MB/s) and `api-2` (h5, 1 MB/s) send 100-byte lines; collectors
 * `logs-eu-1` (h1), `logs-eu-2` (h2, losing 5 % of what arrives, nftables)
 * and `archiver` (h4, its output piped to a `sleep` that never reads) listen;
 * 6 s in, `blipcast top --once --wait 3` on h3 prints what it sees.
 *
 *   node dist/bench/top-capture.js
 */

import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { BIN, capture, type Captured, waitForMembership } from '../test/lab/delivery';
import { type LabHost, withLab } from '../test/lab/lab';
import { randomGroup4, randomPort } from '../test/lab/traffic';

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'blipcast-top-capture-'));
  const input = join(dir, 'lines.txt');
  writeFileSync(input, `${'x'.repeat(99)}\n`.repeat(400_000));
  const procs: Captured[] = [];
  try {
    await withLab({ hosts: 6, name: 'topcap' }, async (lab) => {
      const [h0, h1, h2, h3, h4, h5] = lab.hosts as [LabHost, LabHost, LabHost, LabHost, LabHost, LabHost];
      const address = randomGroup4();
      const target = `${address}:${randomPort()}`;
      await lab.setLoss(h2, 0.05);
      const collector = (host: LabHost, name: string): Captured =>
        capture(name, lab.spawnNode(host, BIN, ['listen', target, '--interface', host.ipv4, '--name', name, '--meta', 'role=collector'], { stdio: ['ignore', 'ignore', 'pipe'] }));
      const eu1 = collector(h1, 'logs-eu-1');
      const eu2 = collector(h2, 'logs-eu-2');
      const archiver = capture('archiver', lab.spawn(h4, '/bin/sh', ['-c', `exec "${process.execPath}" "${BIN}" listen ${target} --interface ${h4.ipv4} --name archiver --meta role=collector | sleep 60`], { stdio: ['ignore', 'ignore', 'pipe'] }));
      procs.push(eu1, eu2, archiver);
      await waitForMembership(lab, h1, address, eu1);
      await waitForMembership(lab, h2, address, eu2);
      await sleep(500);
      const send = (host: LabHost, name: string, rate: number): Captured => {
        const fd = openSync(input, 'r');
        const p = capture(name, lab.spawnNode(host, BIN, ['send', target, '--interface', host.ipv4, '--name', name, '--meta', 'service=api', '--rate', String(rate), '--linger', '0'], { stdio: [fd, 'ignore', 'pipe'] }));
        closeSync(fd);
        return p;
      };
      procs.push(send(h0, 'api-1', 3_000_000), send(h5, 'api-2', 1_000_000));
      await sleep(6000);
      const top = capture('top', lab.spawnNode(h3, BIN, ['top', target, '--interface', h3.ipv4, '--once', '--wait', '3'], { stdio: ['ignore', 'pipe', 'pipe'] }));
      procs.push(top);
      await top.exit;
      process.stdout.write(Buffer.concat(top.chunks).toString());
      process.stderr.write(top.stderr);
    });
  } finally {
    for (const p of procs) if (p.exited === undefined) p.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
