/** The `blipcast` command: dispatches to a subcommand; exit code 2 for bad arguments. */

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { interfaceHint, isInterfaceError, joinFailure } from './interfaces';
import { collect } from './collect';
import { doctor } from './doctor';
import { listen } from './listen';
import { members } from './members';
import { request } from './request';
import { send } from './send';
import { serve } from './serve';
import { state } from './state';
import { submit } from './submit';
import { top } from './top';
import { COMMAND_USAGE, HelpRequest, USAGE, UsageError, type CommandName } from './usage';
import { work } from './work';

export function version(): string {
  const pkg = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.prototype.hasOwnProperty.call(COMMAND_USAGE, name);
}

/** Codes of the library's errors that mean "the arguments are wrong" (exit 2). */
const ARGUMENT_ERROR_CODES = new Set(['BLIPCAST_ERR_NOT_MULTICAST', 'BLIPCAST_ERR_UNKNOWN_INTERFACE', 'BLIPCAST_ERR_INVALID_ARG_VALUE', 'BLIPCAST_ERR_INVALID_ARG_TYPE']);

/** Runs the CLI with `args` (argv without node and script); resolves to the exit code. */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  const seeHelp = isCommand(command) ? `blipcast ${command} --help` : 'blipcast --help';
  try {
    switch (command) {
      case undefined:
      case '--help':
      case '-h':
      case 'help': {
        const topic = command === 'help' ? rest[0] : undefined;
        if (topic !== undefined && !isCommand(topic)) throw new UsageError(`no help for '${topic}': the commands are ${Object.keys(COMMAND_USAGE).join(', ')}`);
        process.stdout.write(topic !== undefined ? COMMAND_USAGE[topic] : USAGE);
        return command === undefined ? 2 : 0;
      }
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
      case 'collect':
        return await collect(rest, { stdout: process.stdout, stderr: process.stderr });
      case 'serve':
        return await serve(rest, { stderr: process.stderr });
      case 'request':
        return await request(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      case 'work':
        return await work(rest, { stderr: process.stderr });
      case 'submit':
        return await submit(rest, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      case 'state':
        return await state(rest, { stdout: process.stdout, stderr: process.stderr });
      case 'top':
        return await top(rest, { stdout: process.stdout, stderr: process.stderr });
      case 'doctor':
        return await doctor(rest, { stdout: process.stdout, stderr: process.stderr });
      case 'dashboard': {
        // Loaded when used: the web server and its dependencies are not every command's start-up cost.
        const { dashboard } = await import('./dashboard.js');
        return await dashboard(rest, { stderr: process.stderr });
      }
      case 'demo': {
        const { demo } = await import('./demo.js');
        return await demo(rest, { stdout: process.stdout, stderr: process.stderr });
      }
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (err) {
    if (err instanceof HelpRequest) {
      process.stdout.write(COMMAND_USAGE[err.command]);
      return 0;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`blipcast: ${err.message}${err.message.includes('\n') ? '\n' : ' '}(see ${seeHelp})\n`);
      return 2;
    }
    const e = err as Error & { code?: string };
    if (e.code !== undefined && ARGUMENT_ERROR_CODES.has(e.code)) {
      process.stderr.write(`blipcast: ${e.message}${e.code === 'BLIPCAST_ERR_UNKNOWN_INTERFACE' ? `\n${interfaceHint()}` : ` (see ${seeHelp})`}\n`);
      return 2;
    }
    if (isInterfaceError(e)) {
      process.stderr.write(`blipcast: ${joinFailure(e)}\n${interfaceHint()}\n`);
      return 1;
    }
    process.stderr.write(`blipcast: ${e.message}${e.code ? ` (${e.code})` : ''}\n`);
    return 1;
  }
}
