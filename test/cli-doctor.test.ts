/**
 * `blipcast doctor` (docs/doctor.md): the pure checks on fixture data — each
 * failure explains itself and carries its fix — and the command as a user
 * runs it on loopback (127.0.0.1, TTL 0, a random 239.255.x group): exit code
 * and JSON, two doctors probing each other, bad arguments (exit 2).
 * test/doctor-lab.test.ts runs it on namespace hosts.
 */

import test from 'ava';
import { spawn, spawnSync } from 'node:child_process';
import { checkReceiveBuffer, neededBytes } from '../src/cli/doctor/buffer';
import { checkFirewall, findDrops, parseIptablesSave, parseNftRuleset, type Datagram } from '../src/cli/doctor/firewall';
import { checkInterface, checkRoute, checkRpFilter, checkTtl, interfaceName, linkFromFlags, linkFromIpJson } from '../src/cli/doctor/interface';
import { checkIgmp, checkMulticastAll, devicesWith, ipv6Hex, parseIgmp, parseIgmp6 } from '../src/cli/doctor/membership';
import { quantile, summarize, type PeerTally } from '../src/cli/doctor/probe';
import { exitCode, formatText, report, type CheckResult } from '../src/cli/doctor/report';
import { BIN, LOOPBACK, randomGroup } from './helpers/cli';

const ETH0 = linkFromFlags('eth0', 0x1003, 'up'); // UP | BROADCAST | MULTICAST
const LO = linkFromFlags('lo', 0x9, 'unknown'); // UP | LOOPBACK

/** A failure names what is wrong and says what to run. */
function assertExplainedFailure(t: import('ava').ExecutionContext, c: CheckResult, detail: RegExp, fix: RegExp): void {
  t.is(c.status, 'fail', c.detail);
  t.regex(c.detail, detail);
  t.regex(c.fix ?? '', fix);
}

// ------------------------------------------------------------ interface, route, rp_filter, TTL

test('an interface with the MULTICAST flag off fails with the ip link command that turns it on', (t) => {
  const link = linkFromFlags('eth0', 0x1003 & ~0x1000, 'up');
  assertExplainedFailure(t, checkInterface('eth0', link, ['eth0', 'lo']), /eth0: MULTICAST flag off/, /^ip link set eth0 multicast on$/);
});

test('an interface that is down fails with ip link set up', (t) => {
  assertExplainedFailure(t, checkInterface('eth0', linkFromFlags('eth0', 0x1002), ['eth0']), /eth0: down/, /^ip link set eth0 up$/);
});

test('an interface the host does not have fails and lists the ones it has', (t) => {
  assertExplainedFailure(t, checkInterface('198.18.9.9', undefined, ['eth0', 'lo']), /198\.18\.9\.9: not on this host \(it has eth0, lo\)/, /--interface/);
});

test('an up multicast interface passes; loopback passes without the MULTICAST flag; no carrier warns', (t) => {
  t.is(checkInterface('eth0', ETH0, []).status, 'pass');
  t.is(checkInterface('eth0', ETH0, []).detail, 'interface eth0: up, multicast');
  t.is(checkInterface('127.0.0.1', LO, []).status, 'pass');
  const noCarrier = checkInterface('eth0', linkFromFlags('eth0', 0x1003, 'lowerlayerdown'), []);
  t.is(noCarrier.status, 'warn');
  t.truthy(noCarrier.fix);
});

