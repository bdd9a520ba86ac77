/**
 * What the CLI says when the group cannot be joined on the interface it
 * used (no multicast route: ENODEV; an address that is not this host's:
 * EADDRNOTAVAIL; a name that does not exist): pass --interface, and which
 * interfaces this machine has for it.
 */

import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

/** Errno names with which a join (or the route to the group) says "not on this interface". */
const INTERFACE_CODES = new Set(['ENODEV', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EHOSTUNREACH']);

/** True for an open() failure that choosing another interface could fix. */
export function isInterfaceError(err: { code?: string; syscall?: string }): boolean {
  return err.code !== undefined && INTERFACE_CODES.has(err.code) && err.syscall !== undefined;
}

/** The first line of the CLI's message: what failed, in the CLI's words (--interface, not the library's option). */
export function joinFailure(err: { code?: string; syscall?: string; address?: string; interface?: string }): string {
  const on = err.interface === undefined ? "the system's default multicast interface" : `interface ${err.interface}`;
  return `cannot join ${err.address ?? 'the group'} on ${on} (${err.syscall} ${err.code})`;
}

/**
 * The interfaces that are up and can carry multicast, one line each:
 * `  lo          127.0.0.1, ::1   (loopback: this host only)`.
 * Linux marks multicast capability in /sys/class/net/NAME/flags (IFF_MULTICAST);
 * where that cannot be read, every interface with an address is listed.
 */
export function multicastInterfaces(): { name: string; addresses: string[]; loopback: boolean }[] {
  const out = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    const list = addrs ?? [];
    if (list.length === 0) continue;
    const loopback = list.some((a) => a.internal);
    if (!loopback && !multicastFlag(name)) continue;
    out.push({ name, addresses: list.map((a) => (a.scopeid ? `${a.address}%${name}` : a.address)), loopback });
  }
  return out;
}

/** IFF_UP (0x1) and IFF_MULTICAST (0x1000) from sysfs; true when sysfs cannot say. */
function multicastFlag(name: string): boolean {
  try {
    const flags = Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16);
    return Number.isInteger(flags) ? (flags & 0x1001) === 0x1001 : true;
  } catch {
    return true;
  }
}

/** The hint printed under a join error: what to pass, and the interfaces to choose from. */
export function interfaceHint(): string {
  const ifaces = multicastInterfaces();
  if (ifaces.length === 0) return 'Pass --interface NAME|ADDRESS; this machine has no multicast-capable interface with an address (is the network up?).';
  const width = Math.max(...ifaces.map((i) => i.name.length));
  const lines = ifaces.map((i) => `  ${i.name.padEnd(width)}  ${i.addresses.join(', ')}${i.loopback ? '   (loopback: this host only; use with --ttl 0)' : ''}`);
  return `Pass --interface NAME|ADDRESS with one of this machine's multicast-capable interfaces:\n${lines.join('\n')}`;
}
