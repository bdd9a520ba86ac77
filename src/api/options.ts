/**
 * The options of {@link open} (src/channel.ts): their types, defaults, and
 * validation. Everything is checked here, before anything is opened, so a bad
 * option leaves no socket, no timer and no state behind. Each error names the
 * option and the bad value.
 */

import { checkPort, parseGroup, type GroupAddress } from '../transport/address';
import { DEFAULT_FLOW_CONTROL, DEFAULT_LATE_JOIN, DEFAULT_MAX_DATAGRAM_BYTES, DEFAULT_MAX_DATAGRAM_BYTES_IPV6, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_MAX_REASSEMBLY_BYTES, DEFAULT_MAX_REORDER_BYTES, DEFAULT_WINDOW_BYTES, DEFAULT_WINDOW_MESSAGES, MIN_DATAGRAM_BYTES } from '../protocol/constants';
import { CLOSE_QUIET_MS, DEFAULT_LINGER_MS } from '../protocol/constants';
import { AEAD_TAG_BYTES, DEFAULT_KEY_GRACE_MS } from '../crypto/constants';
export { DEFAULT_LINGER_MS } from '../protocol/constants';
import { checkSigningKey, checkTrustedKeys, type SigningKeyInput } from '../crypto/announce';
import { checkGroupKey, type GroupKey, type GroupKeyInput } from '../crypto/key';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import { resolveMemberOption, type MemberOptions, type ResolvedMember } from './member-options';
import type { KeyObject } from 'node:crypto';
import type { FlowControl, LateJoin } from '../protocol/api';
import { DEFAULT_TUNING, TUNING_COUNT_KEYS, type ProtocolTuning } from '../protocol/tuning';
import { checkStreamName } from './streams';
import { checkTransportOptions } from '../transport/options';
import type { MemoryHost, MemoryNetwork } from '../transport/memory';
import type { MemberInfo } from '../group/api';
import type { Transport, TransportOptions } from '../transport/transport';
import { HEADER_BYTES, MAX_PAYLOAD_BYTES } from '../wire/header';

import type { TransportChoice } from '../transport/index';
export type { TransportChoice };

/** Protocol timers and strategies that may be overridden per channel (defaults: src/constants.ts). */
export type TuningOptions = Partial<ProtocolTuning>;

/**
 * Hooks for tests, benchmarks and demos, not for production: `open()` from
 * `blipcast/internal` (an unstable subpath) takes them besides {@link OpenOptions}.
 */
export interface TestHooks {
  /** Seed for the session id and every random choice: same seed, same run. Default: crypto-random. */
  seed?: number | string;
  /** Wraps the transport once it is open (loss injection, instrumentation), e.g. `(t) => withLoss(t, { lossRate: 0.01 })`. */
  wrapTransport?: (transport: Transport) => Transport;
}

