/**
 * A collector's checkpoints (docs/logging.md, "Checkpoints and restarts"):
 * per (source session, stream), the last seq whose line is written, in one
 * JSON file in the collector's directory, replaced crash-safely (write a
 * temporary file, fsync, rename). And the recovery of a source's true
 * position from the tail of its files, since a collector killed after
 * writing lines but before its next checkpoint leaves lines newer than it.
 */

import { closeSync, ftruncateSync, fstatSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { LogSource } from './format';
import { currentFileName, linePosition, parseFileName } from './lines';

/** The checkpoint file in the collector's directory. */
export const CHECKPOINT_FILE = '.blipcast-checkpoint.json';
/** Sources a checkpoint keeps (the least recently written go first). */
export const MAX_CHECKPOINT_SOURCES = 10_000;
/** Bytes read from the end of a file to find its last line: longer than any line a collector writes of a usual record. */
export const TAIL_BYTES = 256 * 1024;

export interface CheckpointEntry {
  session: string;
  stream: string;
  /** The stem of the source's files (lines.ts). */
  stem: string;
  name: string;
  host: string | undefined;
  pid: number | undefined;
  address: string | undefined;
  /** Last seq covered by a written line (record or loss). */
  seq: number;
  /** The seq the next record is expected at (seq + the last record's span). */
  next: number;
  /** Wall-clock time of the last update, ms since the epoch. */
  updatedMs: number;
}

export const checkpointKey = (session: string, stream: string): string => `${session}/${stream}`;

/** Reads the checkpoint file; an empty map when there is none. A file that does not parse is an error (never silently start over). */
export function loadCheckpoint(dir: string): Map<string, CheckpointEntry> {
  let text: string;
  try {
    text = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const parsed = JSON.parse(text) as { v?: number; sources?: CheckpointEntry[] };
  if (parsed.v !== 1 || !Array.isArray(parsed.sources)) throw new Error(`${join(dir, CHECKPOINT_FILE)}: not a blipcast checkpoint (version ${String(parsed.v)})`);
  const out = new Map<string, CheckpointEntry>();
  for (const e of parsed.sources) out.set(checkpointKey(e.session, e.stream), e);
  return out;
}

/** Replaces the checkpoint file with `entries` (the most recent MAX_CHECKPOINT_SOURCES): temp file, fsync, rename. */
export async function saveCheckpoint(dir: string, entries: Iterable<CheckpointEntry>): Promise<void> {
  const sorted = [...entries].sort((a, b) => b.updatedMs - a.updatedMs).slice(0, MAX_CHECKPOINT_SOURCES);
  const tmp = join(dir, `${CHECKPOINT_FILE}.tmp`);
  const file = await open(tmp, 'w');
  try {
    await file.writeFile(JSON.stringify({ v: 1, sources: sorted }) + '\n');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, join(dir, CHECKPOINT_FILE));
}

/** The collector's files in `dir` by session: each session's stem and its rotated files, oldest first. */
export function indexFiles(dir: string): Map<string, { stem: string; rotated: string[] }> {
  const out = new Map<string, { stem: string; rotated: string[] }>();
  for (const name of readdirSync(dir).sort()) {
    const p = parseFileName(name);
    if (p === undefined) continue;
    let e = out.get(p.session);
    if (e === undefined) {
      e = { stem: p.stem, rotated: [] };
      out.set(p.session, e);
    }
    if (p.rotated) e.rotated.push(name);
  }
  return out;
}

/**
 * The position of the last line of a source's files: the current file, else
 * the newest rotated one that has a line. A last line without its newline (a
 * write cut by a kill) is cut off the current file first: that record counts
 * as not written. Undefined when no file has a positioned line.
 */
export interface TailPosition {
  /** Last seq the line covers. */
  seq: number;
  /** The record's length on the wire, estimated back from the line; -1 for a loss line. */
  length: number;
  /** Who the line says the source is. */
  source: LogSource | undefined;
}

export function recoverTail(dir: string, stem: string, rotated: readonly string[]): TailPosition | undefined {
  const files = [currentFileName(stem), ...[...rotated].reverse()];
  for (let i = 0; i < files.length; i++) {
    const pos = lastLinePosition(join(dir, files[i]!), i === 0);
    if (pos !== undefined) return pos;
  }
  return undefined;
}

function lastLinePosition(path: string, truncatePartial: boolean): TailPosition | undefined {
  let fd: number;
  try {
    fd = openSync(path, truncatePartial ? 'r+' : 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const start = Math.max(0, size - TAIL_BYTES);
    const buf = Buffer.alloc(size - start);
    readSync(fd, buf, 0, buf.length, start);
    let end = buf.length;
    if (end > 0 && buf[end - 1] !== 0x0a) {
      const nl = buf.lastIndexOf(0x0a);
      end = nl + 1;
      if (truncatePartial && (nl !== -1 || start === 0)) ftruncateSync(fd, start + end);
    }
    // Lines from the end: the last one that says where the source stood.
    while (end > 0) {
      const from = buf.lastIndexOf(0x0a, end - 2) + 1;
      if (from === 0 && start > 0) return undefined;
      const pos = linePosition(buf.toString('utf8', from, end - 1));
      if (pos !== undefined) return pos;
      end = from;
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
