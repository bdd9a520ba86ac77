/**
 * `doctor --probe`: a two-way exchange with the other doctors on the group.
 * Every doctor writes a numbered probe every {@link PROBE_INTERVAL_MS} on the
 * stream {@link PROBE_STREAM} of its blipcast channel, echoes every probe it
 * hears from another doctor, and at the end writes how many it sent. From the
 * echoes of its own probes it measures the round trip to each peer; from the
 * probes it heard, what each peer's probes came through.
 *
 * The probes go through the blipcast channel (not a raw socket), so they take
 * exactly the path an application's messages take — group, port, interface,
 * firewall, the protocol's repair — and a raw datagram never lands in the
 * receive path of applications on the group. The price: blipcast repairs
 * network loss, so a probe is missing only when the repair failed too; the
 * network's own loss shows in the channel's NAK and repair counters, which
 * the result reports beside.
 *
 * {@link summarize} is pure; {@link runProbe} drives a channel.
 */

import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Channel, Message } from '../../index';
import type { CheckResult } from './report';

/** Stream of the probes: applications on the group that subscribe to their own streams never see them. */
export const PROBE_STREAM = 'blipcast-doctor';
/** Member name prefix by which doctors know each other: `blipcast-doctor@HOST`. */
export const DOCTOR_MEMBER_PREFIX = 'blipcast-doctor@';
/** One probe every 100 ms: 30 in the default 3 s, enough for a p99 that means something, little traffic. */
export const PROBE_INTERVAL_MS = 100;
/** After its last probe a doctor keeps echoing this long: doctors started up to this far apart still answer each other's whole run. */
export const PROBE_GRACE_MS = 2000;
export const DEFAULT_PROBE_SECONDS = 3;

/** What one doctor learnt about one other. */
export interface PeerTally {
  /** Session id of the peer's channel. */
  id: string;
  /** What the peer calls itself (its host name) and where its datagrams come from. */
  host: string;
  address: string | undefined;
  /** Probe numbers heard from the peer. */
  heard: Set<number>;
  /** How many probes the peer says it sent (its last message), or undefined when that never came. */
  peerSent: number | undefined;
  /** Highest probe number heard, +1: what the peer sent at least. */
  seenUpTo: number;
  /** Round trips of this doctor's probes that the peer echoed, ms, by probe number. */
  roundTripsMs: Map<number, number>;
}

export interface ProbeOutcome {
  sent: number;
  peers: PeerTally[];
  /** Channel counters over the run: the network's loss as the protocol saw and repaired it. */
  naksSent: number;
  repairsReceived: number;
  lossesDeclared: number;
  seconds: number;
  group: string;
}

type ProbeMessage = { k: 'probe'; n: number; host: string } | { k: 'echo'; to: string; n: number; host: string } | { k: 'done'; sent: number; host: string };

/** The q-quantile (0–1) of `values` by nearest rank; NaN for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function ms(v: number): string {
  return v < 10 ? v.toFixed(2) : v.toFixed(1);
}

/** One check result per peer heard, or a warning that nobody answered. */
export function summarize(o: ProbeOutcome): CheckResult[] {
  const repairs = o.naksSent === 0 ? 'no NAK needed (no loss on the way in)' : `${o.naksSent} NAK${o.naksSent > 1 ? 's' : ''} sent, ${o.repairsReceived} repair${o.repairsReceived === 1 ? '' : 's'} received (datagrams that went missing on the way in — the network or a full socket buffer — repaired by blipcast)`;
  if (o.peers.length === 0) {
    return [
      {
        name: 'probe',
        status: 'warn',
        detail: `probe: sent ${o.sent} probes in ${o.seconds} s on ${o.group}; no other doctor answered`,
        fix: `run \`blipcast doctor --probe --group ${o.group}\` (same --interface/--ttl choice) on another host at the same time`,
      },
    ];
  }
  return o.peers.map((p) => {
    // Doctors start at slightly different times: what each could hear starts at the first probe it heard (the channel starts a new source at the next message).
    const first = p.heard.size > 0 ? Math.min(...p.heard) : 0;
    const expected = Math.max(0, (p.peerSent ?? p.seenUpTo) - first);
    const lossPct = expected === 0 ? 0 : (100 * Math.max(0, expected - p.heard.size)) / expected;
    const rtts = [...p.roundTripsMs.values()];
    const echoed = rtts.length;
    const firstEchoed = echoed > 0 ? Math.min(...p.roundTripsMs.keys()) : 0;
    const echoable = o.sent - firstEchoed;
    const rtt = echoed > 0 ? `round trip p50 ${ms(quantile(rtts, 0.5))} ms, p99 ${ms(quantile(rtts, 0.99))} ms` : 'no round trip (none of our probes echoed)';
    const who = `${p.host}${p.address !== undefined ? ` (${p.address})` : ''}`;
    const detail = `probe ${who}: received ${p.heard.size}/${expected} of its probes (${lossPct.toFixed(1)}% lost), ${echoed}/${echoable} of ours echoed, ${rtt}; ${repairs}`;
    // The channel repairs loss: a probe still missing after the run means the repair failed too.
    if (echoed === 0 || lossPct > 0 || echoed < echoable) {
      return {
        name: 'probe',
        status: echoed === 0 || p.heard.size === 0 ? 'fail' : 'warn',
        detail,
        fix: echoed === 0
          ? `${p.host} hears nothing from this host: check the firewall and --ttl on this side, IGMP snooping on the switch (a querier), rp_filter on ${p.host}`
          : 'a probe missing after blipcast\'s repair means heavy loss or a peer that stalled: look at the loss between the hosts (blipcast listen --stats shows NAKs and repairs)',
      };
    }
    return { name: 'probe', status: 'pass', detail };
  });
}

