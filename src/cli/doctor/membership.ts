/**
 * After the join: does the kernel list the group on the right interface
 * (/proc/net/igmp, /proc/net/igmp6), and what IP_MULTICAST_ALL means for the
 * transport in use. Pure: the tables and the channel's facts come from
 * system.ts and doctor.ts.
 */

import type { CheckResult } from './report';

/** Groups joined on this host, per device, as the kernel lists them. */
export type GroupTable = Map<string, string[]>;

/**
 * Reads /proc/net/igmp: a line per device (`1\tlo        :     1      V3`)
 * followed by a line per group, the address as the kernel prints a network-order
 * u32 with %08X on a little-endian CPU (x86, arm64): 239.255.1.2 is `0201FFEF`.
 */
export function parseIgmp(text: string): GroupTable {
  const table: GroupTable = new Map();
  let device: string | undefined;
  for (const line of text.split('\n')) {
    const dev = /^\d+\s+(\S+)\s*:/.exec(line);
    if (dev) {
      device = dev[1]!;
      if (!table.has(device)) table.set(device, []);
      continue;
    }
    const group = /^\s+([0-9A-Fa-f]{8})\s/.exec(line);
    if (group && device !== undefined) {
      const n = Number.parseInt(group[1]!, 16);
      table.get(device)!.push([n & 255, (n >>> 8) & 255, (n >>> 16) & 255, n >>> 24].join('.'));
    }
  }
  return table;
}

/** Reads /proc/net/igmp6: `4    eth0            ff0200000000000000000001ff000002     1 00000004 0`; addresses as 32 hex digits. */
export function parseIgmp6(text: string): GroupTable {
  const table: GroupTable = new Map();
  for (const line of text.split('\n')) {
    const m = /^\s*\d+\s+(\S+)\s+([0-9a-fA-F]{32})\s/.exec(line);
    if (!m) continue;
    const list = table.get(m[1]!) ?? [];
    list.push(m[2]!.toLowerCase());
    table.set(m[1]!, list);
  }
  return table;
}

/** An IPv6 address as 32 lowercase hex digits (the form of /proc/net/igmp6); undefined when it does not parse. */
export function ipv6Hex(address: string): string | undefined {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '').toLowerCase();
  const halves = bare.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const missing = 8 - head.length - tail.length;
  if (missing < 0 || (halves.length === 1 && missing !== 0)) return undefined;
  const groups = [...head, ...Array<string>(missing).fill('0'), ...tail];
  if (groups.some((g) => !/^[0-9a-f]{1,4}$/.test(g))) return undefined;
  return groups.map((g) => g.padStart(4, '0')).join('');
}

/** The devices on which `table` lists the group. */
export function devicesWith(table: GroupTable, address: string, family: 4 | 6): string[] {
  const key = family === 4 ? address : ipv6Hex(address);
  return [...table].filter(([, groups]) => groups.includes(key ?? '')).map(([dev]) => dev);
}

export type JoinOutcome = { ok: true; ifname: string | undefined } | { ok: false; error: string; fix?: string };

/** Whether the join reached the kernel: the group listed on the interface it was joined on. */
export function checkIgmp(join: JoinOutcome, table: GroupTable | undefined, address: string, family: 4 | 6, ifname: string | undefined, loopback = false): CheckResult {
  const proc = family === 4 ? '/proc/net/igmp' : '/proc/net/igmp6';
  const what = family === 4 ? 'IGMP' : 'MLD';
  if (!join.ok) return { name: 'igmp', status: 'fail', detail: `${what}: cannot join ${address}: ${join.error}`, ...(join.fix !== undefined ? { fix: join.fix } : {}) };
  if (table === undefined) return { name: 'igmp', status: 'skip', detail: `${what}: ${proc} not readable` };
  const devices = devicesWith(table, address, family);
  const on = ifname ?? join.ifname;
  if (on !== undefined && devices.includes(on)) {
    const reports = loopback ? '' : '; the kernel reports it on the link, which is what snooping switches forward by';
    return { name: 'igmp', status: 'pass', detail: `${what}: ${address} joined on ${on} (${proc})${reports}` };
  }
  if (devices.length > 0 && on === undefined) return { name: 'igmp', status: 'pass', detail: `${what}: ${address} joined on ${devices.join(', ')} (${proc})` };
  if (devices.length > 0) {
    return { name: 'igmp', status: 'fail', detail: `${what}: ${address} joined on ${devices.join(', ')}, not on ${on}`, fix: `pass --interface ${on}` };
  }
  return {
    name: 'igmp',
    status: 'fail',
    detail: `${what}: ${address} not listed in ${proc} after the join${on !== undefined ? ` on ${on}` : ''}`,
    fix: `check that nothing leaves the group at once (ip maddr show${on !== undefined ? ` dev ${on}` : ''}), and the interface's MULTICAST flag`,
  };
}

/** IP_MULTICAST_ALL (Linux default 1): whether a socket bound to the port gets every group joined on the host for that port. */
export function checkMulticastAll(transport: string | undefined, family: 4 | 6, port: number): CheckResult {
  const option = family === 4 ? 'IP_MULTICAST_ALL' : 'IPV6_MULTICAST_ALL';
  const others = `(a program that binds 0.0.0.0:${port} with the Linux default, ${option} on, gets every group joined on this host for port ${port}, this one included)`;
  if (transport === 'native') {
    return {
      name: 'multicast-all',
      status: 'pass',
      detail: `${option}: off on blipcast's sockets (native transport): a channel gets only the groups it joined ${others}`,
    };
  }
  if (transport === 'dgram') {
    return {
      name: 'multicast-all',
      status: 'pass',
      detail: `${option}: left on (node:dgram cannot turn it off), but the dgram transport binds its receive socket to the group address, so it gets only this group ${others}`,
    };
  }
  return { name: 'multicast-all', status: 'skip', detail: `${option}: no channel was opened to tell the transport` };
}
