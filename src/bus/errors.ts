/**
 * The bus's typed errors. Each has a stable `code`; the others a caller may
 * meet are the library's own: ClosedError (the bus closed), AbortError (the
 * call's signal), InvalidArgumentTypeError / InvalidArgumentValueError.
 */

import { BlipcastError } from '../index';
import type { BusPeer, ReplicaResult } from './types';

/** No live member serves the subject (or works the queue), after waiting for discovery. */
export class NoServerError extends BlipcastError {
  constructor(readonly subject: string, what: 'serves subject' | 'works queue' = 'serves subject') {
    super('BLIPCAST_BUS_NO_SERVER', `no live member ${what} '${subject}'`);
    this.name = 'NoServerError';
  }
}

/** A request got no answer within its timeoutMs; `tried` are the servers asked, in order. */
export class BusTimeoutError extends BlipcastError {
  constructor(readonly subject: string, readonly timeoutMs: number, readonly tried: BusPeer[]) {
    super('BLIPCAST_BUS_TIMEOUT', `request '${subject}' got no answer in ${timeoutMs} ms (asked ${tried.length === 0 ? 'nobody' : tried.map((p) => p.name).join(', ')})`);
    this.name = 'BusTimeoutError';
  }
}

/** The server's handler threw: `remoteMessage` is its error's message, `server` who ran it. */
export class RemoteError extends BlipcastError {
  constructor(readonly subject: string, readonly server: BusPeer, readonly remoteMessage: string) {
    super('BLIPCAST_BUS_REMOTE_ERROR', `'${subject}' failed on ${server.name}: ${remoteMessage}`);
    this.name = 'RemoteError';
  }
}

/** A task's handler failed `maxFailures` times; `failures` are the workers' messages. */
export class TaskFailedError extends BlipcastError {
  constructor(readonly queue: string, readonly failures: { worker: BusPeer; message: string }[]) {
    const last = failures[failures.length - 1];
    super('BLIPCAST_BUS_TASK_FAILED', `task on '${queue}' failed ${failures.length} time(s)${last !== undefined ? `, last on ${last.worker.name}: ${last.message}` : ''}`);
    this.name = 'TaskFailedError';
  }
}

/** The replicas' results could not be reconciled (the default rule: they differ); `results` has them all. */
export class ReconcileError extends BlipcastError {
  constructor(readonly queue: string, readonly results: ReplicaResult[], detail: string) {
    super('BLIPCAST_BUS_RECONCILE', `task on '${queue}': ${detail}`);
    this.name = 'ReconcileError';
  }
}

/** submit() refused: this bus already holds `limit` tasks not yet finished. */
export class BacklogFullError extends BlipcastError {
  constructor(readonly queue: string, readonly limit: number) {
    super('BLIPCAST_BUS_BACKLOG_FULL', `submit to '${queue}': ${limit} tasks are already waiting or running on this bus`);
    this.name = 'BacklogFullError';
  }
}
