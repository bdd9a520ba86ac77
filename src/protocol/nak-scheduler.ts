/**
 * When a receiver NAKs a gap (docs/protocol.md, "Receiver").
 *
 * A new gap waits a random back-off before its NAK. With N receivers sharing a
 * loss, the first to fire multicasts its NAK and the others, overhearing it
 * (or the sender's NCF, or the repair), cancel theirs. The back-off is drawn
 * from a truncated exponential over [0, nakBackoffMaxMs] with
 * λ = ln(N) + 1 (Nonnenmacher & Biersack; NORM uses the same): most receivers
 * draw late values, so few fire before the first NAK has reached them,
 * whatever N is. N is estimated from the peers' status datagrams this
 * receiver overhears; a receiver that believes it is alone NAKs almost at once.
 * 'uniform' draws from [0, nakBackoffMaxMs] instead.
 *
 * After a NAK (sent or overheard) the gap waits for the repair, then backs off
 * and NAKs again; after nakMaxRetries NAKs it is given up (loss 'retries').
 * The wait starts at the source's base (nakRepairWaitMs until this receiver
 * has timed a repair of its own, then adaptive: {@link SourceState.repairWaitBaseMs})
 * and doubles per retry up to nakRepairWaitMaxMs.
 */

import { GapState, type GapList } from './loss-detector';
import type { SeqRange } from './payload';
import type { ProtocolTuning } from './tuning';

export class NakScheduler {
  constructor(private readonly tuning: ProtocolTuning, private readonly random: () => number) {}

  /** Random back-off before the first NAK of a gap, for a group of `groupSize` receivers (self included). */
  backoffMs(groupSize: number): number {
    const t = this.tuning;
    if (groupSize <= 1) return this.random() * t.nakBackoffAloneMs;
    const u = this.random();
    if (t.nakBackoff === 'uniform') return u * t.nakBackoffMaxMs;
    const lambda = Math.log(groupSize) + 1;
    return (t.nakBackoffMaxMs / lambda) * Math.log(u * (Math.exp(lambda) - 1) + 1);
  }

  /**
   * NAKs before a gap is given up: nakMaxRetries, plus as many as a shorter
   * first wait needs to ask for as long in all (a base of 1 ms instead of
   * 20 ms adds 5 doublings), so an adaptive wait never gives up sooner.
   */
  maxRetries(baseMs: number = this.tuning.nakRepairWaitMs): number {
    const t = this.tuning;
    return baseMs >= t.nakRepairWaitMs ? t.nakMaxRetries : t.nakMaxRetries + Math.ceil(Math.log2(t.nakRepairWaitMs / baseMs));
  }

  /** How long to wait for a repair after the `retries`-th NAK, from a first wait of `baseMs`. */
  repairWaitMs(retries: number, baseMs: number = this.tuning.nakRepairWaitMs): number {
    return Math.min(this.tuning.nakRepairWaitMaxMs, baseMs * 2 ** Math.max(0, retries - 1));
  }

  /**
   * Runs the gaps that are due: ranges to NAK now are appended to `nak`
   * (merged where adjacent), ranges given up to `giveUp` (and removed).
   */
  run(gaps: GapList, nowMs: number, groupSize: number, nak: SeqRange[], giveUp: SeqRange[], waitBaseMs?: number): void {
    const gs = gaps.gaps;
    const maxRetries = this.maxRetries(waitBaseMs);
    for (let i = 0; i < gs.length; i++) {
      const g = gs[i]!;
      if (g.dueMs > nowMs) continue;
      if (g.state === GapState.BACKOFF) {
        g.state = GapState.WAITING;
        g.retries++;
        g.nakMs = g.retries === 1 ? nowMs : -1;
        g.dueMs = nowMs + this.repairWaitMs(g.retries, waitBaseMs);
        const last = nak[nak.length - 1];
        if (last && last.to + 1 === g.from) last.to = g.to;
        else nak.push({ from: g.from, to: g.to });
      } else if (g.retries >= maxRetries) {
        giveUp.push({ from: g.from, to: g.to });
        gs.splice(i, 1);
        i--;
      } else {
        g.state = GapState.BACKOFF;
        g.dueMs = nowMs + this.backoffMs(groupSize);
      }
    }
  }

  /**
   * A NAK or NCF for [from, to] was overheard: gaps inside it stop backing off
   * and wait for the repair. Returns how many gaps had a NAK of their own pending (suppressed).
   */
  suppress(gaps: GapList, from: number, to: number, nowMs: number, waitBaseMs?: number): number {
    if (!gaps.overlaps(from, to)) return 0;
    let suppressed = 0;
    for (const g of gaps.isolate(from, to)) {
      if (g.state === GapState.BACKOFF) {
        suppressed++;
        g.state = GapState.WAITING;
        g.retries++;
        g.nakMs = -1;
      }
      g.dueMs = nowMs + this.repairWaitMs(g.retries, waitBaseMs);
    }
    return suppressed;
  }
}
