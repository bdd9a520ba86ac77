/**
 * One message being rebuilt from its fragments, which arrive here in
 * sequence order (the reorder buffer sees to that). The whole message buffer
 * is allocated at the first fragment, so the per-source reassembly cap is
 * checked once, up front; a message over the cap is consumed without being
 * stored ("discard") and reported as loss 'memory'.
 */

export class Reassembly {
  /** Bytes filled so far (= the offset the next fragment must have). */
  filled = 0;

  constructor(
    /** Sequence number of the first fragment (the message's seq). */
    readonly firstSeq: number,
    readonly totalBytes: number,
    /** The message under construction, or undefined when discarding. */
    readonly buf: Buffer | undefined,
  ) {}

  /** Whether a fragment (total, offset) continues this message. */
  continues(total: number, offset: number): boolean {
    return total === this.totalBytes && offset === this.filled;
  }

  append(data: Uint8Array): void {
    this.buf?.set(data, this.filled);
    this.filled += data.length;
  }

  get complete(): boolean {
    return this.filled === this.totalBytes;
  }

  /** Bytes charged against the reassembly cap. */
  get chargedBytes(): number {
    return this.buf ? this.totalBytes : 0;
  }
}
