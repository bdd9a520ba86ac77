/**
 * The checks of how this host sends and receives the group: the interface
 * (up, MULTICAST flag, carrier), the route that covers the group, the
 * reverse-path filter and what the TTL reaches. Pure functions of the system
 * data read by system.ts, so each verdict can be tested on fixtures.
 */

import type { CheckResult } from './report';

/** IFF_* bits of /sys/class/net/NAME/flags (linux/if.h). */
export const IFF_UP = 0x1;
export const IFF_LOOPBACK = 0x8;
export const IFF_MULTICAST = 0x1000;

/** What the kernel says about one interface. */
export interface LinkState {
  name: string;
  up: boolean;
  multicast: boolean;
  loopback: boolean;
  /** /sys/class/net/NAME/operstate ('up', 'down', 'lowerlayerdown', 'unknown', …), when readable. */
  operstate?: string;
}

/** A LinkState from the hex flags of /sys/class/net/NAME/flags. */
export function linkFromFlags(name: string, flags: number, operstate?: string): LinkState {
  return { name, up: (flags & IFF_UP) !== 0, multicast: (flags & IFF_MULTICAST) !== 0, loopback: (flags & IFF_LOOPBACK) !== 0, ...(operstate !== undefined ? { operstate } : {}) };
}

/** A LinkState from one entry of `ip -j link show` (flag names, e.g. ["BROADCAST","MULTICAST","UP","LOWER_UP"]). */
export function linkFromIpJson(entry: { ifname: string; flags?: string[]; operstate?: string }): LinkState {
  const flags = new Set(entry.flags ?? []);
  return { name: entry.ifname, up: flags.has('UP'), multicast: flags.has('MULTICAST'), loopback: flags.has('LOOPBACK'), ...(entry.operstate !== undefined ? { operstate: entry.operstate.toLowerCase() } : {}) };
}

/** The address families of os.networkInterfaces(), reduced to what the checks need. */
export type InterfaceAddresses = Record<string, readonly { address: string; family: string | number; internal: boolean }[] | undefined>;

/**
 * The interface name for `--interface IP|NAME`: a name is taken as it is, an
 * address is looked up among this host's interfaces (undefined when no
 * interface has it).
 */
export function interfaceName(requested: string, addresses: InterfaceAddresses): string | undefined {
  const bare = requested.replace(/%.*$/, '');
  if (!/^[0-9.]+$/.test(bare) && !bare.includes(':')) return requested;
  for (const [name, list] of Object.entries(addresses)) {
    if ((list ?? []).some((a) => a.address === bare)) return name;
  }
  return undefined;
}

/** `--interface` that names no interface of this host, or the interface's state. */
export function checkInterface(requested: string, link: LinkState | undefined, known: readonly string[]): CheckResult {
  const name = link?.name ?? requested;
  if (link === undefined) {
    return {
      name: 'interface',
      status: 'fail',
      detail: `interface ${requested}: not on this host${known.length > 0 ? ` (it has ${known.join(', ')})` : ''}`,
      fix: `pass --interface NAME or the address of one of this host's interfaces (ip -br addr)`,
    };
  }
  if (!link.up) return { name: 'interface', status: 'fail', detail: `interface ${name}: down (IFF_UP off)`, fix: `ip link set ${name} up` };
  if (link.loopback) {
    return { name: 'interface', status: 'pass', detail: `interface ${name}: up, loopback (multicast stays on this host; it works with an explicit --interface, no MULTICAST flag needed)` };
  }
  if (!link.multicast) {
    return {
      name: 'interface',
      status: 'fail',
      detail: `interface ${name}: MULTICAST flag off — the interface is declared unable to carry multicast: depending on the driver the group is dropped, and routing daemons and tools skip it`,
      fix: `ip link set ${name} multicast on`,
    };
  }
  if (link.operstate === 'down' || link.operstate === 'lowerlayerdown') {
    return {
      name: 'interface',
      status: 'warn',
      detail: `interface ${name}: up and multicast, but the link is ${link.operstate} (no carrier): nothing gets out`,
      fix: `check the cable or the other end of the link (ip link show ${name})`,
    };
  }
  return { name: 'interface', status: 'pass', detail: `interface ${name}: up, multicast` };
}

/** One route from `ip -j route get ADDRESS [oif IF]`. */
export interface RouteInfo {
  dev: string;
  type?: string;
  gateway?: string;
  prefsrc?: string;
}

export type RouteLookup = { ok: true; route: RouteInfo } | { ok: false; error: string };

/** The route command that makes an interface the home of every multicast group. */
export function multicastRouteFix(family: 4 | 6, dev: string): string {
  return family === 4 ? `ip route add 224.0.0.0/4 dev ${dev}` : `ip -6 route add ff00::/8 dev ${dev} table local`;
}

/**
 * Whether the kernel has a route for the group: without --interface the group
 * is joined and sent on the interface of that route, and with no route at
 * all (no default route, no multicast route) open() fails with ENODEV.
 * `lookup` is undefined when `ip` is not installed.
 */
