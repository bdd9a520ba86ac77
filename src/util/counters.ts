/**
 * One counters registry per channel (Aeron's counters file, in miniature):
 * each component is handed its section at construction and counts into it
 * in place — a plain object of numbers, a property increment on the hot
 * path — or registers how to read the counters it keeps itself (the
 * protocol core's own registry, a transport the user may have supplied).
 * `stats()` is {@link Counters.snapshot}: one copy of every section, taken
 * at one moment, that the caller may keep.
 */

/** A section's values: numbers, or records of numbers (counters by reason), or undefined. */
export type SectionValues = object;

export class Counters {
  private readonly sections = new Map<string, () => SectionValues | undefined>();

  /**
   * Registers section `name` holding `values`, which its one owner increments
   * in place; `refresh` (optional) updates its gauges just before a snapshot.
   * Returns `values`. Throws if the name is taken (a second owner of one fact).
   */
  add<T extends SectionValues>(name: string, values: T, refresh?: (values: T) => void): T {
    this.claim(name);
    this.sections.set(name, () => {
      refresh?.(values);
      return values;
    });
    return values;
  }

  /** Registers section `name` read from a component that keeps its own counters. */
  addReader(name: string, read: () => SectionValues | undefined): void {
    this.claim(name);
    this.sections.set(name, read);
  }

  /** The current values of section `name` (not a copy: read, do not keep), or undefined. */
  read(name: string): SectionValues | undefined {
    return this.sections.get(name)?.();
  }

  /** Every section, deep-copied: the caller may keep it. */
  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, read] of this.sections) {
      const values = read();
      if (values !== undefined) out[name] = copy(values);
    }
    return out;
  }

  private claim(name: string): void {
    if (this.sections.has(name)) throw new Error(`counters section '${name}' registered twice`);
  }
}

function copy(values: object): object {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(values)) out[k] = v !== null && typeof v === 'object' ? copy(v as object) : v;
  return out;
}
