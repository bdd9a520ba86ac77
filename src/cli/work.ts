/**
 * `blipcast work GROUP:PORT --queue Q --exec CMD`: a bus worker
 * (blipcast/bus) whose handler is a shell command. Each task runs CMD with
 * the task on its stdin; its stdout (trailing newline included) is the
 * result, its failure (stderr, or exit code) counts against the task's
 * --max-failures. A task taken away (its lease lapsed) kills its command.
 * Runs until Ctrl-C / SIGTERM, then leaves the bus (its tasks go to the other
 * workers) and exits 0.
 */

import type { BusTask } from '../bus/index';
import { intOption, parseCommand } from './args';
import { BUS_OPTIONS, failureLine, openBusFromOptions, requiredValue, requiredValues, runUntilStopped, writeBusStats } from './bus-common';
import { runShellCommand } from './shell-command';

const OPTIONS = {
  ...BUS_OPTIONS,
  queue: { type: 'string', multiple: true },
  exec: { type: 'string' },
  capacity: { type: 'string' },
} as const;

/** The variables CMD finds in its environment for one task. */
export function taskEnv(task: BusTask): Record<string, string> {
  return {
    BLIPCAST_QUEUE: task.queue,
    BLIPCAST_TASK_ID: task.id,
    BLIPCAST_ATTEMPT: String(task.attempt),
    BLIPCAST_SUBMITTER: task.from.name,
  };
}

export async function work(args: string[], io: { stderr: NodeJS.WritableStream }): Promise<number> {
  const { groupText, values } = parseCommand('work', args, OPTIONS);
  const queues = requiredValues(values, 'queue', 'QUEUE (what to work on)');
  const command = requiredValue(values, 'exec', 'CMD (the shell command that runs a task)');
  const capacity = intOption(values, 'capacity', 1, 65535);

  const bus = await openBusFromOptions(groupText, values, io.stderr);
  const handler = async (task: BusTask): Promise<Buffer> => {
    try {
      return await runShellCommand(command, task.data, task.signal, taskEnv(task));
    } catch (err) {
      if (!task.signal.aborted) io.stderr.write(failureLine(`task ${task.id} (attempt ${task.attempt}) on '${task.queue}'`, (err as Error).message));
      throw err;
    }
  };
  for (const queue of queues) bus.work(queue, handler, capacity !== undefined ? { capacity } : {});
  io.stderr.write(`blipcast: working ${queues.map((q) => `'${q}'`).join(', ')} on ${groupText} as ${bus.name} (${bus.id})\n`);
  await runUntilStopped(bus);
  writeBusStats(bus, values, io.stderr);
  return 0;
}
