/**
 * Group addresses and interfaces: parsing `GROUP:PORT`, checking that an address
 * is multicast, and resolving an interface given by name or by address.
 */

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { networkInterfaces } from 'node:os';
import { InvalidArgumentTypeError, InvalidArgumentValueError, NotMulticastError, UnknownInterfaceError } from '../util/errors';

export type Family = 4 | 6;

export interface GroupAddress {
  address: string;
  port: number;
  family: Family;
}

/** True for 224.0.0.0/4 and ff00::/8. */
export function isMulticast(address: string): boolean {
  const family = isIP(address);
  if (family === 4) {
    const first = Number(address.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  if (family === 6) return /^ff[0-9a-f]{2}:/i.test(address);
  return false;
}

/** Validates a port number (1–65535, or 0 where `allowZero`). */
export function checkPort(port: unknown, name = 'port', allowZero = false): number {
  if (typeof port !== 'number' || !Number.isInteger(port)) throw new InvalidArgumentTypeError(`${name} must be an integer, got ${String(port)}`);
  if (port < (allowZero ? 0 : 1) || port > 65535) throw new InvalidArgumentValueError(`${name} must be in 1..65535, got ${port}`);
  return port;
}

/**
 * Parses `'239.1.2.3:5000'` or `'[ff02::1]:5000'`.
 * @throws InvalidArgumentValueError for a malformed string or port, NotMulticastError for a unicast address.
 */
export function parseGroup(text: string): GroupAddress {
  if (typeof text !== 'string') throw new InvalidArgumentTypeError(`group must be a string like '239.255.0.1:5000', got ${typeof text}`);
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:]+):(\d+)$/.exec(text);
  if (!m) throw new InvalidArgumentValueError(`group must look like 239.255.0.1:5000 or [ff12::1]:5000, got '${text}'`);
  const address = m[1]!;
  const family = isIP(address);
  if (family === 0) throw new InvalidArgumentValueError(`'${address}' is not an IP address`);
  if (!isMulticast(address)) throw new NotMulticastError(address);
  const port = Number(m[2]);
  checkPort(port);
  return { address, port, family: family as Family };
}

export interface ResolvedInterface {
  /** Interface name, e.g. 'lo'. */
  name: string;
  /** IPv4 address of the interface, if it has one. */
  ipv4?: string;
  /** Kernel interface index, when known (Linux: /sys/class/net/NAME/ifindex). */
  index: number;
}

/**
 * Resolves an interface given by name (`'lo'`, `'veth0'`) or by one of its
 * addresses (`'127.0.0.1'`). `0.0.0.0`/`::` mean "system default" and return undefined.
 * @throws UnknownInterfaceError when no interface matches.
 */
export function resolveInterface(spec: string | undefined): ResolvedInterface | undefined {
  if (spec === undefined || spec === '' || spec === '0.0.0.0' || spec === '::') return undefined;
  if (typeof spec !== 'string') throw new InvalidArgumentTypeError(`interface must be a string, got ${typeof spec}`);
  const all = networkInterfaces();
  for (const [name, addrs] of Object.entries(all)) {
    const list = addrs ?? [];
    const matches = name === spec || list.some((a) => a.address === spec || a.address === spec.replace(/%.*$/, ''));
    if (!matches) continue;
    const ipv4 = list.find((a) => a.family === 'IPv4')?.address;
    const result: ResolvedInterface = { name, index: interfaceIndex(name) };
    if (ipv4 !== undefined) result.ipv4 = ipv4;
    return result;
  }
  // Interfaces without addresses (e.g. a bare veth) are not listed by networkInterfaces().
  const index = interfaceIndex(spec);
  if (index > 0) return { name: spec, index };
  throw new UnknownInterfaceError(spec);
}

function interfaceIndex(name: string): number {
  try {
    const text = readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8');
    const index = Number(text.trim());
    return Number.isInteger(index) ? index : 0;
  } catch {
    return 0;
  }
}
