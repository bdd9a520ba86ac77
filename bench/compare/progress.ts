/**
 * Progress lines of bench:compare on stderr: time since the start, what is
 * left by the up-front estimate (scaled by how the estimate has held so
 * far), and what starts now.
 */

/** m:ss */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private readonly startedMs = performance.now();
  private doneEstimateMs = 0;

  /** `plannedMs`: the estimate of everything that will be reported through {@link done}. */
  constructor(private readonly plannedMs: number) {}

  elapsedMs(): number {
    return performance.now() - this.startedMs;
  }

  /** One line on stderr: `[elapsed 3:12, ~9:40 left] text`. */
  say(text: string): void {
    const elapsedMs = this.elapsedMs();
    // The estimate of what is left, corrected by how long the finished part took against its estimate.
    const pace = this.doneEstimateMs > 0 ? elapsedMs / this.doneEstimateMs : 1;
    const leftMs = Math.max(0, this.plannedMs - this.doneEstimateMs) * pace;
    process.stderr.write(`[${clock(elapsedMs)}, ~${clock(leftMs)} left] ${text}\n`);
  }

  /** Counts a planned step as finished: `estimateMs` is what the plan gave it. */
  done(estimateMs: number): void {
    this.doneEstimateMs += estimateMs;
  }
}
