/**
 * Builds a channel's endpoint from its resolved options: the protocol core,
 * wrapped for group membership (`member`) and then for encryption (`key`),
 * each handed its section of the channel's counters registry. The driver
 * drives whatever comes out the same way.
 */

import { randomBytes } from 'node:crypto';
import { Announcer, SessionVerifier } from '../crypto/announce';
import { AEAD_TAG_BYTES } from '../crypto/constants';
import { GroupCrypto } from '../crypto/group-crypto';
import { SealedEndpoint, type SealedEvent } from '../crypto/sealed-endpoint';
import type { Membership } from '../group/api';
import { GroupedEndpoint, type GroupedEvent } from '../group/grouped-endpoint';
import { createMembership } from '../group/membership';
import type { Endpoint, HealthReader } from '../protocol/api';
import { createEndpoint } from '../protocol/endpoint';
import { realScheduler } from '../util/clock';
import type { Counters } from '../util/counters';
import { createRandom } from '../util/random';
import { createRejectCounts } from '../wire/rejects';
import type { ResolvedOptions } from './options';
import { readBudgetOf } from './read-queue';

/** Every event a channel's endpoint can produce. */
export type ChannelEndpointEvent = SealedEvent<GroupedEvent>;

export interface ComposedEndpoint {
  endpoint: Endpoint<ChannelEndpointEvent>;
  sessionHi: number;
  sessionLo: number;
  /** The membership core, when the channel is a group member. */
  membership: Membership | undefined;
  /** The encryption wrapper, when the channel has a key (key rotation goes through it). */
  sealed: SealedEndpoint<GroupedEvent> | undefined;
  /** Joins the group (queues the first ANNOUNCE); a no-op for a channel that is not a member. */
  join(nowMs: number): void;
  /** The protocol core's health of sources and receivers (channel.sources() / receivers()). */
  health: HealthReader;
}

export function composeEndpoint(resolved: ResolvedOptions, counters: Counters): ComposedEndpoint {
  const { sessionHi, sessionLo, random } = sessionOf(resolved);
  const rejects = counters.add('rejects', createRejectCounts());
  const reliable = createEndpoint(
    {
      sessionHi,
      sessionLo,
      // A sealed datagram carries a 16-byte tag more than the core's.
      maxDatagramBytes: resolved.key === undefined ? resolved.maxDatagramBytes : resolved.maxDatagramBytes - AEAD_TAG_BYTES,
      windowBytes: resolved.windowBytes,
      windowMessages: resolved.windowMessages,
      rateBytesPerSec: resolved.rateBytesPerSec,
      ...(resolved.sendQueueBytes !== undefined ? { sendQueueBytes: resolved.sendQueueBytes } : {}),
      flowControl: resolved.flowControl,
      lateJoin: resolved.lateJoin,
      maxMessageBytes: resolved.maxMessageBytes,
      maxReorderBytes: resolved.maxReorderBytes,
      maxReassemblyBytes: resolved.maxReassemblyBytes,
      random,
      lingerMs: resolved.lingerMs,
      closeQuietMs: resolved.closeQuietMs,
      readBudgetBytes: readBudgetOf(resolved.maxReadBufferBytes),
      openedAtMs: resolved.transport === 'memory' ? resolved.network!.nowMs() : realScheduler.nowMs(),
      // Sealed datagrams carry the seal's counter in the CRC field: computing the CRC would be wasted.
      checksum: resolved.key === undefined,
      rejects,
      passive: resolved.passive,
      kernelDrops: () => (counters.read('transport') as { kernelDrops?: number } | undefined)?.kernelDrops ?? 0,
    },
    resolved.tuning,
  );
  counters.addReader('protocol', () => reliable.stats());

  let endpoint: Endpoint<GroupedEvent> = reliable;
  let grouped: GroupedEndpoint | undefined;
  const member = resolved.member;
  if (member !== undefined) {
    const membership = createMembership({ sessionHi, sessionLo, name: member.name, metadata: member.metadata, random, maxDatagramBytes: resolved.maxDatagramBytes, observer: resolved.passive }, member.tuning);
    endpoint = grouped = new GroupedEndpoint(reliable, membership, rejects, resolved.paceTo);
    counters.addReader('group', () => membership.stats());
  }

  let sealed: SealedEndpoint<GroupedEvent> | undefined;
  if (resolved.key !== undefined) {
    const crypto = new GroupCrypto({ key: resolved.key, keyGraceMs: resolved.keyGraceMs });
    const verifier = resolved.trustedKeys === undefined ? undefined : new SessionVerifier(resolved.trustedKeys, { sessionHi, sessionLo });
    const announcer = resolved.signingKey === undefined ? undefined : new Announcer(resolved.signingKey, sessionHi, sessionLo);
    sealed = new SealedEndpoint(endpoint, { crypto, rejects, ...(verifier ? { verifier } : {}), ...(announcer ? { announcer } : {}) });
    counters.addReader('crypto', () => ({ ...crypto.stats(), ...(verifier?.stats() ?? {}) }));
  }

  return {
    endpoint: sealed ?? endpoint,
    sessionHi,
    sessionLo,
    membership: grouped?.membership,
    sealed,
    join: (nowMs) => grouped?.join(nowMs),
    health: reliable,
  };
}

/** A fresh random session id (a restart is a new source), or one from `seed` (tests) unless the channel is encrypted. */
function sessionOf(resolved: ResolvedOptions): { sessionHi: number; sessionLo: number; random: () => number } {
  const fresh = (): [number, number] => {
    const bytes = randomBytes(8);
    return [bytes.readUInt32BE(0), bytes.readUInt32BE(4)];
  };
  if (resolved.seed === undefined) {
    const [sessionHi, sessionLo] = fresh();
    return { sessionHi, sessionLo, random: Math.random };
  }
  const rng = createRandom(resolved.seed);
  let sessionHi = rng.nextUint32();
  let sessionLo = rng.nextUint32();
  // The session id is half the AES-GCM nonce: two processes with one seed must never share it.
  if (resolved.key !== undefined) [sessionHi, sessionLo] = fresh();
  return { sessionHi, sessionLo, random: () => rng.next() };
}
