/**
 * `blipcast serve GROUP:PORT --subject S --exec CMD`: a bus server
 * (blipcast/bus) whose handler is a shell command. Each request runs CMD
 * with the payload on its stdin; its stdout is the reply, its failure
 * (stderr, or exit code) the requester's RemoteError. Runs until Ctrl-C /
 * SIGTERM, then leaves the bus and exits 0.
 */

import { setMaxListeners } from 'node:events';
import type { BusRequest } from '../bus/index';
import { intOption, parseCommand } from './args';
import { BUS_OPTIONS, failureLine, openBusFromOptions, requiredValue, requiredValues, runUntilStopped, writeBusStats } from './bus-common';
import { runShellCommand } from './shell-command';

const OPTIONS = {
  ...BUS_OPTIONS,
  subject: { type: 'string', multiple: true },
  exec: { type: 'string' },
  concurrency: { type: 'string' },
} as const;

/** The variables CMD finds in its environment for one request. */
export function requestEnv(request: BusRequest): Record<string, string> {
  return {
    BLIPCAST_SUBJECT: request.subject,
    BLIPCAST_REQUEST_ID: request.id,
    BLIPCAST_REQUESTER: request.from.name,
    BLIPCAST_KIND: request.kind,
  };
}

export async function serve(args: string[], io: { stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('serve', args, OPTIONS);
  const subjects = requiredValues(values, 'subject', 'SUBJECT (what to serve)');
  const command = requiredValue(values, 'exec', 'CMD (the shell command that answers a request)');
  const concurrency = intOption(values, 'concurrency', 1, 1_000_000);

  const bus = await openBusFromOptions(groupText, values, io.stderr);
  const handler = async (request: BusRequest): Promise<Buffer> => {
    // Every request's signal is the bus's one close signal: one abort listener per running command, whatever --concurrency.
    setMaxListeners(0, request.signal);
    try {
      return await runShellCommand(command, request.data, request.signal, requestEnv(request));
    } catch (err) {
      if (!request.signal.aborted) io.stderr.write(failureLine(`${request.kind} ${request.id} on '${request.subject}' from ${request.from.name}`, (err as Error).message));
      throw err;
    }
  };
  for (const subject of subjects) bus.serve(subject, handler, concurrency !== undefined ? { concurrency } : {});
  io.stderr.write(`blipcast: serving ${subjects.map((s) => `'${s}'`).join(', ')} on ${groupText} as ${bus.name} (${bus.id})\n`);
  await runUntilStopped(bus);
  writeBusStats(bus, values, io.stderr);
  return 0;
}