test('ip -j link flags read like sysfs flags', (t) => {
  t.deepEqual(linkFromIpJson({ ifname: 'eth0', flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'], operstate: 'UP' }), { name: 'eth0', up: true, multicast: true, loopback: false, operstate: 'up' });
  t.deepEqual(linkFromIpJson({ ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'] }), { name: 'lo', up: true, multicast: false, loopback: true });
});

test('an interface address maps to its name; a name is taken as given', (t) => {
  const addresses = { lo: [{ address: '127.0.0.1', family: 'IPv4', internal: true }], eth0: [{ address: '198.18.4.1', family: 'IPv4', internal: false }, { address: 'fe80::1', family: 'IPv6', internal: false }] };
  t.is(interfaceName('127.0.0.1', addresses), 'lo');
  t.is(interfaceName('fe80::1%eth0', addresses), 'eth0');
  t.is(interfaceName('eth0', addresses), 'eth0');
  t.is(interfaceName('10.1.1.1', addresses), undefined);
});

test('no route to the group without --interface fails and says to pass --interface or add a multicast route', (t) => {
  const c = checkRoute('239.255.1.2:5000', 4, undefined, { ok: false, error: 'Network is unreachable' }, 'eth0');
  assertExplainedFailure(t, c, /no default route and no multicast route/, /--interface[\s\S]*ip route add 224\.0\.0\.0\/4 dev eth0/);
  t.regex(checkRoute('[ff15::1]:5000', 6, undefined, { ok: false, error: 'Network is unreachable' }, 'eth0').fix!, /ip -6 route add ff00::\/8 dev eth0/);
});

test('a route names the interface the group is joined on; the default route is pointed out', (t) => {
  const viaDefault = checkRoute('239.255.1.2:5000', 4, undefined, { ok: true, route: { dev: 'eth0', gateway: '198.18.0.254' } });
  t.is(viaDefault.status, 'pass');
  t.regex(viaDefault.detail, /out of eth0 \(the default route's interface/);
  t.is(checkRoute('239.255.1.2:5000', 4, 'lo', { ok: true, route: { dev: 'lo' } }).status, 'pass');
  t.is(checkRoute('239.255.1.2:5000', 4, 'eth0', undefined).status, 'skip');
});

test('no route out of the given interface fails: sends would (IPv6 on lo has none by default)', (t) => {
  const c = checkRoute('[ff15::1]:5000', 6, 'lo', { ok: false, error: 'Network is unreachable' });
  assertExplainedFailure(t, c, /none out of lo .* every send fails \(ENETUNREACH\)/, /^ip -6 route add ff00::\/8 dev lo table local$/);
});

test('conntrack sees multicast as new: an established,related accept does not let it past a drop policy', (t) => {
  const ruleset = JSON.stringify({ nftables: [
    { chain: { family: 'inet', table: 'f', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'drop' } },
    { rule: { family: 'inet', table: 'f', chain: 'in', handle: 2, expr: [{ match: { op: 'in', left: { ct: { key: 'state' } }, right: ['established', 'related'] } }, { accept: null }] } },
  ] });
  assertExplainedFailure(t, checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(ruleset, TO(5000)) }], TO(5000)), /nft chain inet f in: policy drop, and no rule accepts udp to port 5000$/, /^nft insert rule inet f in udp dport 5000 accept$/);
});

test('strict rp_filter warns with the sysctl that makes it loose; the larger of all and the interface applies', (t) => {
  const strict = checkRpFilter(ETH0, 4, { all: 1, iface: 0 });
  t.is(strict.status, 'warn');
  t.regex(strict.detail, /strict \(1; all=1, eth0=0/);
  t.regex(strict.fix!, /^sysctl -w net\.ipv4\.conf\.eth0\.rp_filter=2/);
  t.is(checkRpFilter(ETH0, 4, { all: 1, iface: 2 }).status, 'pass');
  t.is(checkRpFilter(ETH0, 4, { all: 0, iface: 0 }).status, 'pass');
  t.is(checkRpFilter(LO, 4, { all: 1, iface: 1 }).status, 'pass');
  t.is(checkRpFilter(ETH0, 6, {}).status, 'skip');
  t.is(checkRpFilter(ETH0, 4, {}).status, 'skip');
});

test('TTL 0 on loopback passes; on a real interface it warns that nothing leaves the host', (t) => {
  t.is(checkTtl(0, true, LO, '239.255.1.2', 4).status, 'pass');
  const c = checkTtl(0, true, ETH0, '239.255.1.2', 4);
  t.is(c.status, 'warn');
  t.regex(c.detail, /nothing leaves this host/);
  t.regex(c.fix!, /--ttl 1/);
  t.regex(checkTtl(1, false, ETH0, '239.255.1.2', 4).detail, /TTL 1 \(default\): this subnet/);
  t.regex(checkTtl(4, true, ETH0, '239.255.1.2', 4).detail, /up to 3 multicast routers/);
  t.is(checkTtl(4, true, ETH0, '224.0.0.251', 4).status, 'warn');
  t.is(checkTtl(4, true, ETH0, 'ff02::1', 6).status, 'warn');
});

// ------------------------------------------------------------ receive buffer

test('a receive buffer too small for --rate fails with the rmem_max to set', (t) => {
  // An unprivileged socket asking 8 MiB under rmem_max = 212992 gets 2 × 212992.
  const c = checkReceiveBuffer({ requestedBytes: 8 << 20, grantedBytes: 2 * 212992, rmemMaxBytes: 212992, rateBytesPerSec: 10_000_000 });
  assertExplainedFailure(t, c, /208 KiB granted for 8 MiB asked[\s\S]*100 ms stall at .* needs/, /^sysctl -w net\.core\.rmem_max=8388608/);
  t.is(neededBytes(10_000_000), 1_000_000);
});

test('a rate beyond what blipcast asks for also says to ask for more (recvBufferBytes)', (t) => {
  const c = checkReceiveBuffer({ requestedBytes: 8 << 20, grantedBytes: 16 << 20, rmemMaxBytes: 8 << 20, rateBytesPerSec: 200_000_000 });
  t.is(c.status, 'fail');
  t.regex(c.fix!, /rmem_max=20971520[\s\S]*recvBufferBytes: 20000000/);
});

test('a capped buffer without --rate warns with the rate it can take; a full grant passes; CAP_NET_ADMIN is noted', (t) => {
  const capped = checkReceiveBuffer({ requestedBytes: 8 << 20, grantedBytes: 2 * 212992, rmemMaxBytes: 212992, rateBytesPerSec: undefined });
  t.is(capped.status, 'warn');
  t.regex(capped.detail, /above 2\.0 MiB\/s a 100 ms stall/);
  const full = checkReceiveBuffer({ requestedBytes: 8 << 20, grantedBytes: 16 << 20, rmemMaxBytes: 16 << 20, rateBytesPerSec: 1_000_000 });
  t.is(full.status, 'pass');
  const forced = checkReceiveBuffer({ requestedBytes: 8 << 20, grantedBytes: 16 << 20, rmemMaxBytes: 212992, rateBytesPerSec: 10_000_000 });
  t.is(forced.status, 'warn');
  t.regex(forced.detail, /CAP_NET_ADMIN; a process without it gets 208 KiB/);
  t.is(checkReceiveBuffer({ requestedBytes: 8 << 20, grantedBytes: undefined, rmemMaxBytes: undefined, rateBytesPerSec: undefined }).status, 'skip');
});

// ------------------------------------------------------------ firewall

/** `nft -j list ruleset` of a namespace with the rules listed in docs/doctor.md's firewall section. */
const NFT_RULESET = '{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"set": {"family": "inet", "name": "blocked", "table": "filter", "type": "inet_service", "handle": 2, "elem": [7000, 41234]}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 3, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 22}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"range": [6000, 6100]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": "@blocked"}}, {"reject": {"type": "icmpx", "expr": "port-unreachable"}}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 7, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5000}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 9, "comment": "no mdns", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": {"set": [5000, 5353]}}}, {"counter": {"packets": 0, "bytes": 0}}, {"drop": null}]}}, {"table": {"family": "ip", "name": "strict", "handle": 2}}, {"chain": {"family": "ip", "table": "strict", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 10, "policy": "drop"}}, {"rule": {"family": "ip", "table": "strict", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "lo"}}, {"accept": null}]}}, {"rule": {"family": "ip", "table": "strict", "chain": "input", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 9999}}, {"accept": null}]}}]}';

const TO = (port: number): Datagram => ({ family: 4, address: '239.255.1.2', port, ifname: 'eth0' });

test('an nft rule that drops the port fails, naming table, chain and handle, with the delete command', (t) => {
  const d = TO(6050);
  const c = checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(NFT_RULESET, d) }], d);
  assertExplainedFailure(t, c, /nft rule inet filter input handle 5 drops udp to port 6050: udp dport 6000-6100 drop/, /^nft delete rule inet filter input handle 5$/m);
  // The other table drops it too, by policy: every finding is listed, each with its fix.
  t.regex(c.detail, /nft chain ip strict input: policy drop/);
  t.regex(c.fix!, /^nft insert rule ip strict input udp dport 6050 accept$/m);
});

test('ports in an anonymous set, a named set and a conditional rule are found', (t) => {
  const named = checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(NFT_RULESET, TO(41234)) }], TO(41234));
  t.regex(named.detail, /handle 6 rejects udp to port 41234: udp dport @blocked reject/);
  t.regex(named.fix!, /^nft delete rule inet filter input handle 6$/m);
  // 5000: the saddr rule (handle 7) may drop, the set rule (handle 9) surely does; the sure one is reported.
  const drops = findDrops(parseNftRuleset(NFT_RULESET, TO(5000)), TO(5000));
  t.deepEqual(drops.map((f) => [f.certain, /handle (\d+)|chain (.*?):/.exec(f.detail)?.slice(1).find(Boolean)]), [[false, '7'], [true, '9'], [true, 'ip strict input']]);
  t.regex(drops[0]!.detail, /may drop .* \(depending on ip saddr\)/);
  t.regex(drops[1]!.detail, /comment "no mdns"/);
});

