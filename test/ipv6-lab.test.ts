/**
 * IPv6 multicast through the project's transports, between two lab hosts.
 * (IPv6 multicast does not loop back on `lo` here, so the loopback transport
 * tests cannot cover it.) Host h0 sends with `createTransport`, host h1
 * receives with it; both kinds, a site-local (ff15::) and a link-local (ff02::)
 * group.
 */

import test, { type ExecutionContext } from 'ava';
import { loadNative } from '../src/addon/addon';
import type { TransportRecvResult } from './fixtures/transport-recv';
import { inCi, labTest } from './lab/availability';
import { fixturePath, IP, type Lab, type LabHost, withLab } from './lab/lab';
import { ProcessWatch } from './lab/process-watch';
import { randomGroup6, randomPort } from './lab/traffic';

interface TransportSendResult {
  sent: number;
  kind: string;
}

const COUNT = 500;
/**
 * Room for all COUNT datagrams, so a receiver stalled by a busy machine still
 * loses none. The native transport gets it (SO_RCVBUFFORCE as root); node:dgram
 * is capped at net.core.rmem_max, hence the exact accounting below.
 */
const RECV_BUFFER_BYTES = 4 * 1024 * 1024;

function receiver(lab: Lab, host: LabHost, kind: string, group: string, port: number, extra: string[] = []): ProcessWatch {
  const args = ['--kind', kind, '--group', group, '--port', String(port), '--iface', host.ifname, '--expect', String(COUNT), '--rcvbuf', String(RECV_BUFFER_BYTES), ...extra];
  return new ProcessWatch(lab.spawnNode(host, fixturePath('transport-recv'), args), `transport-recv(${kind})@${host.name}`);
}

function sender(lab: Lab, host: LabHost, kind: string, group: string, port: number): ProcessWatch {
  const args = ['--kind', kind, '--group', group, '--port', String(port), '--iface', host.ifname, '--count', String(COUNT)];
  return new ProcessWatch(lab.spawnNode(host, fixturePath('transport-send'), args), `transport-send(${kind})@${host.name}`);
}

/** Link-local groups are sent from the link-local address, other scopes from the global one. */
async function expectedSource(lab: Lab, host: LabHost, group: string): Promise<string> {
  if (!group.toLowerCase().startsWith('ff02:')) return host.ipv6;
  const out = (await lab.exec(host, IP, ['-6', '-o', 'addr', 'show', 'dev', host.ifname, 'scope', 'link'])).stdout;
  const m = /inet6 (fe80::[0-9a-f:]+)\//.exec(out);
  if (!m) throw new Error(`no link-local address on ${host.name}: ${out}`);
  return m[1]!;
}

async function groupDelivery(t: ExecutionContext, kind: 'dgram' | 'native', group: string): Promise<void> {
  await withLab({ hosts: 2, name: `v6${kind.slice(0, 3)}` }, async (lab) => {
    const [a, b] = [lab.host(0), lab.host(1)];
    const port = randomPort();
    const rx = receiver(lab, b, kind, group, port);
    await rx.waitForLine(/^ready$/);
    const before = await lab.udpCounters(b);
    const sent = await sender(lab, a, kind, group, port).result<TransportSendResult>();
    const got = await rx.result<TransportRecvResult>();
    const bufferDrops = (await lab.udpCounters(b)).rcvbuf6Errors - before.rcvbuf6Errors;
    t.log(`${kind} ${group}: sent ${sent.sent}, received ${got.received} (${got.unique} distinct) in ${got.stats.batches} batches, socket-buffer drops ${bufferDrops} (transport saw ${got.stats.kernelDrops}), rcvbuf ${got.info.recvBufferBytes}; destinations ${JSON.stringify(got.destinations)}`);
    t.is(sent.kind, kind);
    t.is(got.kind, kind);
    t.is(got.info.family, 6);
    t.is(got.info.interface, b.ifname);
    t.is(sent.sent, COUNT);
    // The lab itself loses nothing: each datagram is delivered once, or dropped by a full socket buffer and counted there.
    t.is(got.unique + bufferDrops, COUNT, 'every datagram delivered or counted as a socket-buffer drop');
    t.is(got.received, got.unique, 'no datagram delivered twice');
    t.true(bufferDrops <= COUNT / 100, `${bufferDrops} socket-buffer drops`);
    t.is(got.corrupt, 0);
    t.is(got.stats.datagramsReceived, got.received);
    if (kind === 'native') t.is(got.stats.kernelDrops, bufferDrops, 'SO_RXQ_OVFL agrees with the kernel counter');
    // A link-local source may carry its zone: node:dgram says 'fe80::…%eth0', the native transport (for now) plain 'fe80::…'.
    // Either way the zone, when present, must be the receiving interface.
    for (const source of Object.keys(got.sources)) {
      const zone = source.split('%')[1];
      if (zone !== undefined) t.is(zone, b.ifname, `zone of ${source}`);
    }
    const sources = Object.fromEntries(Object.entries(got.sources).map(([address, n]) => [address.split('%')[0], n]));
    t.deepEqual(sources, { [await expectedSource(lab, a, group)]: COUNT });
    if (kind === 'native') t.deepEqual(got.destinations, { [group]: COUNT }, 'IPV6_RECVPKTINFO reports the group as destination');
    else t.deepEqual(got.destinations, { undefined: COUNT }, 'node:dgram cannot tell the destination');
  });
}

