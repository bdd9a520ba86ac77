/**
 * The two queues an endpoint fills for its driver: control datagrams to
 * transmit (before any data) and events for the application.
 */

import type { ProtocolEvent } from './api';
import { Fifo } from '../util/fifo';

export class Output {
  readonly control = new Fifo<Uint8Array>();
  readonly events = new Fifo<ProtocolEvent>();
}