export interface OpenOptions extends TuningOptions {
  /** `'239.255.0.1:5000'` or `'[ff15::1]:5000'`. Required. */
  group: string;
  /** Interface by name (`'lo'`) or address (`'127.0.0.1'`). Default: the system's default multicast interface. */
  interface?: string;
  /** Multicast TTL / hop limit, 0–255. Default 1 (link-local). */
  ttl?: number;
  /** Whether other sockets on this host receive what this channel sends. Default true. */
  loopback?: boolean;
  /** Source-specific multicast: only accept datagrams from this unicast address. */
  source?: string;
  /** Requested kernel receive / send buffer sizes, bytes. Defaults 8 MiB / 2 MiB on real sockets (the kernel may grant less: see `stats().transport` and `info`). */
  recvBufferBytes?: number;
  sendBufferBytes?: number;
  /** Default 'auto': the native addon when it loads, else node:dgram. 'memory' needs `network` and `host`. */
  transport?: TransportChoice;
  /** The simulated network ('memory' transport only). Its virtual clock then drives the channel. */
  network?: MemoryNetwork;
  /** The simulated host, by name or object ('memory' transport only). */
  host?: string | MemoryHost;
  /**
   * Stream names this channel uses, declared up front: an array of names
   * (ids computed from the names) or an object of name → explicit id (0–65535;
   * 0 is the default stream ''). Declaring detects collisions at open().
   */
  streams?: readonly string[] | Readonly<Record<string, number>>;
  /** Where to start in a source first heard mid-stream. Default 'next'. */
  lateJoin?: LateJoin;
  /** Default 'min': the slowest live receiver paces the sender. */
  flowControl?: FlowControl;
  /** Retransmission window bounds. Defaults 32 MiB / 262144 messages. */
  windowBytes?: number;
  windowMessages?: number;
  /** Sender rate limit, bytes per second. Default unlimited. */
  rateBytesPerSec?: number;
  /**
   * Bytes written but not yet transmitted (held back by the rate limit or flow control) beyond which write() returns
   * false; 'drain' follows below half. Default: a quarter of windowBytes, or one second at rateBytesPerSec if that is
   * less (at least 64 KiB). Queued data never pushes transmitted data out of the window.
   */
  sendQueueBytes?: number;
  /** Largest message write() accepts. Default 16 MiB (or windowBytes if smaller). */
  maxMessageBytes?: number;
  /** Largest datagram sent, header included. Default 1472 (IPv4) / 1452 (IPv6): a 1500-byte link. */
  maxDatagramBytes?: number;
  /** Per-source receive caps, bytes. Defaults 64 MiB (reorder: twice the default window) and 32 MiB (reassembly). */
  maxReorderBytes?: number;
  maxReassemblyBytes?: number;
  /**
   * How long a closing channel keeps serving while no receiver makes progress, ms (docs/protocol.md, "Close"): it
   * bounds *no progress*, not the whole close — a receiver still repairing keeps it there as long as it advances.
   * Default 5000. Infinity: for as long as it takes; 0: close at once, waiting for nobody.
   */
  lingerMs?: number;
  /**
   * After every known receiver has acknowledged everything, a closing channel still serves until nobody has NAKed or
   * asked for anything for this long, ms: a receiver stalled across the end of the stream (GC pause, SIGSTOP) is
   * unknown to the sender until it speaks. Default 2500; never longer than lingerMs.
   */
  closeQuietMs?: number;
  /** Messages the readable side buffers before it stops pulling (its highWaterMark). Default 1024. */
  readHighWaterMark?: number;
  /**
   * Bytes of received messages held for a reader that does not read. Half of it is the read budget this channel
   * advertises to senders: one with 'min' flow control (the default) transmits no faster than the reader reads, so
   * the buffer never fills. Beyond the whole of it (senders with 'max' or 'none', or many senders at once) messages
   * are dropped and reported as loss ('read-buffer'). Default 64 MiB. Does not apply while a 'messages' listener is
   * attached (no read buffer then), and a channel that has never been read from (no iterator, no 'data' listener)
   * does not hold senders back: it only drops beyond the whole of it.
   */
  maxReadBufferBytes?: number;
  /** Aborting closes the channel (and makes a pending open() reject with an AbortError). */
  signal?: AbortSignal;
  /** Join the group as a member (name, metadata): `channel.group` is then defined. Default: not a member. See docs/api.md, "Group membership". */
  member?: MemberOptions;
  /**
   * Which group members this channel's sender paces to and waits for at close (needs `member`): a member for which it
   * returns false never counts as a receiver, however it reads or stalls — e.g. a log sender paces only to the log
   * collectors, not to the other services that log to the same group. Called once per member, at its join, with
   * its name and metadata. Default: every member (and, always, every receiver that is not a group member).
   */
  paceTo?: (member: MemberInfo) => boolean;
  /**
   * Listen without taking part (an observer such as `blipcast top`): the
   * channel sends no STATUS and no NAK, so no sender paces to it, waits for
   * it or repairs for it, and gaps it sees are reported lost ('retries')
   * rather than repaired. It overhears the other receivers' STATUS and NAKs:
   * `channel.receivers()` lists every receiver of every source. As a group
   * member it is marked `observer` and senders never pace to it. Writing is
   * unaffected. Default false.
   */
  passive?: boolean;
  /**
   * Encrypts the group (AES-256-GCM, docs/security.md): the 32-byte group key
   * (key id 1), or `{ id, key }` with an id 1..255. Every member needs the same
   * key; datagrams without it, or under an unknown key id, are dropped and
   * counted (`stats().rejects`). Each datagram grows by 16 bytes (the tag),
   * within maxDatagramBytes. The session id of a keyed channel is always
   * random (the `seed` test hook does not choose it: a repeated session id would repeat nonces).
   */
  key?: GroupKeyInput;
  /** After `rotateKey()`, how long the previous key still opens datagrams, ms. Default 60000. Needs `key`. */
  keyGraceMs?: number;
  /**
   * Ed25519 private key (KeyObject or PEM) that signs this channel's session
   * announcement, so that receivers with `trustedKeys` accept its data. Needs `key`.
   */
  signingKey?: SigningKeyInput;
  /**
   * Ed25519 public keys (KeyObjects or PEM): deliver only sessions whose
   * announcement is signed by one of them; data of other sessions is held up
   * to 2.5 s, then dropped and counted ('unverified'). Needs `key`.
   */
  trustedKeys?: readonly SigningKeyInput[];
}

