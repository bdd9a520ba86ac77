/**
 * 'min': the window advances only past what every live receiver has
 * acknowledged, and nothing is transmitted beyond the free space each
 * receiver advertised (its reorder room, or what its reader has left of the
 * read budget: Sender.updateLimit), so the slowest receiver — and the
 * slowest reader — paces the group (send() returns false once the transmit
 * queue fills, 'drain' follows their status). A receiver silent for
 * receiverTimeoutMs is dropped (event 'receiver-dropped', reason 'timeout')
 * and stops holding the window. With no receivers known, the window evicts
 * nothing unacknowledged for receiverTimeoutMs after the first transmission
 * (a receiver listening from the start may not have reported yet: Sender.holdsForDiscovery);
 * after that it only bounds memory.
 *
 * On a channel that is a group member, every other live member counts as a
 * receiver from the moment it joins (Endpoint.expectReceiver), is never
 * dropped for silence, and stops holding the window as soon as the group
 * declares it dead or it leaves (Endpoint.dropReceiver).
 */

import type { FlowControlStrategy } from './strategy';

export const minFlowControl: FlowControlStrategy = {
  name: 'min',
  pacesTransmit: true,
  reportsLaggards: false,
  releaseLimit(receivers, streamId) {
    return receivers.ackBounds(streamId)?.min ?? Infinity;
  },
};
