/**
 * The `member` option of open(): validation and defaults, checked before
 * anything is opened (like every other option, src/options.ts).
 */

import { hostname } from 'node:os';
import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../util/errors';
import type { MembershipTuning } from '../group/api';
import { createMembership, DEFAULT_MEMBERSHIP_TUNING } from '../group/membership';

/** `open({ member })`: join the group as a member with this name and metadata. */
export interface MemberOptions {
  /** Human-readable name, ≤ 255 UTF-8 bytes. Default: the host name. */
  name?: string;
  /** Key-values fixed for this run (service, role, version, addresses…); strings only; the announce carrying name and metadata must fit one datagram. */
  metadata?: Readonly<Record<string, string>>;
  /** Membership timers and budgets (ms unless named otherwise); defaults in src/group/constants.ts, documented in docs/protocol.md. Tests and labs shorten them. */
  tuning?: Partial<MembershipTuning>;
}

/** The `member` option after validation. */
export interface ResolvedMember {
  name: string;
  metadata: Readonly<Record<string, string>>;
  tuning: Partial<MembershipTuning>;
}

/** Tuning fields that count things; the others are ms or multipliers (finite, > 0). */
const INTEGER_KEYS = new Set<keyof MembershipTuning>(['indirectProbes', 'watchers', 'redundancy', 'maxTombstones', 'maxMembers', 'maxPiggybackQueue', 'maxPiggybackPerDatagram', 'leaveRepeats']);
const MEMBER_KEYS = new Set(['name', 'metadata', 'tuning']);

/**
 * Checks `options.member`. `maxDatagramBytes` is the channel's: the announce must fit it.
 * @throws InvalidArgumentTypeError / InvalidArgumentValueError naming `options.member.…`.
 */
export function resolveMemberOption(value: unknown, maxDatagramBytes: number): ResolvedMember {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidArgumentTypeError(`options.member must be an object like { name, metadata }, got ${value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value}`);
  const m = value as Record<string, unknown>;
  for (const key of Object.keys(m)) if (!MEMBER_KEYS.has(key)) throw new InvalidArgumentValueError(`unknown option 'member.${key}'`);
  const name = m.name ?? hostname();
  if (typeof name !== 'string') throw new InvalidArgumentTypeError(`options.member.name must be a string, got ${typeof name}`);
  const metadata: Record<string, string> = {};
  if (m.metadata !== undefined) {
    if (typeof m.metadata !== 'object' || m.metadata === null || Array.isArray(m.metadata)) throw new InvalidArgumentTypeError('options.member.metadata must be an object of string values');
    for (const [k, v] of Object.entries(m.metadata)) {
      if (typeof v !== 'string') throw new InvalidArgumentTypeError(`options.member.metadata.${k} must be a string, got ${typeof v}`);
      metadata[k] = v;
    }
  }
  const tuning: Partial<MembershipTuning> = {};
  if (m.tuning !== undefined) {
    if (typeof m.tuning !== 'object' || m.tuning === null || Array.isArray(m.tuning)) throw new InvalidArgumentTypeError('options.member.tuning must be an object');
    for (const [k, v] of Object.entries(m.tuning)) {
      if (!(k in DEFAULT_MEMBERSHIP_TUNING)) throw new InvalidArgumentValueError(`unknown option 'member.tuning.${k}'`);
      if (v === undefined) continue;
      if (typeof v !== 'number') throw new InvalidArgumentTypeError(`options.member.tuning.${k} must be a number, got ${typeof v}`);
      const key = k as keyof MembershipTuning;
      const ok = INTEGER_KEYS.has(key) ? Number.isInteger(v) && v >= (key === 'indirectProbes' ? 0 : 1) && v <= 2 ** 31 - 1 : Number.isFinite(v) && v > 0;
      if (!ok) throw new InvalidArgumentValueError(`options.member.tuning.${k} must be ${INTEGER_KEYS.has(key) ? 'a non-negative integer' : 'a finite number > 0'}, got ${v}`);
      tuning[key] = v;
    }
  }
  // The core's own checks (name length, metadata caps, announce size) on a throwaway instance: pure, no I/O.
  try {
    createMembership({ sessionHi: 0, sessionLo: 1, name, metadata, random: Math.random, maxDatagramBytes }, tuning);
  } catch (err) {
    if (err instanceof InvalidArgumentValueError) throw new InvalidArgumentValueError(`options.member: ${err.message}`);
    throw err;
  }
  return { name, metadata: Object.freeze(metadata), tuning };
}