/** 8 MiB kernel receive buffer: about 5,700 full datagrams, tens of ms of a saturated link while JavaScript is busy. */
export const DEFAULT_RECV_BUFFER_BYTES = 8 * 1024 * 1024;
/** 2 MiB kernel send buffer: a whole sendmmsg batch of repairs fits without would-block. */
export const DEFAULT_SEND_BUFFER_BYTES = 2 * 1024 * 1024;
/** Messages: enough to ride out a GC pause at 1 M msg/s without stopping the protocol. */
export const DEFAULT_READ_HIGH_WATER_MARK = 1024;
/** 64 MiB: two default windows of a source; a reader that falls this far behind is not coming back soon. */
export const DEFAULT_MAX_READ_BUFFER_BYTES = 64 * 1024 * 1024;

/** Options after validation, defaults filled in. */
export interface ResolvedOptions {
  group: GroupAddress;
  /** The group as given (`'239.255.0.1:5000'`). */
  groupText: string;
  transport: TransportChoice;
  network: MemoryNetwork | undefined;
  host: string | MemoryHost | undefined;
  /** What the transport factory gets (already checked once). */
  transportOptions: TransportOptions;
  /** Resolved interface name, or undefined for the system default / the memory network. */
  interfaceName: string | undefined;
  streams: Array<[name: string, id: number | undefined]>;
  lateJoin: LateJoin;
  flowControl: FlowControl;
  windowBytes: number;
  windowMessages: number;
  rateBytesPerSec: number | undefined;
  sendQueueBytes: number | undefined;
  maxMessageBytes: number;
  maxDatagramBytes: number;
  maxReorderBytes: number;
  maxReassemblyBytes: number;
  tuning: Partial<ProtocolTuning>;
  lingerMs: number;
  closeQuietMs: number;
  readHighWaterMark: number;
  maxReadBufferBytes: number;
  signal: AbortSignal | undefined;
  seed: number | string | undefined;
  wrapTransport: ((transport: Transport) => Transport) | undefined;
  member: ResolvedMember | undefined;
  paceTo: ((member: MemberInfo) => boolean) | undefined;
  passive: boolean;
  key: GroupKey | undefined;
  keyGraceMs: number;
  signingKey: KeyObject | undefined;
  trustedKeys: KeyObject[] | undefined;
}