const nativeLoad = loadNative();
const nativeMissing = nativeLoad.error ? nativeLoad.error.message : nativeLoad.addon.platformSupported ? undefined : `unsupported on ${process.platform}`;

/** The native variants need the addon; without it they fail under CI (the addon is built by `npm ci`) and are skipped elsewhere. */
function nativeTest(title: string, body: (t: ExecutionContext) => Promise<void>): void {
  if (nativeMissing === undefined) labTest(title, body);
  else if (inCi()) labTest(title, async (t) => t.fail(`native addon unavailable: ${nativeMissing}`));
  else test.skip(`${title} [skipped: the native addon is unavailable (${nativeMissing}); build it with 'npm run build:native', which needs a C++17 compiler and Python for node-gyp.]`, body);
}

labTest('dgram transport: a site-local IPv6 group reaches another lab host', (t) => groupDelivery(t, 'dgram', randomGroup6()));
labTest('dgram transport: a link-local IPv6 group reaches another lab host', (t) => groupDelivery(t, 'dgram', `ff02::b1:${randomPort().toString(16)}`));
nativeTest('native transport: a site-local IPv6 group reaches another lab host, with the group as destination', (t) => groupDelivery(t, 'native', randomGroup6()));
nativeTest('native transport: a link-local IPv6 group reaches another lab host, with the group as destination', (t) => groupDelivery(t, 'native', `ff02::b1:${randomPort().toString(16)}`));

nativeTest('native transport: a receiver of another group on the same port and host gets none of these datagrams', async (t) => {
  await withLab({ hosts: 2, name: 'v6other' }, async (lab) => {
    const [a, b] = [lab.host(0), lab.host(1)];
    const port = randomPort();
    const group = randomGroup6();
    let other = randomGroup6();
    while (other === group) other = randomGroup6();
    const member = receiver(lab, b, 'native', group, port);
    // Same port on the same host, another group: with IP_MULTICAST_ALL off it must see nothing.
    const bystander = receiver(lab, b, 'native', other, port, ['--max-ms', '3000']);
    await Promise.all([member.waitForLine(/^ready$/), bystander.waitForLine(/^ready$/)]);
    const before = await lab.udpCounters(b);
    await sender(lab, a, 'native', group, port).result<TransportSendResult>();
    const got = await member.result<TransportRecvResult>();
    const none = await bystander.result<TransportRecvResult>();
    const bufferDrops = (await lab.udpCounters(b)).rcvbuf6Errors - before.rcvbuf6Errors;
    t.log(`member received ${got.unique} of ${COUNT} (socket-buffer drops ${bufferDrops}); bystander received ${none.received}`);
    t.is(got.unique + bufferDrops, COUNT, 'the member gets the group');
    t.is(none.received, 0, 'the bystander gets nothing of it');
    t.is(none.stats.kernelDrops, 0, 'not even datagrams it would have dropped');
  });
});