test('a drop policy with no accept for the port fails with the rule that accepts it; an accepting rule passes', (t) => {
  const d = TO(7777);
  const c = checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(NFT_RULESET, d) }], d);
  assertExplainedFailure(t, c, /nft chain ip strict input: policy drop, and no rule accepts udp to port 7777/, /^nft insert rule ip strict input udp dport 7777 accept$/);
  // 9999 is accepted in the strict table and matched by nothing in the inet one.
  t.is(checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(NFT_RULESET, TO(9999)) }], TO(9999)).status, 'pass');
  // On loopback the strict table accepts by iifname "lo".
  const lo: Datagram = { ...TO(7777), ifname: 'lo' };
  t.is(checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(NFT_RULESET, lo) }], lo).status, 'pass');
});

test('only a conditional drop is a warning', (t) => {
  const ruleset = JSON.stringify({ nftables: [
    { chain: { family: 'inet', table: 't', name: 'in', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { rule: { family: 'inet', table: 't', chain: 'in', handle: 4, expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'udp' } }, { match: { op: '<', left: { numgen: { mode: 'random', mod: 10000 } }, right: 500 } }, { drop: null }] } },
  ] });
  const c = checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(ruleset, TO(5000)) }], TO(5000));
  t.is(c.status, 'warn');
  t.regex(c.detail, /handle 4 may drop udp to port 5000 \(depending on numgen\)/);
});

