/**
 * `rotate` of a collector (`--rotate`): by size, by interval, or both, done
 * by rotating-file-stream. Parsed here so that a bad value fails before
 * anything is opened, with a message that names it.
 */

export interface Rotation {
  /** rotating-file-stream `size`: `10M` (units B, K, M, G). */
  size?: string;
  /** rotating-file-stream `interval`: `1h` (units s, m, h, d). */
  interval?: string;
}

/** The intervals rotating-file-stream accepts: the unit must divide the next one up. */
const HOURS = new Set([1, 2, 3, 4, 6, 8, 12, 24]);
const MINUTES_OR_SECONDS = new Set([1, 2, 3, 4, 5, 6, 10, 12, 15, 20, 30, 60]);

/**
 * `'10M'`, `'1h'` or `'10M,1h'`. `M` is megabytes (not months).
 * @throws RangeError naming the value and what is accepted.
 */
export function parseRotate(text: string): Rotation {
  const out: Rotation = {};
  const bad = (why: string): RangeError => new RangeError(`rotate must be SIZE (10M; units B K M G), INTERVAL (1h; units s m h d) or SIZE,INTERVAL: ${why} in '${text}'`);
  for (const part of String(text).split(',')) {
    const m = /^([1-9]\d*)([BKMGsmhd])$/.exec(part.trim());
    if (!m) throw bad(`'${part}' is neither`);
    const n = Number(m[1]);
    const unit = m[2]!;
    if ('BKMG'.includes(unit)) {
      if (out.size !== undefined) throw bad('two sizes');
      out.size = `${n}${unit}`;
    } else {
      if (out.interval !== undefined) throw bad('two intervals');
      if (unit === 'h' && !HOURS.has(n)) throw bad(`hours must be one of ${[...HOURS].join(', ')}`);
      if ((unit === 'm' || unit === 's') && !MINUTES_OR_SECONDS.has(n)) throw bad(`minutes and seconds must be one of ${[...MINUTES_OR_SECONDS].join(', ')}`);
      out.interval = `${n}${unit}`;
    }
  }
  return out;
}
