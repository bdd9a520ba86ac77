/**
 * Socket options whose effect only shows between hosts, on both transports:
 * - two groups on one UDP port on one host, fed from another host: each socket
 *   gets exactly its own group (loopback tests cannot show this: traffic from
 *   the same host takes another path; with SO_REUSEPORT the kernel hands remote
 *   multicast to only one socket of the port, so blipcast does not set it);
 * - TTL: 0 keeps datagrams on the sending host, 1 crosses the lab bridge.
 */

import type { ExecutionContext } from 'ava';
import type { TransportRecvResult } from './fixtures/transport-recv';
import { labTest } from './lab/availability';
import { fixturePath, withLab } from './lab/lab';
import { ProcessWatch } from './lab/process-watch';
import { randomGroup4, randomPort } from './lab/traffic';

const COUNT = 300;
/** Room for every datagram of a run, so a receiver stalled by a busy machine loses none (node:dgram cannot count its drops). */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

async function sharedPort(t: ExecutionContext, kind: 'native' | 'dgram'): Promise<void> {
  await withLab({ hosts: 2, name: `sp${kind.slice(0, 3)}` }, async (lab) => {
    const [a, b] = [lab.host(0), lab.host(1)];
    const port = randomPort();
    const g1 = randomGroup4();
    let g2 = randomGroup4();
    while (g2 === g1) g2 = randomGroup4();
    const receivers = [g1, g2].map((g) => new ProcessWatch(lab.spawnNode(b, fixturePath('transport-recv'), ['--kind', kind, '--group', g, '--port', String(port), '--iface', b.ipv4, '--expect', String(COUNT), '--idle-ms', '1500', '--rcvbuf', String(RECV_BUFFER_BYTES)]), `recv ${g}@${b.name}`));
    for (const r of receivers) await r.waitForLine(/^ready$/);
    for (const g of [g1, g2]) {
      await new ProcessWatch(lab.spawnNode(a, fixturePath('transport-send'), ['--kind', kind, '--group', g, '--port', String(port), '--iface', a.ipv4, '--count', String(COUNT)]), `send ${g}@${a.name}`).result();
    }
    const [r1, r2] = await Promise.all(receivers.map((r) => r.result<TransportRecvResult>()));
    t.log(`${kind}: ${g1} got ${JSON.stringify(r1!.destinations)}, ${g2} got ${JSON.stringify(r2!.destinations)}`);
    t.is(r1!.unique, COUNT, `the ${g1} socket got ${r1!.unique} of ${COUNT}`);
    t.is(r2!.unique, COUNT, `the ${g2} socket got ${r2!.unique} of ${COUNT}`);
    if (kind === 'native') {
      t.deepEqual(r1!.destinations, { [g1]: COUNT }, 'nothing of the other group');
      t.deepEqual(r2!.destinations, { [g2]: COUNT }, 'nothing of the other group');
    } else {
      t.is(r1!.received, COUNT, 'nothing of the other group');
      t.is(r2!.received, COUNT, 'nothing of the other group');
    }
  });
}

labTest('native: two groups on one port of one host each receive only their own traffic from another host', (t) => sharedPort(t, 'native'));
labTest('dgram: two groups on one port of one host each receive only their own traffic from another host', (t) => sharedPort(t, 'dgram'));

async function ttlReach(t: ExecutionContext, kind: 'native' | 'dgram'): Promise<void> {
  await withLab({ hosts: 2, name: `tt${kind.slice(0, 3)}` }, async (lab) => {
    const [a, b] = [lab.host(0), lab.host(1)];
    const counts: Record<string, number> = {};
    for (const ttl of [0, 1]) {
      const port = randomPort();
      const group = randomGroup4();
      const rx = new ProcessWatch(lab.spawnNode(b, fixturePath('transport-recv'), ['--kind', kind, '--group', group, '--port', String(port), '--iface', b.ipv4, '--expect', '100', '--idle-ms', '1000', '--max-ms', '3000', '--rcvbuf', String(RECV_BUFFER_BYTES)]), `recv ttl ${ttl}`);
      await rx.waitForLine(/^ready$/);
      await new ProcessWatch(lab.spawnNode(a, fixturePath('transport-send'), ['--kind', kind, '--group', group, '--port', String(port), '--iface', a.ipv4, '--count', '100', '--ttl', String(ttl)]), `send ttl ${ttl}`).result();
      counts[`ttl ${ttl}`] = (await rx.result<TransportRecvResult>()).unique;
    }
    t.log(`${kind}: ${JSON.stringify(counts)}`);
    t.is(counts['ttl 0'], 0, 'TTL 0 stays on the sending host');
    t.is(counts['ttl 1'], 100, 'TTL 1 reaches the other lab host');
  });
}

labTest('native: TTL 0 keeps multicast on the sending host and TTL 1 reaches the next host', (t) => ttlReach(t, 'native'));
labTest('dgram: TTL 0 keeps multicast on the sending host and TTL 1 reaches the next host', (t) => ttlReach(t, 'dgram'));
