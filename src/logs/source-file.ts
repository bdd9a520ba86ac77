/**
 * One source's file, written and rotated by rotating-file-stream: the
 * current file is `STEM.ndjson`; a rotation renames it to its rotated name
 * (lines.ts) and starts a new one.
 */

import type * as Rfs from 'rotating-file-stream' with { 'resolution-mode': 'import' };
import { currentFileName, rotatedFileName } from './lines';
import type { Rotation } from './rotation';

// The package is ESM-typed but ships a CommonJS build for require(), which this CommonJS module uses.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createStream } = require('rotating-file-stream') as typeof Rfs;
export type RotatingFileStream = Rfs.RotatingFileStream;

/** Opens (appending) a source's file in `dir`. Write errors go to `onError`; each rotation calls `onRotated`. */
export function openSourceFile(dir: string, stem: string, rotation: Rotation, onError: (err: Error) => void, onRotated: () => void): RotatingFileStream {
  const { size, interval } = rotation;
  // rotating-file-stream asks for the current name with `time` null, and for a rotated name with the rotation's time and an index.
  const name = (time: number | Date | null, index?: number): string => (time === null ? currentFileName(stem) : rotatedFileName(stem, new Date(time), index ?? 1));
  const file = createStream(name as (time: number | Date, index?: number) => string, {
    path: dir, ...(size !== undefined ? { size } : {}), ...(interval !== undefined ? { interval, intervalUTC: true } : {}),
  });
  file.on('error', onError);
  file.on('warning', onError);
  file.on('rotated', onRotated);
  return file;
}

/** Ends `file`; resolves once everything written to it is in the file (or it failed: the error went to `onError`). */
export function endSourceFile(file: RotatingFileStream): Promise<void> {
  return new Promise<void>((resolve) => {
    file.once('finish', () => resolve());
    file.once('error', () => resolve());
    file.end();
  });
}
