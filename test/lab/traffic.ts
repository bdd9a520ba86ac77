/**
 * Moving test traffic between lab hosts with the udp-send / udp-recv fixtures:
 * start a receiver, wait until it is bound (and joined), run a sender, collect
 * both results.
 */

import { randomInt } from 'node:crypto';
import type { UdpRecvResult } from '../fixtures/udp-recv';
import { fixturePath, type HostRef, type Lab } from './lab';
import { ProcessWatch } from './process-watch';

export type { UdpRecvResult } from '../fixtures/udp-recv';

export interface UdpSendResult {
  sent: number;
  errors: number;
}

export interface TransferOptions {
  family: 4 | 6;
  from: HostRef;
  /** Receiving hosts; each runs one udp-recv. */
  to: readonly HostRef[];
  /** Multicast group; without it the datagrams go unicast to the single receiver's address. */
  group?: string;
  port: number;
  count: number;
  sizeBytes?: number;
  /** Datagrams per burst and pause between bursts: the pacing of the sender. */
  burst?: number;
  gapMs?: number;
  /** Receivers stop after this long without a datagram, once one has arrived. */
  idleMs?: number;
  /** Receivers stop after this long in any case (counted from when they are ready). Default 20 s. */
  maxMs?: number;
}

export interface TransferResult {
  sender: UdpSendResult;
  receivers: UdpRecvResult[];
}

/** A random port in 20000–60000, as every test here picks its ports. */
export function randomPort(): number {
  return randomInt(20_000, 60_000);
}

/** A random IPv4 group in 239.255.0.0/16 (organization-local scope). */
export function randomGroup4(): string {
  return `239.255.${randomInt(256)}.${randomInt(1, 255)}`;
}

/** A random IPv6 group in ff15::/16 (site-local scope, transient). */
export function randomGroup6(): string {
  return `ff15::b1:${randomInt(1, 0xffff).toString(16)}`;
}

/** Runs one sender and its receivers to completion. */
export async function transfer(lab: Lab, options: TransferOptions): Promise<TransferResult> {
  const from = lab.host(options.from);
  const receivers = options.to.map((ref) => lab.host(ref));
  if (options.group === undefined && receivers.length !== 1) throw new RangeError('unicast transfer needs exactly one receiver');
  const watches = receivers.map((host) => {
    const args = ['--family', String(options.family), '--port', String(options.port), '--expect', String(options.count), '--idle-ms', String(options.idleMs ?? 1000), '--max-ms', String(options.maxMs ?? 20_000)];
    if (options.group !== undefined) args.push('--group', options.group, '--iface', options.family === 6 ? host.ifname : host.ipv4);
    return new ProcessWatch(lab.spawnNode(host, fixturePath('udp-recv'), args), `udp-recv@${host.name}`);
  });
  await Promise.all(watches.map((w) => w.waitForLine(/^ready$/)));
  const target = options.group ?? (options.family === 6 ? receivers[0]!.ipv6 : receivers[0]!.ipv4);
  const sendArgs = [
    '--family', String(options.family), '--to', target, '--port', String(options.port), '--count', String(options.count),
    '--size', String(options.sizeBytes ?? 64), '--burst', String(options.burst ?? 20), '--gap-ms', String(options.gapMs ?? 1),
    '--iface', options.family === 6 ? from.ifname : from.ipv4,
  ];
  const sender = new ProcessWatch(lab.spawnNode(from, fixturePath('udp-send'), sendArgs), `udp-send@${from.name}`);
  const sent = await sender.result<UdpSendResult>();
  const received = await Promise.all(watches.map((w) => w.result<UdpRecvResult>()));
  return { sender: sent, receivers: received };
}
