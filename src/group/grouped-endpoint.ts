/**
 * A channel endpoint that is also a group member: the reliable protocol core
 * (src/protocol/endpoint.ts) and the membership core (membership.ts) behind
 * one {@link Endpoint}, so that they share the channel's socket, its session
 * id and its one timer, and the driver (src/api/driver.ts) drives it like the core.
 *
 * CONTROL datagrams go to the membership, everything else to the reliable
 * core; membership datagrams go out before the reliable core's (they are
 * few and small, and a delayed probe ack looks like a failure); the timer
 * is the earlier of the two. Membership changes come out of pollEvent as
 * `{ type: 'member' }` events, and are fed to the reliable sender as they
 * happen, so that 'min' flow control paces to the live members: a member
 * that joins is waited for, one that dies or leaves stops holding the window
 * at once. Sans-IO like both cores: no clock, no socket.
 */

import type { CloseOutcome, Endpoint, ProtocolEvent, ProtocolStats, SourceInfo } from '../protocol/api';
import { BatchReader } from '../protocol/batch-reader';
import { Fifo } from '../util/fifo';
import type { ReceivedBatch } from '../wire/batch';
import type { RejectCounts } from '../wire/rejects';
import { DatagramType, sessionIdHex, type Header } from '../wire/header';
import type { MemberInfo, Membership, MembershipEvent } from './api';

/** The core's events, and a group-membership change. */
export type GroupedEvent = ProtocolEvent | { type: 'member'; change: MembershipEvent };

export class GroupedEndpoint implements Endpoint<GroupedEvent> {
  private readonly events = new Fifo<GroupedEvent>();

  private readonly reader: BatchReader;

  /**
   * `rejects`: the counters section where the datagrams dropped by the header checks are counted (the reliable core's).
   * `paceTo`: which members the sender paces to and waits for at close (default all); the others are ignored as receivers.
   */
  constructor(
    private readonly reliable: Endpoint,
    readonly membership: Membership,
    rejects: RejectCounts,
    private readonly paceTo?: (member: MemberInfo) => boolean,
  ) {
    this.reader = new BatchReader(rejects);
  }

  /** Joins the group: the first ANNOUNCE is queued for the next pollTransmit. */
  join(nowMs: number): void {
    this.membership.join(nowMs);
  }

  send(nowMs: number, streamId: number, data: Uint8Array): boolean {
    return this.reliable.send(nowMs, streamId, data);
  }

  flush(nowMs: number): void {
    this.reliable.flush(nowMs);
  }

  handleBatch(nowMs: number, batch: ReceivedBatch): void {
    this.reader.read(nowMs, batch, this.handleChecked);
  }

  private readonly handleChecked = (nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number }): void => {
    this.handleDatagram(nowMs, datagram, header, from);
  };

  handleDatagram(nowMs: number, datagram: Uint8Array, header: Header, from: { address: string; port: number } | undefined): void {
    if (header.type !== DatagramType.CONTROL) {
      this.reliable.handleDatagram(nowMs, datagram, header, from);
      return;
    }
    this.membership.handleDatagram(nowMs, datagram, header);
    this.drainMembership(nowMs, header, from);
  }

  handleTimeout(nowMs: number): void {
    this.membership.handleTimeout(nowMs);
    this.drainMembership(nowMs, undefined, undefined);
    this.reliable.handleTimeout(nowMs);
  }

  pollTransmit(nowMs: number): Uint8Array | undefined {
    return this.membership.pollTransmit() ?? this.reliable.pollTransmit(nowMs);
  }

  pollTimeout(): number | undefined {
    const a = this.membership.pollTimeout();
    const b = this.reliable.pollTimeout();
    if (a === undefined) return b;
    if (b === undefined) return a;
    return Math.min(a, b);
  }

  pollEvent(): GroupedEvent | undefined {
    return this.reliable.pollEvent() ?? this.events.shift();
  }

  /** The reliable core's answer: membership traffic never ends, so it does not count for close() linger. */
  isFlushed(): boolean {
    return this.reliable.isFlushed();
  }

  /** Ends the session and leaves the group: the LEAVE datagrams go out in the same driver turn as the end of session. */
  close(nowMs: number, immediate = false): void {
    this.reliable.close(nowMs, immediate);
    this.membership.leave(nowMs);
  }

  closeOutcome(): CloseOutcome | undefined {
    return this.reliable.closeOutcome();
  }

  setReadBacklog(nowMs: number, bytes: number): void {
    this.reliable.setReadBacklog(nowMs, bytes);
  }

  stats(): ProtocolStats {
    return this.reliable.stats();
  }

  expectReceiver(nowMs: number, receiver: SourceInfo): void {
    this.reliable.expectReceiver(nowMs, receiver);
  }

  dropReceiver(nowMs: number, id: string, reason: 'dead' | 'left'): void {
    this.reliable.dropReceiver(nowMs, id, reason);
  }

  ignoreReceiver(nowMs: number, id: string): void {
    this.reliable.ignoreReceiver(nowMs, id);
  }

  /** Whether the sender paces to `member`: never to an observer; a `paceTo` that throws counts as yes (the safe side: nothing is lost). */
  private pacesTo(member: MemberInfo): boolean {
    // An observer never acknowledges anything: pacing to it would stall the sender.
    if (member.observer) return false;
    if (this.paceTo === undefined) return true;
    try {
      return this.paceTo(member) !== false;
    } catch {
      return true;
    }
  }

  /**
   * Moves membership events into our queue and tells the reliable sender
   * about joins and departures. `header`/`from` are those of the CONTROL
   * datagram just handled: a member that joins by its own announce gets its
   * address in the receiver table (others get it from their first status).
   */
  private drainMembership(nowMs: number, header: Header | undefined, from: { address: string; port: number } | undefined): void {
    let change;
    while ((change = this.membership.pollEvent()) !== undefined) {
      const id = change.member.id;
      switch (change.type) {
        case 'join': {
          const own = header !== undefined && from !== undefined && sessionIdHex(header.sessionHi, header.sessionLo) === id;
          const receiver: SourceInfo = own ? { id, address: from.address, port: from.port } : { id, address: undefined, port: undefined };
          if (!this.pacesTo(change.member)) this.reliable.ignoreReceiver(nowMs, id);
          else this.reliable.expectReceiver(nowMs, receiver);
          break;
        }
        case 'dead':
          this.reliable.dropReceiver(nowMs, id, 'dead');
          break;
        case 'leave':
          this.reliable.dropReceiver(nowMs, id, 'left');
          break;
        default:
          break; // a suspect still holds the window: suspicion is how SWIM avoids false deaths
      }
      this.events.push({ type: 'member', change });
    }
  }
}
