/**
 * Error classes. Every error blipcast throws or emits carries a stable `code`
 * (`BLIPCAST_ERR_…`) and extends the built-in that fits (TypeError for a wrong
 * type, RangeError for a value out of range). OS failures are {@link SystemError}s
 * shaped like Node's own (`code` is the errno name, plus `errno` and `syscall`).
 */

import { constants as osConstants } from 'node:os';

/** Base class of every blipcast error; `code` is stable across versions. */
export class BlipcastError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'BlipcastError';
  }
}

/** An argument has the wrong type. Nothing was changed. */
export class InvalidArgumentTypeError extends TypeError {
  readonly code = 'BLIPCAST_ERR_INVALID_ARG_TYPE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentTypeError';
  }
}

/** An argument has the right type but an unusable value. Nothing was changed. */
export class InvalidArgumentValueError extends RangeError {
  readonly code = 'BLIPCAST_ERR_INVALID_ARG_VALUE';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidArgumentValueError';
  }
}

/** The group address is not a multicast address. Nothing was opened. */
export class NotMulticastError extends RangeError {
  readonly code = 'BLIPCAST_ERR_NOT_MULTICAST';
  constructor(address: string) {
    super(`${address} is not a multicast address (IPv4 224.0.0.0/4 or IPv6 ff00::/8)`);
    this.name = 'NotMulticastError';
  }
}

/** The interface (by name or address) does not exist on this host. Nothing was opened. */
export class UnknownInterfaceError extends RangeError {
  readonly code = 'BLIPCAST_ERR_UNKNOWN_INTERFACE';
  constructor(name: string) {
    super(`unknown network interface: ${name}`);
    this.name = 'UnknownInterfaceError';
  }
}

/** The operation needs an open socket, and this one is closed. */
export class ClosedError extends BlipcastError {
  constructor(what = 'transport') {
    super('BLIPCAST_ERR_CLOSED', `${what} is closed`);
    this.name = 'ClosedError';
  }
}

/** The requested transport kind is not available here (e.g. the addon did not load). */
export class TransportUnavailableError extends BlipcastError {
  constructor(kind: string, reason: string, options?: { cause?: unknown }) {
    super('BLIPCAST_ERR_TRANSPORT_UNAVAILABLE', `transport '${kind}' is unavailable: ${reason}`, options);
    this.name = 'TransportUnavailableError';
  }
}

/** A feature the chosen transport cannot provide (e.g. IP_MULTICAST_ALL on node:dgram). */
export class UnsupportedError extends BlipcastError {
  constructor(what: string, kind: string) {
    super('BLIPCAST_ERR_UNSUPPORTED', `${what} is not supported by the '${kind}' transport`);
    this.name = 'UnsupportedError';
  }
}

/**
 * An operating-system call failed. Shaped like Node's own system errors:
 * `code` is the errno name (`EADDRINUSE`), `errno` the negative number, `syscall` the call.
 * A failed group join also names the interface it used (`interface`: a name,
 * or undefined for the system's default) and says what to do about it.
 */
export class SystemError extends Error {
  readonly code: string;
  readonly errno: number;
  readonly syscall: string;
  readonly address?: string;
  readonly port?: number;
  readonly interface?: string;
  constructor(errno: number, syscall: string, details?: { address?: string; port?: number; join?: { interface: string | undefined } }) {
    const code = errnoName(errno);
    const where = details?.address !== undefined ? ` ${details.address}${details.port !== undefined ? `:${details.port}` : ''}` : '';
    super(`${syscall} ${code}${where}${details?.join ? joinNote(code, details.join.interface) : ''}`);
    this.name = 'SystemError';
    this.code = code;
    this.errno = errno;
    this.syscall = syscall;
    if (details?.address !== undefined) this.address = details.address;
    if (details?.port !== undefined) this.port = details.port;
    if (details?.join?.interface !== undefined) this.interface = details.join.interface;
  }
}

/** The errno values with which a join says "not on this interface": no multicast route, or an address that is not local. */
const JOIN_INTERFACE_CODES = new Set(['ENODEV', 'EADDRNOTAVAIL', 'ENETUNREACH', 'EHOSTUNREACH']);

function joinNote(code: string, iface: string | undefined): string {
  const on = iface === undefined ? "the system's default multicast interface" : `interface ${iface}`;
  if (!JOIN_INTERFACE_CODES.has(code)) return `: cannot join the group on ${on}`;
  return `: cannot join the group on ${on}; pass the 'interface' option (an interface name or one of its addresses, e.g. '127.0.0.1' for loopback)`;
}

let errnoNames: Map<number, string> | undefined;

/** Name of a (positive or negative) errno value, e.g. 98 → 'EADDRINUSE'. */
export function errnoName(errno: number): string {
  if (!errnoNames) {
    errnoNames = new Map();
    for (const [name, value] of Object.entries(osConstants.errno)) errnoNames.set(value, name);
  }
  return errnoNames.get(Math.abs(errno)) ?? `E${Math.abs(errno)}`;
}

/**
 * An operation was stopped through its AbortSignal; `cause` is the signal's
 * reason. Shaped like Node's own AbortError (`name` 'AbortError', `code`
 * 'ABORT_ERR') so that code written for Node's APIs recognizes it. Whatever
 * the operation had opened was closed.
 */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(message = 'The operation was aborted', options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'AbortError';
  }
}

/**
 * An encrypted channel's sender used every value of its 48-bit datagram
 * counter for its current session: sending one more datagram would repeat an
 * AES-GCM nonce. The channel sends nothing more (it still receives): it
 * emits this error once as 'error', and write() throws it from then on
 * (nothing is queued). Close the channel and open a new one (a new session id
 * starts a fresh counter).
 */
export class CounterExhaustedError extends BlipcastError {
  constructor() {
    super('BLIPCAST_ERR_COUNTER_EXHAUSTED', 'the datagram counter of this session is exhausted (2^48 datagrams): close the channel and open a new one');
    this.name = 'CounterExhaustedError';
  }
}