test('jumps are followed; rules for other protocols and ports are not reported', (t) => {
  const ruleset = JSON.stringify({ nftables: [
    { chain: { family: 'ip', table: 'fw', name: 'input', handle: 1, type: 'filter', hook: 'input', prio: 0, policy: 'accept' } },
    { chain: { family: 'ip', table: 'fw', name: 'udp_in', handle: 2 } },
    { rule: { family: 'ip', table: 'fw', chain: 'input', handle: 3, expr: [{ match: { op: '==', left: { payload: { protocol: 'tcp', field: 'dport' } }, right: 5000 } }, { drop: null }] } },
    { rule: { family: 'ip', table: 'fw', chain: 'input', handle: 4, expr: [{ match: { op: '==', left: { meta: { key: 'l4proto' } }, right: 'udp' } }, { jump: { target: 'udp_in' } }] } },
    { rule: { family: 'ip', table: 'fw', chain: 'udp_in', handle: 5, expr: [{ match: { op: '!=', left: { payload: { protocol: 'udp', field: 'dport' } }, right: 53 } }, { drop: null }] } },
  ] });
  const c = checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(ruleset, TO(5000)) }], TO(5000));
  assertExplainedFailure(t, c, /nft rule ip fw udp_in handle 5 drops udp to port 5000: udp dport != 53 drop/, /^nft delete rule ip fw udp_in handle 5$/);
  t.is(checkFirewall([{ tool: 'nft', ruleset: parseNftRuleset(ruleset, TO(53)) }], TO(53)).status, 'pass');
});

const IPTABLES_SAVE = `# Generated by iptables-save v1.8.9 (legacy)
*filter
:INPUT DROP [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:blocklist - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT
-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
-A INPUT -p udp -j blocklist
-A INPUT -p udp -m udp --dport 5000:5010 -j ACCEPT
-A blocklist -p udp -m multiport --dports 6000,6001 -j DROP
COMMIT
`;

