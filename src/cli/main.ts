/** The `blipcast` command: dispatches to a subcommand; exit code 2 for bad arguments. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { listen } from './listen';
import { members } from './members';
import { send } from './send';
import { USAGE, UsageError } from './usage';

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

/** Runs the CLI with `args` (argv without node and script); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help':
        process.stdout.write(USAGE);
        return command === undefined ? 2 : 0;
      case '--version':
      case '-v':
        process.stdout.write(`${version()}\n`);
        return 0;
      case 'send':
        return await send(rest, { stdin: process.stdin, stderr: process.stderr });
      case 'listen':
        return await listen(rest, { stdout: process.stdout, stderr: process.stderr });
      case 'members':
        return await members(rest, { stdout: process.stdout, stderr: process.stderr });
      case 'demo': {
        const { demo } = await import('./demo.js');
        return await demo(rest, { stdout: process.stdout, stderr: process.stderr });
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`blipcast: ${err.message} (see blipcast --help)\n`);
      return 2;
    }
    const e = err as Error & { code?: string };
    if (e.code === 'BLIPCAST_ERR_NOT_MULTICAST' || e.code === 'BLIPCAST_ERR_UNKNOWN_INTERFACE' || e.code === 'BLIPCAST_ERR_INVALID_ARG_VALUE' || e.code === 'BLIPCAST_ERR_INVALID_ARG_TYPE') {
      process.stderr.write(`blipcast: ${e.message} (see blipcast --help)\n`);
      return 2;
    }
    process.stderr.write(`blipcast: ${e.message}${e.code ? ` (${e.code})` : ''}\n`);
    return 1;
  }
}
