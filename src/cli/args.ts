/** Argument parsing shared by the subcommands, on util.parseArgs. Bad input is a UsageError (exit 2). */

import { parseArgs, ParseArgsConfig } from 'node:util';
import { parseGroup, type GroupAddress } from '../index';
import { HelpRequest, UsageError, type CommandName } from './usage';

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
  /** The positionals after GROUP:PORT (at most `maxExtra` of them, see parseCommand). */
  extra: string[];
}

/**
 * util.parseArgs (strict) with the CLI's error handling: `-h`/`--help`
 * anywhere before `--` is a {@link HelpRequest}, even next to other mistakes;
 * a parse error is a UsageError carrying Node's whole message (its later lines
 * hold the hint, e.g. "use '--ttl=-1'").
 */
export function parseOptions(command: CommandName, args: string[], options: OptionSpec): { values: Parsed['values']; positionals: string[] } {
  const end = args.indexOf('--');
  const help = (end === -1 ? args : args.slice(0, end)).some((a) => a === '-h' || a === '--help');
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    if (help) throw new HelpRequest(command);
    throw new UsageError(withRealValue((err as Error).message, args));
  }
  if (parsed.values.help === true) throw new HelpRequest(command);
  return { values: parsed.values as Parsed['values'], positionals: parsed.positionals };
}

/** Node writes `'--ttl=-XYZ'` in its hint for a value that starts with a dash; show the value that was given. */
function withRealValue(message: string, args: string[]): string {
  return message.replace(/'(--[^=' ]+)=-XYZ'/g, (whole, option: string) => {
    const value = args[args.indexOf(option) + 1];
    return value !== undefined && value.startsWith('-') ? `'${option}=${value}'` : whole;
  });
}

/**
 * Parses `GROUP:PORT [options]`, with up to `maxExtra` more positionals
 * (`request GROUP:PORT [PAYLOAD]`); every failure becomes a UsageError,
 * `--help` a HelpRequest. An unknown `--interface` is reported by open()
 * (UnknownInterfaceError, exit 2 as well).
 */
export function parseCommand(command: CommandName, args: string[], options: OptionSpec, maxExtra = 0): Parsed {
  const { values, positionals } = parseOptions(command, args, { ...COMMON_OPTIONS, ...options });
  if (positionals.length === 0) throw new UsageError('missing GROUP:PORT');
  if (positionals.length > 1 + maxExtra) throw new UsageError(`unexpected argument '${positionals[1 + maxExtra]}'`);
  const groupText = positionals[0]!;
  return { group: groupArgument(groupText), groupText, values, extra: positionals.slice(1) };
}

/** `GROUP:PORT` (a positional, or an option's value as in `doctor --group`) parsed; a UsageError when it is not a multicast group and port. */
export function groupArgument(text: string): GroupAddress {
  try {
    return parseGroup(text);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** "from 1 to 255", or "of at least 1" when there is no practical upper bound. */
function range(min: number, max: number): string {
  return max >= Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
}

/** Reads an integer option within [min, max]; undefined when absent. */
export function intOption(values: Parsed['values'], name: string, min: number, max: number): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number ${range(min, max)} (got ${String(raw)})`);
  }
  return n;
}

/** The longest delay a Node timer can wait (2^31 − 1 ms); longer ones fire at once. */
export const MAX_TIMER_SECONDS = Math.floor((2 ** 31 - 1) / 1000);

/** Reads a number of seconds in [0, maxSeconds]; returns milliseconds. */
export function secondsOption(values: Parsed['values'], name: string, maxSeconds = MAX_TIMER_SECONDS): number | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  const n = Number(raw);
  if (typeof raw !== 'string' || raw.trim() === '' || !Number.isFinite(n) || n < 0 || n > maxSeconds) {
    throw new UsageError(`--${name} must be a number of seconds from 0 to ${maxSeconds} (got ${String(raw)})`);
  }
  return n * 1000;
}

/** "next or earliest", "auto, native or dgram". */
function alternatives(choices: readonly string[]): string {
  return choices.length === 1 ? choices[0]! : `${choices.slice(0, -1).join(', ')} or ${choices[choices.length - 1]!}`;
}

export function choiceOption<T extends string>(values: Parsed['values'], name: string, choices: readonly T[]): T | undefined {
  const raw = values[name];
  if (raw === undefined) return undefined;
  if (typeof raw !== 'string' || !(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be ${alternatives(choices)} (got ${String(raw)})`);
  return raw as T;
}
