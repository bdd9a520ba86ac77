/**
 * Text rendering of a {@link GroupSnapshot} for `blipcast top`: three
 * fixed-width tables (receivers worst first, sources, members), with a
 * heading line. Pure: the same snapshot gives the same text.
 */

import type { GroupSnapshot, ReceiverRow } from './types';

/** A count with k / M suffixes: 950, 12.3k, 4.56M. */
export function count(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const a = Math.abs(n);
  if (a < 1000) return Number.isInteger(n) ? String(n) : n.toFixed(a < 10 ? 1 : 0);
  if (a < 1e6) return `${(n / 1e3).toFixed(a < 1e4 ? 2 : 1)}k`;
  return `${(n / 1e6).toFixed(a < 1e7 ? 2 : 1)}M`;
}

/** Bytes with B / kB / MB suffixes (powers of 1000). */
export function bytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  if (n < 1000) return `${Math.round(n)}B`;
  if (n < 1e6) return `${(n / 1e3).toFixed(1)}kB`;
  return `${(n / 1e6).toFixed(n < 1e7 ? 2 : 1)}MB`;
}

function ms(n: number | undefined): string {
  if (n === undefined) return '-';
  return n < 10 ? n.toFixed(2) : n.toFixed(0);
}

function ago(n: number): string {
  return n < 1000 ? `${Math.round(n)}ms` : `${(n / 1000).toFixed(1)}s`;
}

function label(name: string, id: string): string {
  return name === '' ? id : `${name} (${id.slice(0, 6)})`;
}

/** Bytes behind (unacknowledged, or unread by its application) from which a receiver needs a look. */
export const TROUBLE_BEHIND_BYTES = 1_000_000;
/** NAKs per second from which a receiver needs a look (a clean link sends none). */
export const TROUBLE_NAKS_PER_SEC = 10;
/** Silence from which a receiver needs a look: five status intervals. */
export const TROUBLE_SILENCE_MS = 1000;

/**
 * Whether a receiver deserves a second look: dropped, a megabyte behind (unacknowledged or unread), losing messages,
 * NAKing hard, its kernel dropping datagrams, or silent. A few messages behind is normal (they are in flight).
 */
export function isTroubled(r: ReceiverRow): boolean {
  return r.state !== 'live' || r.lagBytes >= TROUBLE_BEHIND_BYTES || r.readBacklogBytes >= TROUBLE_BEHIND_BYTES || r.lostPerSec > 0
    || r.naksPerSec >= TROUBLE_NAKS_PER_SEC || r.kernelDrops > 0 || r.lastHeardMsAgo >= TROUBLE_SILENCE_MS;
}

/** Rows as fixed-width columns (the last column not padded). */
export function table(rows: string[][]): string[] {
  if (rows.length === 0) return [];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
}

/** The snapshot as text: heading, receivers (worst first), sources, members. `maxRows` bounds each table (the rest is counted). */
export function formatSnapshot(s: GroupSnapshot, maxRows = Infinity): string {
  const lines: string[] = [];
  const troubled = s.receivers.filter(isTroubled).length;
  const time = new Date(s.time).toISOString().slice(11, 19);
  lines.push(`blipcast top ${s.group}  ${time}  members ${s.members.length}  sources ${s.sources.length}  receivers ${s.receivers.length}${troubled > 0 ? `  ! ${troubled} need a look` : ''}`);
  lines.push('');
  const cut = <T>(list: T[]): { shown: T[]; more: number } => ({ shown: list.slice(0, maxRows), more: Math.max(0, list.length - maxRows) });

  const rx = cut(s.receivers);
  lines.push('RECEIVERS (worst first)');
  if (s.receivers.length === 0) lines.push('  none heard yet (receivers report every 200 ms once a source sends)');
  else {
    lines.push(...table([
      ['', 'RECEIVER', 'FROM', 'LAG', 'LAG B', 'UNREAD', 'NAK/S', 'NAKS', 'REPAIR/S', 'LOST', 'GAPS', 'KDROP', 'REPAIR MS', 'HEARD', 'STATE'],
      ...rx.shown.map((r) => [
        isTroubled(r) ? '!' : ' ', label(r.name, r.id), label(r.sourceName, r.sourceId), count(r.lagMessages), bytes(r.lagBytes), bytes(r.readBacklogBytes), count(r.naksPerSec),
        count(r.naks), count(r.repairsPerSec), count(r.lost), String(r.gapsOpen), count(r.kernelDrops), ms(r.repairLatencyMs), ago(r.lastHeardMsAgo), r.state,
      ]),
    ]).map((l) => `  ${l}`));
    if (rx.more > 0) lines.push(`  … ${rx.more} more`);
  }
  lines.push('');

  const src = cut(s.sources);
  lines.push('SOURCES');
  if (s.sources.length === 0) lines.push('  none heard yet');
  else {
    lines.push(...table([
      ['SOURCE', 'ADDRESS', 'MSG/S', 'BYTES/S', 'MESSAGES', 'RECEIVERS', 'WORST LAG'],
      ...src.shown.map((x) => [label(x.name, x.id), x.address ?? '-', count(x.messagesPerSec), bytes(x.bytesPerSec), count(x.messages), String(x.receivers), count(x.worstLagMessages)]),
    ]).map((l) => `  ${l}`));
    if (src.more > 0) lines.push(`  … ${src.more} more`);
  }
  lines.push('');

  const mem = cut(s.members);
  lines.push('MEMBERS');
  lines.push(...table([
    ['NAME', 'ID', 'STATE', 'METADATA'],
    ...mem.shown.map((m) => [
      `${m.name}${m.self ? ' (this top)' : m.observer ? ' (observer)' : ''}`, m.id, m.state, Object.entries(m.metadata).map(([k, v]) => `${k}=${v}`).join(' '),
    ]),
  ]).map((l) => `  ${l}`));
  if (mem.more > 0) lines.push(`  … ${mem.more} more`);
  return lines.join('\n') + '\n';
}
