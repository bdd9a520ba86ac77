/**
 * Validation of {@link TransportOptions}, shared by the transports so that the
 * same bad option fails with the same typed error on every kind.
 */

import { isIP } from 'node:net';
import { checkPort, isMulticast, resolveInterface } from './address';
import { InvalidArgumentTypeError, InvalidArgumentValueError, NotMulticastError } from '../util/errors';
import type { TransportOptions } from './transport';

/** Default multicast TTL: 1, link-local, as every multicast library defaults to. */
export const DEFAULT_TTL = 1;
/** Default largest datagram the transport receives (its `maxDatagramBytes`; not the protocol's DEFAULT_MAX_DATAGRAM_BYTES, the largest it sends): 64 KiB covers the largest UDP payload (65,507 bytes over IPv4). */
export const DEFAULT_MAX_RECEIVE_BYTES = 65536;

/** Options after validation, with defaults filled in and the interface resolved. */
export interface CheckedTransportOptions {
  group: string;
  family: 4 | 6;
  port: number;
  /** Resolved interface name, or undefined for the system default. */
  interfaceName: string | undefined;
  /** Kernel index of the interface (0 when unknown or default). */
  interfaceIndex: number;
  /**
   * The interface as node:dgram wants it: an IPv4 address of the interface,
   * or `'::%name'` for IPv6. Undefined for the system default.
   */
  interfaceAddress: string | undefined;
  ttl: number;
  loopback: boolean;
  source: string | undefined;
  recvBufferBytes: number | undefined;
  sendBufferBytes: number | undefined;
  maxDatagramBytes: number;
}

/**
 * Checks every option and resolves the interface.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError for a bad option,
 *   NotMulticastError when the group is unicast, UnknownInterfaceError when the interface does not exist.
 */
export function checkTransportOptions(options: TransportOptions): CheckedTransportOptions {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentTypeError(`transport options must be an object, got ${options === null ? 'null' : typeof options}`);
  const { group } = options;
  if (typeof group !== 'string') throw new InvalidArgumentTypeError(`group must be a string, got ${typeof group}`);
  const family = isIP(group);
  if (family === 0) throw new InvalidArgumentValueError(`group '${group}' is not an IP address`);
  if (!isMulticast(group)) throw new NotMulticastError(group);
  const port = checkPort(options.port);

  const ttl = options.ttl ?? DEFAULT_TTL;
  if (typeof ttl !== 'number') throw new InvalidArgumentTypeError(`ttl must be a number, got ${typeof ttl}`);
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new InvalidArgumentValueError(`ttl must be an integer in 0..255, got ${ttl}`);

  const loopback = options.loopback ?? true;
  if (typeof loopback !== 'boolean') throw new InvalidArgumentTypeError(`loopback must be a boolean, got ${typeof loopback}`);

  let source: string | undefined;
  if (options.source !== undefined) {
    if (typeof options.source !== 'string') throw new InvalidArgumentTypeError(`source must be a string, got ${typeof options.source}`);
    const sourceFamily = isIP(options.source);
    if (sourceFamily === 0) throw new InvalidArgumentValueError(`source '${options.source}' is not an IP address`);
    if (sourceFamily !== family) throw new InvalidArgumentValueError(`source ${options.source} is IPv${sourceFamily} but group ${group} is IPv${family}`);
    if (isMulticast(options.source)) throw new InvalidArgumentValueError(`source ${options.source} must be a unicast address`);
    source = options.source;
  }

  const recvBufferBytes = checkBytes(options.recvBufferBytes, 'recvBufferBytes', 2 ** 31 - 1);
  const sendBufferBytes = checkBytes(options.sendBufferBytes, 'sendBufferBytes', 2 ** 31 - 1);
  const maxDatagramBytes = checkBytes(options.maxDatagramBytes, 'maxDatagramBytes', 65536) ?? DEFAULT_MAX_RECEIVE_BYTES;

  const resolved = resolveInterface(options.interface);
  let interfaceAddress: string | undefined;
  if (resolved) {
    if (family === 4) {
      const spec = options.interface as string;
      interfaceAddress = isIP(spec) === 4 ? spec : resolved.ipv4;
      if (interfaceAddress === undefined) throw new InvalidArgumentValueError(`interface ${resolved.name} has no IPv4 address to join ${group} on`);
    } else {
      interfaceAddress = `::%${resolved.name}`;
    }
  }

  return {
    group,
    family: family as 4 | 6,
    port,
    interfaceName: resolved?.name,
    interfaceIndex: resolved?.index ?? 0,
    interfaceAddress,
    ttl,
    loopback,
    source,
    recvBufferBytes,
    sendBufferBytes,
    maxDatagramBytes,
  };
}

function checkBytes(value: unknown, name: string, max: number): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new InvalidArgumentTypeError(`${name} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new InvalidArgumentValueError(`${name} must be an integer in 1..${max}, got ${value}`);
  return value;
}