export function checkRoute(group: string, family: 4 | 6, requestedIf: string | undefined, lookup: RouteLookup | undefined, exampleDev = 'eth0'): CheckResult {
  if (lookup === undefined) return { name: 'route', status: 'skip', detail: `route to ${group}: not checked ('ip' from iproute2 not found)` };
  if (requestedIf !== undefined) {
    if (!lookup.ok) {
      // The join needs no route, but every send looks one up with the interface as its output: receivers send too (NAKs, status).
      return {
        name: 'route',
        status: 'fail',
        detail: `route to ${group}: none out of ${requestedIf} (${lookup.error}) — the join works, but every send fails (ENETUNREACH), and blipcast receivers send too (NAKs, status)`,
        fix: multicastRouteFix(family, requestedIf),
      };
    }
    return { name: 'route', status: 'pass', detail: `route to ${group}: out of ${lookup.route.dev} (--interface picks it; the routing table is not consulted for the join)` };
  }
  if (!lookup.ok) {
    return {
      name: 'route',
      status: 'fail',
      detail: `route to ${group}: none (${lookup.error}) — no default route and no multicast route, so without --interface the join fails (ENODEV)`,
      fix: `pass --interface NAME|ADDRESS, or give multicast a home:\n${multicastRouteFix(family, exampleDev)}`,
    };
  }
  const via = lookup.route.gateway !== undefined ? ` (the default route's interface: add a multicast route to choose another)` : '';
  return { name: 'route', status: 'pass', detail: `route to ${group}: out of ${lookup.route.dev}${via}; without --interface the group is joined there` };
}

/** rp_filter values of net.ipv4.conf.{all,IF}; the kernel applies the larger one. */
export interface RpFilter {
  all?: number;
  iface?: number;
}

const RP_NAMES: Record<number, string> = { 0: 'off', 1: 'strict', 2: 'loose' };

/**
 * Reverse-path filtering: in strict mode (1) the kernel drops a datagram whose
 * source address would not be routed back out of the interface it came in on,
 * multicast included: a sender on another subnet reachable only through
 * another interface, or with no route at all, is silently dropped.
 */
export function checkRpFilter(link: LinkState | undefined, family: 4 | 6, rp: RpFilter | undefined): CheckResult {
  if (family === 6) return { name: 'rp_filter', status: 'skip', detail: 'rp_filter: IPv4 only (IPv6 has no reverse-path sysctl)' };
  if (link === undefined) return { name: 'rp_filter', status: 'skip', detail: 'rp_filter: no interface to check' };
  if (link.loopback) return { name: 'rp_filter', status: 'pass', detail: `rp_filter on ${link.name}: not applied to loopback traffic` };
  if (rp === undefined || (rp.all === undefined && rp.iface === undefined)) {
    return { name: 'rp_filter', status: 'skip', detail: `rp_filter on ${link.name}: /proc/sys/net/ipv4/conf/{all,${link.name}}/rp_filter not readable` };
  }
  const effective = Math.max(rp.all ?? 0, rp.iface ?? 0);
  const parts = `all=${rp.all ?? '?'}, ${link.name}=${rp.iface ?? '?'}`;
  if (effective === 1) {
    return {
      name: 'rp_filter',
      status: 'warn',
      detail: `rp_filter on ${link.name}: strict (1; ${parts}, the larger applies) — multicast from a source whose route back does not leave through ${link.name} is dropped without a trace`,
      fix: `sysctl -w net.ipv4.conf.${link.name}.rp_filter=2   (loose; persist it in /etc/sysctl.d/)`,
    };
  }
  return { name: 'rp_filter', status: 'pass', detail: `rp_filter on ${link.name}: ${RP_NAMES[effective] ?? String(effective)} (${effective}; ${parts})` };
}

/** True for a group that routers never forward: 224.0.0.0/24, or an IPv6 scope of interface- or link-local. */
export function isLinkLocalGroup(address: string, family: 4 | 6): boolean {
  if (family === 4) return address.startsWith('224.0.0.');
  const scope = Number.parseInt(address.toLowerCase().slice(3, 4), 16);
  return scope <= 2;
}

/**
 * What the TTL (hop limit) reaches: 0 this host, 1 this subnet, more routed
 * through multicast routers. Warns where the TTL and the interface disagree.
 */
export function checkTtl(ttl: number, given: boolean, link: LinkState | undefined, address: string, family: 4 | 6): CheckResult {
  const label = `TTL ${ttl}${given ? '' : ' (default)'}`;
  if (link === undefined) return { name: 'ttl', status: 'pass', detail: `${label}: ${ttl === 0 ? 'this host only' : ttl === 1 ? 'this subnet' : `this subnet and up to ${ttl - 1} multicast routers beyond`} (no interface to weigh it against)` };
  const loopback = link.loopback;
  const ifName = link.name;
  if (ttl === 0) {
    if (loopback) return { name: 'ttl', status: 'pass', detail: `${label}: this host only (loopback)` };
    return {
      name: 'ttl',
      status: 'warn',
      detail: `${label}: nothing leaves this host, so no other host on ${ifName} hears the group (only programs on this host)`,
      fix: '--ttl 1 to reach this subnet (more to cross multicast routers)',
    };
  }
  if (loopback) return { name: 'ttl', status: 'pass', detail: `${label} on loopback: stays on this host whatever the TTL` };
  if (ttl === 1) return { name: 'ttl', status: 'pass', detail: `${label}: this subnet (every host on ${ifName}'s link); routers do not forward it` };
  if (isLinkLocalGroup(address, family)) {
    return {
      name: 'ttl',
      status: 'warn',
      detail: `${label}: but ${address} is a link-local group, which routers never forward: it reaches this subnet only`,
      fix: family === 4 ? 'use a group outside 224.0.0.0/24 (239.255.0.0/16 is the site-local scope)' : 'use a group of site (ff05::) or organization (ff08::) scope',
    };
  }
  return { name: 'ttl', status: 'pass', detail: `${label}: this subnet and up to ${ttl - 1} multicast router${ttl - 1 > 1 ? 's' : ''} beyond (routers must run multicast routing: PIM, smcroute)` };
}
