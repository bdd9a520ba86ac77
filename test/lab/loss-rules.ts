/**
 * The nftables rules that inject loss on a lab host: one table, one input
 * chain, up to two rules on incoming UDP — runs of consecutive datagrams
 * (bursts) and single datagrams at random. Pure text in and out; lab.ts
 * applies the scripts inside the host's namespace.
 */

import { randomInt } from 'node:crypto';

export interface LossOptions {
  /** Drop only datagrams to this UDP destination port (default: every UDP datagram). */
  port?: number;
  /** Also drop runs of consecutive datagrams, as a switch queue that overflows does. */
  burst?: BurstLoss;
}

/**
 * Burst loss: the rule counts the UDP datagrams arriving at the host (`numgen inc`,
 * one counter per rule, advanced by every datagram the rule sees) and drops
 * `length` consecutive ones out of every `period = round(length / rate)`:
 *
 *     meta l4proto udp numgen inc mod <period> <phase>-<phase + length - 1> counter drop
 *
 * nftables has no per-rule state but that counter, so the bursts are periodic; the
 * phase is random unless given, so each host and each run puts its bursts elsewhere
 * in the stream. Everything that arrives counts toward the period — data, repairs,
 * heartbeats — so which datagrams a burst hits shifts with the traffic. The random
 * rate given to `Lab.setLoss` applies on top (after this rule), which mixes
 * single losses between the bursts. The rule counts packets as they arrive: with
 * `LabOptions.gsoRuns` a whole GSO run is one packet, so a burst is that many runs.
 */
export interface BurstLoss {
  /** Datagrams in one burst, 1–10000. */
  length: number;
  /** Fraction of all arriving datagrams the bursts drop, in (0, 0.5]: the period is round(length / rate). */
  rate: number;
  /** Position of the burst within the period, 0 ≤ phase ≤ period - length (default: random). */
  phase?: number;
}

/** What the loss rules of a host dropped, by rule. */
export interface LossDrops {
  /** Datagrams dropped by the burst rule. */
  burst: number;
  /** Datagrams dropped by the random (single-datagram) rule. */
  random: number;
}

/** nftables table that holds the loss rules (one per host namespace). */
export const LOSS_TABLE = 'blipcast_loss';
/** Resolution of the random loss rate: the rule drops when `numgen random mod LOSS_SCALE < N`. */
const LOSS_SCALE = 10_000;
const MAX_BURST_LENGTH = 10_000;
/** Bursts may drop at most half of the traffic: beyond that a "burst" is an outage, better modelled with Lab.setLinkUp. */
const MAX_BURST_RATE = 0.5;
/** Comments that tell the two loss rules apart in `nft list` output. */
const BURST_COMMENT = 'blipcast burst loss';
const RANDOM_COMMENT = 'blipcast random loss';

/**
 * The `nft -f` script that replaces a host's loss rules with: bursts (when
 * `options.burst`) and a random fraction `rate` (when > 0). @throws RangeError for values out of range.
 */
export function lossScript(rate: number, options: LossOptions): string {
  const portMatch = options.port === undefined ? '' : `udp dport ${checkedPort(options.port)} `;
  const rules: string[] = [];
  // The burst rule comes first so that its counter sees every arriving datagram, not only those the random rule let through.
  if (options.burst !== undefined) rules.push(`    meta l4proto udp ${portMatch}${burstMatch(options.burst)} counter drop comment "${BURST_COMMENT}"`);
  if (rate > 0) {
    const threshold = Math.round(rate * LOSS_SCALE);
    // numgen yields 0..LOSS_SCALE-1, so a threshold of LOSS_SCALE cannot be written: total loss needs no random match.
    const randomMatch = threshold >= LOSS_SCALE ? '' : `numgen random mod ${LOSS_SCALE} < ${threshold} `;
    rules.push(`    meta l4proto udp ${portMatch}${randomMatch}counter drop comment "${RANDOM_COMMENT}"`);
  }
  // Declaring then deleting the table makes the script work whether or not the table exists; nft applies it as one transaction.
  return [
    `table inet ${LOSS_TABLE} {}`,
    `delete table inet ${LOSS_TABLE}`,
    `table inet ${LOSS_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority 0; policy accept;',
    ...rules,
    '  }',
    '}',
    '',
  ].join('\n');
}

/** The `nft -f` script that removes a host's loss rules (fine when there are none). */
export function clearLossScript(): string {
  return `table inet ${LOSS_TABLE} {}\ndelete table inet ${LOSS_TABLE}\n`;
}

/** The drop counters in `nft list table inet LOSS_TABLE` output, by rule. */
export function parseLossDrops(listing: string): LossDrops {
  const drops: LossDrops = { burst: 0, random: 0 };
  for (const line of listing.split('\n')) {
    const m = /counter packets (\d+)/.exec(line);
    if (!m) continue;
    if (line.includes(BURST_COMMENT)) drops.burst += Number(m[1]);
    else drops.random += Number(m[1]);
  }
  return drops;
}

/** The `numgen inc mod PERIOD FIRST-LAST` match of a {@link BurstLoss}. @throws RangeError for values out of range. */
function burstMatch(burst: BurstLoss): string {
  const { length, rate } = burst;
  if (!Number.isInteger(length) || length < 1 || length > MAX_BURST_LENGTH) throw new RangeError(`burst length must be an integer in 1..${MAX_BURST_LENGTH}, got ${length}`);
  if (typeof rate !== 'number' || !(rate > 0 && rate <= MAX_BURST_RATE)) throw new RangeError(`burst rate must be in (0, ${MAX_BURST_RATE}], got ${rate}`);
  const period = Math.max(length + 1, Math.round(length / rate));
  const phase = burst.phase ?? randomInt(period - length + 1);
  if (!Number.isInteger(phase) || phase < 0 || phase > period - length) throw new RangeError(`burst phase must be an integer in 0..${period - length}, got ${phase}`);
  const window = length === 1 ? `${phase}` : `${phase}-${phase + length - 1}`;
  return `numgen inc mod ${period} ${window}`;
}

function checkedPort(port: number): number {
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new RangeError(`port must be in 1..65535, got ${port}`);
  return port;
}
