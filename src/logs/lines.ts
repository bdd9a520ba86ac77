/**
 * What a collector writes: the file name of a source, and each line (a
 * record with the collector's fields spliced in, or a line of blipcast's
 * own). Pure functions; docs/logging.md, "Files" and "Lines".
 */

import { isUtf8 } from 'node:buffer';
import type { LogSource, RecordLine } from './format';

/** Extension of every file a collector writes. */
export const FILE_EXTENSION = '.ndjson';
/** Longest name or host part in a file name (the session id keeps the name unique). */
export const MAX_NAME_PART = 64;

/** A file-name part: characters outside [A-Za-z0-9_-] become `_` (so `.` separates parts unambiguously), at most 64. */
export function sanitize(part: string): string {
  const s = part.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, MAX_NAME_PART);
  return s === '' ? '_' : s;
}

/**
 * `NAME.HOST.PID.SESSION`: the stem of a source's files. A source the
 * collector never learnt the identity of is `unknown.ADDRESS._.SESSION`.
 */
export function fileStem(source: LogSource, known: boolean): string {
  if (!known) return `unknown.${sanitize(source.address ?? '_')}._.${source.session}`;
  return `${sanitize(source.name)}.${sanitize(source.host ?? '_')}.${source.pid ?? '_'}.${source.session}`;
}

/** The file being written: `STEM.ndjson`. */
export function currentFileName(stem: string): string {
  return stem + FILE_EXTENSION;
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** A rotated file: `STEM.YYYYMMDDTHHMMSSZ.NNNN.ndjson` (UTC time of the rotation, index within it): names sort in write order. */
export function rotatedFileName(stem: string, time: Date, index: number): string {
  const t = time;
  const stamp = `${t.getUTCFullYear()}${pad(t.getUTCMonth() + 1, 2)}${pad(t.getUTCDate(), 2)}T${pad(t.getUTCHours(), 2)}${pad(t.getUTCMinutes(), 2)}${pad(t.getUTCSeconds(), 2)}Z`;
  return `${stem}.${stamp}.${pad(index, 4)}${FILE_EXTENSION}`;
}

const CURRENT = /^(.+\.([0-9a-f]{16}))\.ndjson$/;
const ROTATED = /^(.+\.([0-9a-f]{16}))\.\d{8}T\d{6}Z\.\d{4,}\.ndjson$/;

/** Parses a file name written by a collector; undefined for any other file. */
export function parseFileName(file: string): { stem: string; session: string; rotated: boolean } | undefined {
  const r = ROTATED.exec(file);
  if (r) return { stem: r[1]!, session: r[2]!, rotated: true };
  const c = CURRENT.exec(file);
  if (c) return { stem: c[1]!, session: c[2]!, rotated: false };
  return undefined;
}

/** The fields a collector adds to each record line, as JSON members (without braces). */
export function addedFields(source: LogSource, seq: number): string {
  return `"source":${JSON.stringify(source)},"seq":${seq}`;
}

const isSpace = (b: number): boolean => b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;

/**
 * One line (with its newline) for a record. A record that is one JSON object
 * in valid UTF-8 keeps its bytes: the collector's `source` and `seq` go in
 * before its closing brace (surrounding whitespace dropped; a record spread
 * over several lines is re-serialized with JSON.stringify, so that a line is
 * a record). Anything else becomes `{"blipcast":"record","text":…}`.
 */
export function recordLine(bytes: Buffer, source: LogSource, seq: number): Buffer {
  let start = 0;
  let end = bytes.length;
  while (start < end && isSpace(bytes[start]!)) start++;
  while (end > start && isSpace(bytes[end - 1]!)) end--;
  if (end - start >= 2 && bytes[start] === 0x7b && bytes[end - 1] === 0x7d && isUtf8(bytes)) {
    const text = bytes.toString('utf8', start, end);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) {
      const added = addedFields(source, seq);
      if (Object.keys(parsed).length === 0) return Buffer.from(`{${added}}\n`);
      const body = text.includes('\n') || text.includes('\r') ? JSON.stringify(parsed) : text;
      return Buffer.from(`${body.slice(0, -1)},${added}}\n`);
    }
  }
  const line: RecordLine = { blipcast: 'record', text: bytes.toString('utf8'), source, seq };
  return Buffer.from(JSON.stringify(line) + '\n');
}

/**
 * Sequence numbers a record of `length` bytes used on the wire (docs/protocol.md,
 * "Sequence numbers": one packed, else one per fragment), for a sender with
 * `maxDatagramBytes` (less the 16-byte tag when the group is keyed).
 */
export function seqSpan(length: number, maxDatagramBytes: number, keyed: boolean): number {
  const datagram = maxDatagramBytes - (keyed ? 16 : 0);
  if (length <= datagram - 34) return 1;
  return Math.ceil(length / (datagram - 40));
}

/**
 * What a line tells about its source's position: the last seq it covers and
 * the record's length on the wire (estimated back from the line), for a record
 * line or a loss line; undefined for other lines or a line that does not parse.
 */
export function linePosition(line: string): { seq: number; length: number; source: LogSource | undefined } | undefined {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const source = typeof parsed.source === 'object' && parsed.source !== null ? (parsed.source as LogSource) : undefined;
  if (parsed.blipcast === 'loss' && Number.isSafeInteger(parsed.toSeq)) return { seq: parsed.toSeq as number, length: -1, source };
  if (!Number.isSafeInteger(parsed.seq) || source === undefined) return undefined;
  const seq = parsed.seq as number;
  if (parsed.blipcast === 'record' && typeof parsed.text === 'string') return { seq, length: Buffer.byteLength(parsed.text), source };
  const added = addedFields(source, seq).length + 1;
  return { seq, length: Math.max(0, Buffer.byteLength(line) - added), source };
}