test('iptables-save: a dropping rule is named with the iptables -D that deletes it; the DROP policy with the -I that accepts', (t) => {
  const drop = checkFirewall([{ tool: 'iptables', ruleset: parseIptablesSave(IPTABLES_SAVE, 'iptables', TO(6001)) }], TO(6001));
  assertExplainedFailure(t, drop, /iptables -t filter blocklist rule 1 drops udp to port 6001/, /^iptables -t filter -D blocklist -p udp -m multiport --dports 6000,6001 -j DROP$/);
  const policy = checkFirewall([{ tool: 'iptables', ruleset: parseIptablesSave(IPTABLES_SAVE, 'iptables', TO(7000)) }], TO(7000));
  assertExplainedFailure(t, policy, /chain INPUT: policy drop, and no rule accepts udp to port 7000/, /^iptables -t filter -I INPUT -p udp --dport 7000 -j ACCEPT$/);
  t.is(checkFirewall([{ tool: 'iptables', ruleset: parseIptablesSave(IPTABLES_SAVE, 'iptables', TO(5005)) }], TO(5005)).status, 'pass');
  t.is(checkFirewall([{ tool: 'iptables', ruleset: parseIptablesSave(IPTABLES_SAVE, 'iptables', { ...TO(7000), ifname: 'lo' }) }], { ...TO(7000), ifname: 'lo' }).status, 'pass');
});

test('a firewall that cannot be read is skipped with the reason', (t) => {
  const c = checkFirewall([{ tool: 'nft', unavailable: 'Operation not permitted' }], TO(5000));
  t.is(c.status, 'skip');
  t.regex(c.detail, /Operation not permitted/);
});

// ------------------------------------------------------------ IGMP, IP_MULTICAST_ALL

const PROC_NET_IGMP = `Idx	Device    : Count Querier	Group    Users Timer	Reporter
1	lo        :     2      V3
				0201FFEF     1 0:00000000		0
				010000E0     1 0:00000000		0
4	eth0      :     1      V3
				010000E0     1 0:00000000		0
`;

const PROC_NET_IGMP6 = `1    lo              ff020000000000000000000000000001     1 0000000C 0
4    eth0            ff150000000000000000000000000001     1 00000004 0
`;

test('/proc/net/igmp groups read as little-endian hex; /proc/net/igmp6 as 32 hex digits', (t) => {
  const v4 = parseIgmp(PROC_NET_IGMP);
  t.deepEqual(v4.get('lo'), ['239.255.1.2', '224.0.0.1']);
  t.deepEqual(devicesWith(v4, '224.0.0.1', 4), ['lo', 'eth0']);
  const v6 = parseIgmp6(PROC_NET_IGMP6);
  t.is(ipv6Hex('ff15::1'), 'ff150000000000000000000000000001');
  t.deepEqual(devicesWith(v6, 'ff15::1', 6), ['eth0']);
});

test('the group listed on the interface passes; on another interface or not at all fails with what to do', (t) => {
  const table = parseIgmp(PROC_NET_IGMP);
  t.is(checkIgmp({ ok: true, ifname: 'lo' }, table, '239.255.1.2', 4, 'lo', true).status, 'pass');
  assertExplainedFailure(t, checkIgmp({ ok: true, ifname: 'eth0' }, table, '239.255.1.2', 4, 'eth0'), /joined on lo, not on eth0/, /--interface eth0/);
  assertExplainedFailure(t, checkIgmp({ ok: true, ifname: 'eth0' }, table, '239.255.9.9', 4, 'eth0'), /not listed in \/proc\/net\/igmp/, /ip maddr show dev eth0/);
  assertExplainedFailure(t, checkIgmp({ ok: false, error: 'cannot join 239.255.9.9 (setsockopt ENODEV)', fix: 'Pass --interface NAME|ADDRESS' }, undefined, '239.255.9.9', 4, undefined), /ENODEV/, /--interface/);
  t.is(checkIgmp({ ok: true, ifname: 'eth0' }, parseIgmp6(PROC_NET_IGMP6), 'ff15::1', 6, 'eth0').status, 'pass');
});

