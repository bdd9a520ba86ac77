/**
 * Link conditions of the memory network: what a link does to each datagram,
 * its counters, and the validation of a configuration.
 */

import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../../util/errors';

/** How a link treats each datagram. Every field defaults to 0 (a perfect, instant link). */
export interface LinkConditions {
  /** Probability that a datagram is lost, 0..1. */
  lossRate?: number;
  /** Probability that a datagram arrives twice, 0..1. */
  duplicateRate?: number;
  /** Probability that a datagram is held back by `reorderDelayMs`, so that later ones overtake it, 0..1. */
  reorderRate?: number;
  /** How long a reordered datagram is held back, ms. Default 1. */
  reorderDelayMs?: number;
  /** Fixed one-way delay, ms. */
  delayMs?: number;
  /** Extra delay, uniform in [0, jitterMs), ms. Jitter also reorders. */
  jitterMs?: number;
}

/** Counters of one directed link (sender host → receiver host). Local (same-host) delivery is not a link. */
export interface LinkStats {
  /** Datagrams offered to the link (one per receiving transport). */
  datagrams: number;
  /** Copies scheduled for delivery (a duplicated datagram counts twice). */
  forwarded: number;
  /** Datagrams lost to `lossRate`. */
  dropped: number;
  /** Datagrams duplicated. */
  duplicated: number;
  /** Datagrams held back by `reorderRate`. */
  reordered: number;
  /** Datagrams dropped because the two hosts were partitioned. */
  partitioned: number;
}

/** Conditions with every field filled in. */
export interface ResolvedConditions {
  lossRate: number;
  duplicateRate: number;
  reorderRate: number;
  reorderDelayMs: number;
  delayMs: number;
  jitterMs: number;
}

/** @internal conditions (re-resolved when the configuration changes) and counters of one directed link */
export class LinkState {
  version = -1;
  conditions: ResolvedConditions = perfectLink();
  partitioned = false;
  readonly stats: LinkStats = { datagrams: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, partitioned: 0 };
}

export function perfectLink(): ResolvedConditions {
  return { lossRate: 0, duplicateRate: 0, reorderRate: 0, reorderDelayMs: 1, delayMs: 0, jitterMs: 0 };
}

/** Validates conditions and returns only the fields that were given (so that merging works field by field). */
export function checkConditions(conditions: LinkConditions): LinkConditions {
  if (typeof conditions !== 'object' || conditions === null) throw new InvalidArgumentTypeError('link conditions must be an object');
  const out: LinkConditions = {};
  for (const name of ['lossRate', 'duplicateRate', 'reorderRate'] as const) {
    const v = conditions[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new InvalidArgumentValueError(`${name} must be a number in 0..1, got ${String(v)}`);
    out[name] = v;
  }
  for (const name of ['reorderDelayMs', 'delayMs', 'jitterMs'] as const) {
    const v = conditions[name];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !(v >= 0) || !Number.isFinite(v)) throw new InvalidArgumentValueError(`${name} must be a finite number ≥ 0, got ${String(v)}`);
    out[name] = v;
  }
  return out;
}
