/**
 * Validation of the publisher's and the collector's own options, with the
 * library's typed errors and its message style (`options.intervalMs must be …,
 * got …`). The channel options they pass on (group, interface, ttl, key,
 * transport) are validated by open() itself.
 */

import { InvalidArgumentTypeError, InvalidArgumentValueError } from '../index';

/** @throws InvalidArgumentTypeError when `options` is not a plain object; InvalidArgumentValueError naming the first unknown option. */
export function checkKnown(options: unknown, known: readonly string[]): asserts options is Record<string, unknown> {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidArgumentTypeError(`options must be an object, got ${describe(options)}`);
  }
  for (const name of Object.keys(options)) {
    if (!known.includes(name)) throw new InvalidArgumentValueError(`unknown option '${name}'`);
  }
}

/** A non-empty string option, or undefined when absent. */
export function stringOption(options: Record<string, unknown>, name: string): string | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentTypeError(`options.${name} must be a string, got ${describe(v)}`);
  if (v === '') throw new InvalidArgumentValueError(`options.${name} must not be empty`);
  return v;
}

/** A finite number option within [min, max], or undefined when absent. */
export function numberOption(options: Record<string, unknown>, name: string, min: number, max: number): number | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'number') throw new InvalidArgumentTypeError(`options.${name} must be a number, got ${describe(v)}`);
  if (!Number.isFinite(v) || v < min || v > max) throw new InvalidArgumentValueError(`options.${name} must be a finite number in ${min}..${max}, got ${v}`);
  return v;
}

/** One of `choices`, or undefined when absent. */
export function choiceOption<T extends string>(options: Record<string, unknown>, name: string, choices: readonly T[]): T | undefined {
  const v = options[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new InvalidArgumentTypeError(`options.${name} must be a string, got ${describe(v)}`);
  if (!(choices as readonly string[]).includes(v)) throw new InvalidArgumentValueError(`options.${name} must be ${choices.map((c) => `'${c}'`).join(', ')}, got '${v}'`);
  return v as T;
}

/** The options passed on to open() as they are (open() validates them), without the absent ones. */
export function passThrough(options: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of names) if (options[name] !== undefined) out[name] = options[name];
  return out;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v}'`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}