/** `blipcast-doctor@HOST`, the member name of a doctor. */
export function doctorMemberName(): string {
  return `${DOCTOR_MEMBER_PREFIX}${hostname()}`;
}

function decode(data: Buffer): ProbeMessage | undefined {
  try {
    const m = JSON.parse(data.toString('utf8')) as ProbeMessage;
    return typeof m === 'object' && m !== null && typeof m.k === 'string' ? m : undefined;
  } catch {
    return undefined; // not a doctor's message: ignored, like any message of another stream
  }
}

/**
 * Runs the exchange on `channel` (opened with the member name of
 * {@link doctorMemberName}) for `seconds`, then {@link PROBE_GRACE_MS} more
 * echoing. The caller closes the channel.
 */
export async function runProbe(channel: Channel, seconds: number): Promise<ProbeOutcome> {
  const self = channel.info.sessionId;
  const host = `${hostname()}:${process.pid}`;
  const peers = new Map<string, PeerTally>();
  const sentAtMs = new Map<number, number>();
  const before = channel.stats().protocol;
  channel.subscribe(PROBE_STREAM);
  const peer = (m: Message, from: string): PeerTally => {
    let p = peers.get(m.source.id);
    if (p === undefined) {
      p = { id: m.source.id, host: from, address: m.source.address, heard: new Set(), peerSent: undefined, seenUpTo: 0, roundTripsMs: new Map() };
      peers.set(m.source.id, p);
    }
    return p;
  };
  const send = (m: ProbeMessage): void => {
    channel.write(JSON.stringify(m), PROBE_STREAM);
  };
  const onData = (m: Message): void => {
    const nowMs = performance.now();
    const msg = decode(m.data);
    if (msg === undefined) return;
    if (msg.k === 'probe') {
      const p = peer(m, msg.host);
      p.heard.add(msg.n);
      p.seenUpTo = Math.max(p.seenUpTo, msg.n + 1);
      send({ k: 'echo', to: m.source.id, n: msg.n, host });
    } else if (msg.k === 'echo' && msg.to === self) {
      const at = sentAtMs.get(msg.n);
      const p = peer(m, msg.host);
      if (at !== undefined && !p.roundTripsMs.has(msg.n)) p.roundTripsMs.set(msg.n, nowMs - at);
    } else if (msg.k === 'done') {
      peer(m, msg.host).peerSent = msg.sent;
    }
  };
  channel.readable.on('data', onData);
  const count = Math.max(1, Math.round((seconds * 1000) / PROBE_INTERVAL_MS));
  const startMs = performance.now();
  try {
    for (let n = 0; n < count; n++) {
      // Paced from the start, not from the last probe: a slow turn does not stretch the run.
      const wait = startMs + n * PROBE_INTERVAL_MS - performance.now();
      if (wait > 0) await sleep(wait);
      sentAtMs.set(n, performance.now());
      send({ k: 'probe', n, host });
    }
    await sleep(PROBE_INTERVAL_MS);
    send({ k: 'done', sent: count, host });
    await sleep(PROBE_GRACE_MS);
  } finally {
    channel.readable.removeListener('data', onData);
  }
  const after = channel.stats().protocol;
  return {
    sent: count,
    peers: [...peers.values()],
    naksSent: after.naksSent - before.naksSent,
    repairsReceived: after.repairsReceived - before.repairsReceived,
    lossesDeclared: after.lossesDeclared - before.lossesDeclared,
    seconds,
    group: channel.info.group,
  };
}
