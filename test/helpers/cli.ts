/** What the CLI tests share: the command, loopback options, a random group. */

import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..', '..');
export const BIN = join(ROOT, 'bin', 'blipcast.js');
/** Multicast stays on this machine: interface 127.0.0.1, TTL 0. */
export const LOOPBACK = ['--interface', '127.0.0.1', '--ttl', '0'];

/** A random group in 239.255.10-209.x and a random port, so that tests running at once do not hear each other. */
export function randomGroup(): string {
  return `239.255.${10 + Math.floor(Math.random() * 200)}.${1 + Math.floor(Math.random() * 250)}:${20000 + Math.floor(Math.random() * 40000)}`;
}
