/**
 * `blipcast members GROUP:PORT`: joins the group as a full member (it shows
 * in the other members' tables, marked by its name) and prints the member
 * table once the group has converged, or with --watch every change as it
 * happens until SIGINT/SIGTERM, then leaves gracefully (the others see
 * `leave`, not `dead`) and exits 0.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { open, type GroupChange, type MemberInfo, type MemberOptions } from '../index';
import { intOption, parseCommand, secondsOption, type Parsed } from './args';
import { statsLine, transportOption } from './common';
import { UsageError } from './usage';

/** Beyond the documented convergence time, the default --wait: time for the last records to arrive and be handled. */
export const CONVERGE_SLACK_MS = 500;

/** The --name / --meta options, shared by members, listen and send. */
export const MEMBER_OPTIONS = {
  name: { type: 'string' },
  meta: { type: 'string', multiple: true },
} as const;

const OPTIONS = {
  ...MEMBER_OPTIONS,
  json: { type: 'boolean' },
  stats: { type: 'boolean' },
  watch: { type: 'boolean' },
  wait: { type: 'string' },
} as const;

/** `--name N --meta k=v …` as the `member` option of open(); undefined when neither is given (and `always` is false). */
export function memberOption(values: Parsed['values'], always = false): { member?: MemberOptions } {
  const name = values.name;
  const meta = (values as Record<string, unknown>).meta as string[] | undefined;
  if (!always && name === undefined && meta === undefined) return {};
  const metadata: Record<string, string> = {};
  for (const kv of meta ?? []) {
    const eq = kv.indexOf('=');
    if (eq <= 0) throw new UsageError(`--meta must be KEY=VALUE, got '${kv}'`);
    const key = kv.slice(0, eq);
    if (key in metadata) throw new UsageError(`--meta ${key} given twice`);
    metadata[key] = kv.slice(eq + 1);
  }
  return { member: { ...(typeof name === 'string' ? { name } : {}), metadata } };
}

function metaText(m: MemberInfo): string {
  return Object.entries(m.metadata).map(([k, v]) => `${k}=${v}`).join(' ');
}

function memberJson(m: MemberInfo): Record<string, unknown> {
  return { id: m.id, name: m.name, state: m.state, incarnation: m.incarnation, metadata: m.metadata, self: m.self, observer: m.observer };
}

/** A fixed-width table: one row per member, self marked with '*'. */
export function formatTable(members: MemberInfo[]): string {
  const rows = [['ID', 'NAME', 'STATE', 'INC', 'METADATA'], ...members.map((m) => [`${m.id}${m.self ? '*' : ''}`, m.name, m.state, String(m.incarnation), metaText(m)])];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

function changeLine(change: GroupChange | { type: 'self'; member: MemberInfo; missed: number }, json: boolean): string {
  const time = new Date().toISOString();
  if (json) return JSON.stringify({ time, event: change.type, ...memberJson(change.member), missed: change.missed }) + '\n';
  const missed = change.missed > 0 ? ` (missed ${change.missed} earlier changes)` : '';
  return `${time} ${change.type.padEnd(7)} ${change.member.id} ${change.member.name} inc=${change.member.incarnation}${metaText(change.member) ? ` ${metaText(change.member)}` : ''}${missed}\n`;
}

export async function members(args: string[], io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('members', args, OPTIONS);
  const ttl = intOption(values, 'ttl', 0, 255);
  const waitMs = secondsOption(values, 'wait');
  const json = values.json === true;
  const watch = values.watch === true;
  if (watch && waitMs !== undefined) throw new UsageError('--wait applies to the one-shot table, not to --watch');

  const channel = await open({
    group: groupText,
    ...(typeof values.interface === 'string' ? { interface: values.interface } : {}),
    ...(ttl !== undefined ? { ttl } : {}),
    ...transportOption(values),
    ...memberOption(values, true),
    lingerMs: 0,
  });
  channel.on('error', (err: Error) => io.stderr.write(`blipcast: ${err.message}\n`));
  // Received messages are not read: drop them rather than buffer them.
  channel.readable.resume();
  const group = channel.group!;

  try {
    if (!watch) {
      await sleep(waitMs ?? group.timers().convergeMs + CONVERGE_SLACK_MS);
      const table = group.members();
      io.stdout.write(json ? JSON.stringify(table.map(memberJson)) + '\n' : formatTable(table));
      return 0;
    }
    const stop = new AbortController();
    const onSignal = (): void => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const changes = group.changes({ signal: stop.signal });
      io.stdout.write(changeLine({ type: 'self', member: group.self, missed: 0 }, json));
      for await (const change of changes) io.stdout.write(changeLine(change, json));
    } finally {
      process.removeListener('SIGINT', onSignal);
      process.removeListener('SIGTERM', onSignal);
    }
    return 0;
  } finally {
    // Leaves the group: LEAVE goes out before the socket closes.
    await channel.close();
    if (values.stats === true) io.stderr.write(statsLine(channel.stats()));
    await new Promise<void>((resolve) => io.stdout.write('', () => resolve()));
  }
}
