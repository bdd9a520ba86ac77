/** Argument parsing shared by the subcommands, on util.parseArgs. Bad input is a UsageError (exit 2). */

import { parseArgs, ParseArgsConfig } from 'node:util';
import { parseGroup, resolveInterface, GroupAddress } from '../transport/address';
import { UsageError } from './usage';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export const COMMON_OPTIONS = {
  interface: { type: 'string' },
  ttl: { type: 'string' },
  stream: { type: 'string' },
  transport: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

export interface Parsed {
  group: GroupAddress;
  groupText: string;
  values: Record<string, string | boolean | undefined>;
}

/** Parses `GROUP:PORT [options]`; every failure becomes a one-line UsageError. */
export function parseCommand(args: string[], options: OptionSpec): Parsed {
  let parsed;
  try {
    parsed = parseArgs({ args, options: { ...COMMON_OPTIONS, ...options }, allowPositionals: true, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const { values, positionals } = parsed;
  if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'missing GROUP:PORT' : `unexpected argument '${positionals[1]}'`);
  const groupText = positionals[0]!;
  let group: GroupAddress;
  try {
    group = parseGroup(groupText);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (typeof values.interface === 'string') {
    try {
      resolveInterface(values.interface);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return { group, groupText, values: values as Parsed['values'] };
}

/** Reads an integer option within [min, max]; undefined when absent. */
export function intOption(values: Parsed['values'], name: string, min: number, max: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer in ${min}..${max}, got '${String(raw)}'`);
  }
  return n;
}

/** Reads a non-negative number of seconds; returns milliseconds. */
export function secondsOption(values: Parsed['values'], name: string): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--${name} must be a number of seconds ≥ 0, got '${String(raw)}'`);
  return n * 1000;
}

export function choiceOption<T extends string>(values: Parsed['values'], name: string, choices: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${String(raw)}'`);
  return raw as T;
}
