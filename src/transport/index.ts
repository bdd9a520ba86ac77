/**
 * Choosing a transport. `createTransport()` opens the native transport when
 * the addon loads and falls back to node:dgram otherwise, warning once (code
 * BLIPCAST_NATIVE_UNAVAILABLE) with the reason. `BLIPCAST_TRANSPORT=dgram` or
 * `=native` in the environment overrides the automatic choice.
 */

import { InvalidArgumentValueError, TransportUnavailableError } from '../util/errors';
import { loadNative, NATIVE_BUILD_HINT } from '../addon/addon';
import { createDgramTransport } from './dgram';
import { createNativeTransport } from './native';
import type { Transport, TransportKind, TransportOptions } from './transport';

export type { DatagramBatch, ReceiveHandler, RemoteInfo, Transport, TransportEvents, TransportInfo, TransportKind, TransportOptions, TransportStats } from './transport';
export { emptyTransportStats } from './transport';
export { createDgramTransport } from './dgram';
export { createNativeTransport } from './native';
export { checkTransportOptions, DEFAULT_MAX_RECEIVE_BYTES, DEFAULT_TTL } from './options';
export type { CheckedTransportOptions } from './options';
export { DEFAULT_PAUSE_BUFFER_BYTES, MemoryHost, MemoryNetwork, MemoryTransport, withLoss } from './memory';
export type { LinkConditions, LinkStats, LossOptions, LossStats, LossyTransport, MemoryHostOptions, MemoryNetworkOptions } from './memory';

/**
 * Which transport to open: 'auto' (native when the addon loads, else dgram),
 * 'native' or 'dgram'. 'memory' is accepted by the type for convenience of
 * callers that carry a TransportKind, and rejected: it needs a MemoryNetwork.
 */
export type TransportChoice = TransportKind | 'auto';

export interface CreateTransportOptions extends TransportOptions {
  /**
   * Default 'auto', which the environment variable BLIPCAST_TRANSPORT
   * (`native` or `dgram`) overrides. An explicit kind here wins over the
   * environment. The memory transport is opened with `MemoryNetwork.createTransport`.
   */
  kind?: TransportChoice;
}

/** Name of the environment variable that forces a transport kind. */
export const TRANSPORT_ENV = 'BLIPCAST_TRANSPORT';
/** Code of the one warning emitted when 'auto' falls back to node:dgram. */
export const NATIVE_UNAVAILABLE_WARNING = 'BLIPCAST_NATIVE_UNAVAILABLE';

let warnedFallback = false;

/**
 * Opens a multicast transport.
 * @throws TransportUnavailableError when 'native' is asked for (here or in
 *   BLIPCAST_TRANSPORT) and the addon cannot load; InvalidArgumentValueError
 *   for an unknown kind; whatever the chosen transport throws for its options.
 */
export async function createTransport(options: CreateTransportOptions): Promise<Transport> {
  const { kind: requested = 'auto', ...transportOptions } = options ?? ({} as CreateTransportOptions);
  const kind = requested === 'auto' ? kindFromEnvironment() : requested;
  switch (kind) {
    case 'dgram':
      return createDgramTransport(transportOptions);
    case 'native': {
      const loaded = loadNative();
      if (loaded.error) throw new TransportUnavailableError('native', loaded.error.message, { cause: loaded.error });
      return createNativeTransport(transportOptions);
    }
    case 'auto': {
      const loaded = loadNative();
      if (!loaded.error) return createNativeTransport(transportOptions);
      if (!warnedFallback) {
        warnedFallback = true;
        process.emitWarning(`blipcast: native addon unavailable (${loaded.error.message}); using node:dgram, which is slower and cannot report destination addresses or kernel drops; for the native transport, ${NATIVE_BUILD_HINT}`, {
          type: 'Warning',
          code: NATIVE_UNAVAILABLE_WARNING,
        });
      }
      return createDgramTransport(transportOptions);
    }
    default:
      throw new InvalidArgumentValueError(`transport kind must be 'auto', 'native' or 'dgram', got '${String(kind)}'${kind === 'memory' ? ' (open memory transports with MemoryNetwork.createTransport)' : ''}`);
  }
}

function kindFromEnvironment(): 'auto' | 'native' | 'dgram' {
  const value = process.env[TRANSPORT_ENV];
  if (value === undefined || value === '' || value === 'auto') return 'auto';
  if (value === 'native' || value === 'dgram') return value;
  throw new InvalidArgumentValueError(`${TRANSPORT_ENV} must be 'native', 'dgram' or 'auto', got '${value}'`);
}