const CHANNEL_KEYS = new Set<string>([
  'group', 'interface', 'ttl', 'loopback', 'source', 'recvBufferBytes', 'sendBufferBytes', 'transport', 'network', 'host', 'streams',
  'lateJoin', 'flowControl', 'windowBytes', 'windowMessages', 'rateBytesPerSec', 'sendQueueBytes', 'maxMessageBytes', 'maxDatagramBytes',
  'maxReorderBytes', 'maxReassemblyBytes', 'lingerMs', 'closeQuietMs', 'readHighWaterMark', 'maxReadBufferBytes', 'signal', 'seed', 'wrapTransport', 'member', 'paceTo', 'passive',
  'key', 'keyGraceMs', 'signingKey', 'trustedKeys',
]);
const TUNING_KEYS = new Set<string>(Object.keys(DEFAULT_TUNING));
/** Tuning fields that count things rather than milliseconds. */
const TUNING_INTEGER_KEYS = new Set<string>(['nakMaxRetries']);
const MAX_SIZE = 2 ** 31 - 1;

function describe(value: unknown): string {
  if (typeof value === 'string') return `'${value}'`;
  if (typeof value === 'bigint') return `${value}n`;
  if (typeof value === 'function') return 'a function';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

function typeError(name: string, expected: string, value: unknown): InvalidArgumentTypeError {
  return new InvalidArgumentTypeError(`options.${name} must be ${expected}, got ${describe(value)}`);
}

function valueError(name: string, expected: string, value: unknown): InvalidArgumentValueError {
  return new InvalidArgumentValueError(`options.${name} must be ${expected}, got ${describe(value)}`);
}

/** An integer option in [min, max]; undefined → `fallback`. */
function integer(options: Record<string, unknown>, name: string, min: number, max: number, fallback: number): number;
function integer(options: Record<string, unknown>, name: string, min: number, max: number, fallback: undefined): number | undefined;
function integer(options: Record<string, unknown>, name: string, min: number, max: number, fallback: number | undefined): number | undefined {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'number') throw typeError(name, 'a number', value);
  if (!Number.isInteger(value) || value < min || value > max) throw valueError(name, `an integer in ${min}..${max}`, value);
  return value;
}

function oneOf<T extends string>(options: Record<string, unknown>, name: string, allowed: readonly T[], fallback: T): T {
  const value = options[name];
  if (value === undefined) return fallback;
  if (typeof value !== 'string') throw typeError(name, 'a string', value);
  if (!(allowed as readonly string[]).includes(value)) throw valueError(name, allowed.map((a) => `'${a}'`).join(', ').replace(/, ([^,]*)$/, ' or $1'), value);
  return value as T;
}

/**
 * Checks every option of {@link open} and fills in the defaults. Pure apart
 * from reading the host's interface list.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming the option;
 *   NotMulticastError for a unicast group; UnknownInterfaceError for an interface this host lacks.
 */