test('IP_MULTICAST_ALL: the native transport turns it off, the dgram one binds to the group', (t) => {
  t.regex(checkMulticastAll('native', 4, 5000).detail, /IP_MULTICAST_ALL: off on blipcast's sockets/);
  t.regex(checkMulticastAll('dgram', 4, 5000).detail, /binds its receive socket to the group address/);
  t.is(checkMulticastAll(undefined, 4, 5000).status, 'skip');
});

// ------------------------------------------------------------ probe, report

function peer(over: Partial<PeerTally>): PeerTally {
  return { id: 'a1', host: 'h1:42', address: '198.18.4.2', heard: new Set([0, 1, 2, 3]), peerSent: 4, seenUpTo: 4, roundTripsMs: new Map([[0, 1], [1, 2], [2, 3], [3, 40]]), ...over };
}

test('the probe reports each peer: received, loss and round trip p50/p99', (t) => {
  const [c] = summarize({ sent: 4, peers: [peer({})], naksSent: 2, repairsReceived: 2, lossesDeclared: 0, seconds: 3, group: '239.255.1.2:5000' });
  t.is(c!.status, 'pass');
  t.regex(c!.detail, /^probe h1:42 \(198\.18\.4\.2\): received 4\/4 of its probes \(0\.0% lost\), 4\/4 of ours echoed, round trip p50 2\.00 ms, p99 40\.0 ms; 2 NAKs sent, 2 repairs received/);
  t.is(quantile([5, 1, 3, 2, 4], 0.5), 3);
});

test('probes a peer sent before this doctor listened do not count as lost; missing ones after do', (t) => {
  const late = summarize({ sent: 4, peers: [peer({ heard: new Set([2, 3]), roundTripsMs: new Map([[2, 1], [3, 1]]) })], naksSent: 0, repairsReceived: 0, lossesDeclared: 0, seconds: 3, group: 'g' });
  t.is(late[0]!.status, 'pass');
  const lossy = summarize({ sent: 4, peers: [peer({ heard: new Set([0, 3]) })], naksSent: 0, repairsReceived: 0, lossesDeclared: 2, seconds: 3, group: 'g' });
  t.is(lossy[0]!.status, 'warn');
  t.regex(lossy[0]!.detail, /received 2\/4 of its probes \(50\.0% lost\)/);
});

test('a peer that never echoes fails; nobody answering warns with the command to run elsewhere', (t) => {
  const deaf = summarize({ sent: 4, peers: [peer({ roundTripsMs: new Map() })], naksSent: 0, repairsReceived: 0, lossesDeclared: 0, seconds: 3, group: 'g' });
  assertExplainedFailure(t, deaf[0]!, /no round trip/, /hears nothing from this host/);
  const [alone] = summarize({ sent: 30, peers: [], naksSent: 0, repairsReceived: 0, lossesDeclared: 0, seconds: 3, group: '239.255.1.2:5000' });
  t.is(alone!.status, 'warn');
  t.regex(alone!.detail, /no other doctor answered/);
  t.regex(alone!.fix!, /blipcast doctor --probe --group 239\.255\.1\.2:5000/);
});

test('the report is ok unless a check failed; text marks each status and puts the fix below', (t) => {
  const checks: CheckResult[] = [
    { name: 'a', status: 'pass', detail: 'a: fine' },
    { name: 'b', status: 'warn', detail: 'b: hmm', fix: 'do b' },
    { name: 'c', status: 'skip', detail: 'c: not here' },
  ];
  t.is(exitCode(report(checks)), 0);
  t.is(formatText(report(checks)), '✓ a: fine\n! b: hmm\n    fix: do b\n- c: not here\ndoctor: ok (1 warning)\n');
  const failed = report([...checks, { name: 'd', status: 'fail', detail: 'd: broken', fix: 'ip link set x up\nor this' }]);
  t.is(exitCode(failed), 1);
  t.regex(formatText(failed), /✗ d: broken\n    fix: ip link set x up\n         or this\ndoctor: 1 failed, 1 warning\n$/);
});

// ------------------------------------------------------------ the command, on loopback

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function doctor(args: string[]): Promise<Run> {
  const child = spawn(process.execPath, [BIN, 'doctor', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

interface Json {
  ok: boolean;
  checks: CheckResult[];
}

const NAMES = ['interface', 'route', 'rp_filter', 'receive-buffer', 'ttl', 'firewall', 'igmp', 'multicast-all'];

test('doctor on loopback passes every check and exits 0 (--json)', async (t) => {
  const r = await doctor([...LOOPBACK, '--group', randomGroup(), '--json']);
  t.is(r.code, 0, r.stdout + r.stderr);
  const json = JSON.parse(r.stdout) as Json;
  t.true(json.ok);
  t.deepEqual(json.checks.map((c) => c.name), NAMES);
  for (const c of json.checks) t.true(['pass', 'warn', 'skip'].includes(c.status), JSON.stringify(c));
  t.regex(json.checks[0]!.detail, /^interface lo: up, loopback/);
  t.is(json.checks.find((c) => c.name === 'igmp')!.status, 'pass');
  t.is(json.checks.find((c) => c.name === 'ttl')!.status, 'pass');
});

test('doctor prints one line per check and a verdict', async (t) => {
  const r = await doctor([...LOOPBACK, '--group', randomGroup()]);
  t.is(r.code, 0, r.stdout + r.stderr);
  const lines = r.stdout.trimEnd().split('\n').filter((l) => !l.startsWith('    '));
  t.is(lines.length, NAMES.length + 1);
  t.regex(lines[0]!, /^✓ interface lo: up, loopback/);
  t.regex(lines.at(-1)!, /^doctor: ok/);
});

test('doctor --rate beyond the receive buffer exits 1 with the sysctl fix', async (t) => {
  const r = await doctor([...LOOPBACK, '--group', randomGroup(), '--rate', '1000000000', '--json']);
  t.is(r.code, 1, r.stdout + r.stderr);
  const json = JSON.parse(r.stdout) as Json;
  t.false(json.ok);
  const buffer = json.checks.find((c) => c.name === 'receive-buffer')!;
  t.is(buffer.status, 'fail');
  t.regex(buffer.fix!, /sysctl -w net\.core\.rmem_max=/);
});

test('doctor with an address that is no interface of this host exits 1 explaining it', async (t) => {
  const r = await doctor(['--interface', '198.18.255.254', '--ttl', '0', '--group', randomGroup(), '--json']);
  t.is(r.code, 1, r.stdout + r.stderr);
  const json = JSON.parse(r.stdout) as Json;
  t.is(json.checks[0]!.status, 'fail');
  t.regex(json.checks[0]!.detail, /198\.18\.255\.254: not on this host/);
});

test('two doctors probing at once each see the other with a round trip', async (t) => {
  const group = randomGroup();
  const args = [...LOOPBACK, '--group', group, '--probe', '--probe-seconds', '2', '--json'];
  const [a, b] = await Promise.all([doctor(args), doctor(args)]);
  for (const r of [a, b]) {
    t.is(r.code, 0, r.stdout + r.stderr);
    const probes = (JSON.parse(r.stdout) as Json).checks.filter((c) => c.name === 'probe');
    t.is(probes.length, 1, JSON.stringify(probes));
    t.is(probes[0]!.status, 'pass', probes[0]!.detail);
    t.regex(probes[0]!.detail, /round trip p50 [\d.]+ ms, p99 [\d.]+ ms/);
    t.log(probes[0]!.detail);
  }
});

test('a doctor probing alone warns that nobody answered and still exits 0', async (t) => {
  const group = randomGroup();
  const r = await doctor([...LOOPBACK, '--group', group, '--probe', '--probe-seconds', '1']);
  t.is(r.code, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /! probe: sent 10 probes in 1 s on .*; no other doctor answered\n    fix: run `blipcast doctor --probe --group /);
  t.regex(r.stderr, /probing .* for 1 s/);
});

test('bad arguments exit 2 with the usage hint', (t) => {
  for (const args of [['--group', '10.0.0.1:5000'], ['--group', '239.255.0.1'], ['--ttl', '300'], ['--rate', 'fast'], ['--probe-seconds', '2'], ['--probe', '--probe-seconds', '0'], ['239.255.0.1:5000'], ['--bogus']]) {
    const r = spawnSync(process.execPath, [BIN, 'doctor', ...LOOPBACK, ...args], { encoding: 'utf8', timeout: 20_000 });
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, /^blipcast: .*\(see blipcast doctor --help\)/m, args.join(' '));
  }
});

test('doctor --help prints its usage and exits 0', (t) => {
  const r = spawnSync(process.execPath, [BIN, 'doctor', '--help'], { encoding: 'utf8' });
  t.is(r.status, 0);
  t.regex(r.stdout, /^Usage: blipcast doctor/);
  t.regex(r.stdout, /--probe-seconds S/);
});