export function resolveOptions(input: OpenOptions & TestHooks): ResolvedOptions {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InvalidArgumentTypeError(`options must be an object, got ${describe(input)}`);
  const options = input as unknown as Record<string, unknown>;
  for (const key of Object.keys(options)) {
    // A misspelt option would otherwise be silently ignored and the default used.
    if (!CHANNEL_KEYS.has(key) && !TUNING_KEYS.has(key)) throw new InvalidArgumentValueError(`unknown option '${key}'`);
  }

  if (options.group === undefined) throw new InvalidArgumentTypeError(`options.group is required (e.g. '239.255.0.1:5000')`);
  if (typeof options.group !== 'string') throw typeError('group', "a string like '239.255.0.1:5000'", options.group);
  let group: GroupAddress;
  try {
    group = parseGroup(options.group);
  } catch (err) {
    if (err instanceof InvalidArgumentValueError) throw new InvalidArgumentValueError(`options.group: ${err.message}`);
    throw err;
  }
  checkPort(group.port, 'options.group port');

  const transport = oneOf<TransportChoice>(options, 'transport', ['auto', 'native', 'dgram', 'memory'], 'auto');
  let network: MemoryNetwork | undefined;
  let host: string | MemoryHost | undefined;
  if (transport === 'memory') {
    const n = options.network as { createTransport?: unknown; setTimer?: unknown } | undefined;
    if (n === undefined) throw new InvalidArgumentTypeError(`options.network is required with transport 'memory'`);
    if (typeof n !== 'object' || n === null || typeof n.createTransport !== 'function' || typeof n.setTimer !== 'function') throw typeError('network', 'a MemoryNetwork', n);
    network = options.network as MemoryNetwork;
    const h = options.host as unknown;
    if (h === undefined) throw new InvalidArgumentTypeError(`options.host is required with transport 'memory'`);
    if (typeof h !== 'string' && (typeof h !== 'object' || h === null)) throw typeError('host', 'a host name or MemoryHost', h);
    host = h as string | MemoryHost;
  } else {
    if (options.network !== undefined) throw new InvalidArgumentValueError(`options.network is only used with transport 'memory', got transport '${transport}'`);
    if (options.host !== undefined) throw new InvalidArgumentValueError(`options.host is only used with transport 'memory', got transport '${transport}'`);
  }

  if (options.interface !== undefined && typeof options.interface !== 'string') throw typeError('interface', 'a string (name or address)', options.interface);
  if (options.ttl !== undefined) integer(options, 'ttl', 0, 255, undefined);
  if (options.loopback !== undefined && typeof options.loopback !== 'boolean') throw typeError('loopback', 'a boolean', options.loopback);
  if (options.source !== undefined && typeof options.source !== 'string') throw typeError('source', 'a string (unicast address)', options.source);
  integer(options, 'recvBufferBytes', 1, MAX_SIZE, undefined);
  integer(options, 'sendBufferBytes', 1, MAX_SIZE, undefined);
  const transportOptions: TransportOptions = { group: group.address, port: group.port };
  if (options.interface !== undefined) transportOptions.interface = options.interface as string;
  if (options.ttl !== undefined) transportOptions.ttl = options.ttl as number;
  if (options.loopback !== undefined) transportOptions.loopback = options.loopback as boolean;
  if (options.source !== undefined) transportOptions.source = options.source as string;
  // Real sockets get large buffers by default: a burst of a whole window must not overflow the
  // kernel queue while the event loop is busy (the kernel caps the request at net.core.rmem_max
  // unless the process may force it; TransportInfo reports what was granted).
  const realSocket = transport !== 'memory';
  const recvBufferBytes = (options.recvBufferBytes as number | undefined) ?? (realSocket ? DEFAULT_RECV_BUFFER_BYTES : undefined);
  const sendBufferBytes = (options.sendBufferBytes as number | undefined) ?? (realSocket ? DEFAULT_SEND_BUFFER_BYTES : undefined);
  if (recvBufferBytes !== undefined) transportOptions.recvBufferBytes = recvBufferBytes;
  if (sendBufferBytes !== undefined) transportOptions.sendBufferBytes = sendBufferBytes;
  // The transports check their own options again; checking here first means nothing is opened when one is bad.
  // Simulated hosts have one interface, so the memory transport only records the name.
  const checked = checkTransportOptions(transport === 'memory' ? { ...transportOptions, interface: undefined } : transportOptions);

  const streams: Array<[string, number | undefined]> = [];
  const s = options.streams;
  if (s !== undefined) {
    if (Array.isArray(s)) {
      for (const name of s) streams.push([checkStreamName(name, 'options.streams[]'), undefined]);
    } else if (typeof s === 'object' && s !== null) {
      for (const [name, id] of Object.entries(s)) {
        if (typeof id !== 'number') throw typeError(`streams['${name}']`, 'a stream id (integer 0..65535)', id);
        streams.push([name, id]);
      }
    } else {
      throw typeError('streams', 'an array of names or an object of name → id', s);
    }
  }

  const lateJoin = oneOf<LateJoin>(options, 'lateJoin', ['next', 'earliest'], DEFAULT_LATE_JOIN);
  const flowControl = oneOf<FlowControl>(options, 'flowControl', ['min', 'max', 'none'], DEFAULT_FLOW_CONTROL);
  const windowBytes = integer(options, 'windowBytes', 1, Number.MAX_SAFE_INTEGER, DEFAULT_WINDOW_BYTES);
  const windowMessages = integer(options, 'windowMessages', 1, Number.MAX_SAFE_INTEGER, DEFAULT_WINDOW_MESSAGES);
  const rateBytesPerSec = positiveFinite(options, 'rateBytesPerSec');
  const sendQueueBytes = positiveFinite(options, 'sendQueueBytes');
  const maxDatagramBytes = integer(options, 'maxDatagramBytes', MIN_DATAGRAM_BYTES, HEADER_BYTES + MAX_PAYLOAD_BYTES,
    group.family === 6 ? DEFAULT_MAX_DATAGRAM_BYTES_IPV6 : DEFAULT_MAX_DATAGRAM_BYTES);
  const maxMessageBytes = integer(options, 'maxMessageBytes', 0, 0xffffffff, Math.min(DEFAULT_MAX_MESSAGE_BYTES, windowBytes));
  if (maxMessageBytes > windowBytes) {
    // A message the window cannot hold whole could never be repaired.
    throw new InvalidArgumentValueError(`options.maxMessageBytes (${maxMessageBytes}) must not exceed options.windowBytes (${windowBytes})`);
  }
  const maxReorderBytes = integer(options, 'maxReorderBytes', 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_REORDER_BYTES);
  const maxReassemblyBytes = integer(options, 'maxReassemblyBytes', 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_REASSEMBLY_BYTES);

  const tuning: Partial<ProtocolTuning> = {};
  for (const key of TUNING_KEYS) {
    const value = options[key];
    if (value === undefined) continue;
    if (key === 'nakBackoff') {
      (tuning as Record<string, unknown>)[key] = oneOf(options, key, ['exponential', 'uniform'], DEFAULT_TUNING.nakBackoff);
      continue;
    }
    if (typeof value !== 'number') throw typeError(key, 'a number', value);
    if (TUNING_COUNT_KEYS.has(key)) {
      if (!Number.isSafeInteger(value) || value < 1) throw valueError(key, 'an integer ≥ 1', value);
    } else if (TUNING_INTEGER_KEYS.has(key)) {
      if (!Number.isInteger(value) || value < 0 || value > MAX_SIZE) throw valueError(key, `an integer in 0..${MAX_SIZE}`, value);
    } else if (key === 'repairRateBytesPerSec' || key === 'maxNaksPerSecPerReceiver') {
      if (!(value > 0) || !Number.isFinite(value)) throw valueError(key, 'a finite number > 0', value);
    } else if (!(value > 0) || !Number.isFinite(value)) {
      throw valueError(key, 'a finite number of ms > 0', value);
    }
    (tuning as Record<string, unknown>)[key] = value;
  }

  const lingerMs = durationMs(options, 'lingerMs', DEFAULT_LINGER_MS);
  const closeQuietMs = durationMs(options, 'closeQuietMs', CLOSE_QUIET_MS);
  const readHighWaterMark = integer(options, 'readHighWaterMark', 1, MAX_SIZE, DEFAULT_READ_HIGH_WATER_MARK);
  const maxReadBufferBytes = integer(options, 'maxReadBufferBytes', 1, Number.MAX_SAFE_INTEGER, DEFAULT_MAX_READ_BUFFER_BYTES);

  let signal: AbortSignal | undefined;
  if (options.signal !== undefined) {
    if (!(options.signal instanceof AbortSignal)) throw typeError('signal', 'an AbortSignal', options.signal);
    signal = options.signal;
  }
  let seed: number | string | undefined;
  if (options.seed !== undefined) {
    const v = options.seed;
    if (typeof v !== 'number' && typeof v !== 'string') throw typeError('seed', 'a number or a string', v);
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw valueError('seed', 'a safe integer', v);
    seed = v;
  }
  let wrapTransport: ((transport: Transport) => Transport) | undefined;
  if (options.wrapTransport !== undefined) {
    if (typeof options.wrapTransport !== 'function') throw typeError('wrapTransport', 'a function', options.wrapTransport);
    wrapTransport = options.wrapTransport as (transport: Transport) => Transport;
  }

  const member = options.member === undefined ? undefined : resolveMemberOption(options.member, maxDatagramBytes);
  let paceTo: ((member: MemberInfo) => boolean) | undefined;
  if (options.paceTo !== undefined) {
    if (typeof options.paceTo !== 'function') throw typeError('paceTo', 'a function (member) => boolean', options.paceTo);
    // Only a member learns who the others are.
    if (member === undefined) throw new InvalidArgumentValueError('options.paceTo needs options.member (the channel learns the members by being one)');
    paceTo = options.paceTo as (member: MemberInfo) => boolean;
  }
  if (options.passive !== undefined && typeof options.passive !== 'boolean') throw typeError('passive', 'a boolean', options.passive);
  const passive = options.passive === true;
  const key = options.key === undefined ? undefined : checkGroupKey(options.key, 'options.key');
  let keyGraceMs = DEFAULT_KEY_GRACE_MS;
  if (options.keyGraceMs !== undefined) {
    const g = options.keyGraceMs;
    if (typeof g !== 'number') throw typeError('keyGraceMs', 'a number', g);
    if (!(g >= 0) || !Number.isFinite(g)) throw valueError('keyGraceMs', 'a finite number of ms ≥ 0', g);
    keyGraceMs = g;
  }
  const signingKey = options.signingKey === undefined ? undefined : checkSigningKey(options.signingKey, 'options.signingKey');
  const trustedKeys = options.trustedKeys === undefined ? undefined : checkTrustedKeys(options.trustedKeys, 'options.trustedKeys');
  if (key === undefined) {
    // Without a group key anyone could inject into a verified session: authentication would promise what it cannot keep.
    for (const name of ['keyGraceMs', 'signingKey', 'trustedKeys']) {
      if (options[name] !== undefined) throw new InvalidArgumentValueError(`options.${name} needs options.key (a 32-byte group key)`);
    }
  } else if (maxDatagramBytes < MIN_DATAGRAM_BYTES + AEAD_TAG_BYTES) {
    throw valueError('maxDatagramBytes', `at least ${MIN_DATAGRAM_BYTES + AEAD_TAG_BYTES} with a key (the 16-byte tag is part of the datagram)`, maxDatagramBytes);
  }

  return {
    group,
    groupText: options.group,
    transport,
    network,
    host,
    transportOptions,
    paceTo,
    passive,
    interfaceName: transport === 'memory' ? (options.interface as string | undefined) : checked.interfaceName,
    streams,
    lateJoin,
    flowControl,
    windowBytes,
    windowMessages,
    rateBytesPerSec,
    sendQueueBytes,
    maxMessageBytes,
    maxDatagramBytes,
    maxReorderBytes,
    maxReassemblyBytes,
    tuning,
    lingerMs,
    closeQuietMs,
    readHighWaterMark,
    maxReadBufferBytes,
    signal,
    seed,
    wrapTransport,
    member,
    key,
    keyGraceMs,
    signingKey,
    trustedKeys,
  };
}

/** An optional finite number > 0 (undefined when absent). */
function positiveFinite(options: Record<string, unknown>, name: string): number | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  if (!(v > 0) || !Number.isFinite(v)) throw valueError(name, 'a finite number > 0', v);
  return v;
}

/** An optional number of ms ≥ 0, Infinity allowed. */
function durationMs(options: Record<string, unknown>, name: string, fallback: number): number {
  const v = options[name];
  if (v === undefined) return fallback;
  if (typeof v !== 'number') throw typeError(name, 'a number', v);
  if (!(v >= 0)) throw valueError(name, 'a number of ms ≥ 0 (Infinity allowed)', v);
  return v;
}
