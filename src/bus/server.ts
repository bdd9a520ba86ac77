/**
 * The serving side: runs the handlers of the subjects this member serves,
 * `concurrency` at a time per subject, queues up to `maxQueued` more, and
 * answers "overloaded" beyond (the requester asks the next server at once).
 * A request for a subject this member does not serve (it stopped) is answered
 * "not served", which fails it over too. Gathers are answered by every server;
 * a member that does not serve the subject stays silent.
 */

import { MessageType, ReplyStatus, type BusMessage } from './codec';
import type { BusContext } from './context';
import { answerBytes, errorMessage } from './payload';
import type { BusHandler, Service } from './types';

type Incoming = Extract<BusMessage, { type: MessageType.Request | MessageType.Gather }>;

interface Job {
  from: string;
  number: number;
  attempt: number;
  gather: boolean;
  data: Buffer;
}

class ServiceState implements Service {
  running = 0;
  readonly queue: Job[] = [];
  stopped = false;
  constructor(
    readonly subject: string,
    readonly handler: BusHandler,
    readonly concurrency: number,
    readonly maxQueued: number,
    private readonly onStop: (s: ServiceState) => void,
  ) {}
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.onStop(this);
  }
}

export class Server {
  private readonly services = new Map<string, ServiceState>();

  constructor(private readonly ctx: BusContext) {}

  serves(subject: string): boolean {
    return this.services.has(subject);
  }

  subjects(): string[] {
    return [...this.services.keys()];
  }

  serve(subject: string, handler: BusHandler, concurrency: number, maxQueued: number): Service {
    this.services.get(subject)?.stop();
    const s = new ServiceState(subject, handler, concurrency, maxQueued, (stopped) => {
      if (this.services.get(subject) === stopped) this.services.delete(subject);
      // Those still waiting go to another server.
      for (const job of stopped.queue.splice(0)) this.reply(job, ReplyStatus.NotServed, Buffer.alloc(0));
      this.ctx.announceSoon();
    });
    this.services.set(subject, s);
    this.ctx.announceSoon();
    return s;
  }

  onRequest(from: string, m: Incoming): void {
    const job: Job = { from, number: m.number, attempt: m.type === MessageType.Request ? m.attempt : 1, gather: m.type === MessageType.Gather, data: m.data };
    const s = this.services.get(m.subject);
    if (s === undefined) {
      if (!job.gather) this.reply(job, ReplyStatus.NotServed, Buffer.alloc(0));
      return;
    }
    if (s.running < s.concurrency) void this.run(s, job);
    else if (s.queue.length < s.maxQueued) s.queue.push(job);
    else {
      this.ctx.counters.requestsRefused++;
      this.reply(job, ReplyStatus.Overloaded, Buffer.alloc(0));
    }
  }

  private async run(s: ServiceState, job: Job): Promise<void> {
    s.running++;
    let status = ReplyStatus.Ok;
    let out: Buffer;
    try {
      out = answerBytes(await s.handler({
        data: job.data, subject: s.subject, from: this.ctx.peerOf(job.from), id: `${job.from}/${job.number}`,
        kind: job.gather ? 'gather' : 'request', signal: this.ctx.closed,
      }));
    } catch (err) {
      status = ReplyStatus.Error;
      out = Buffer.from(errorMessage(err), 'utf8');
    }
    s.running--;
    this.ctx.counters.requestsServed++;
    this.reply(job, status, out);
    const next = s.queue.shift();
    if (next !== undefined) void this.run(s, next);
  }

  private reply(job: Job, status: ReplyStatus, data: Buffer): void {
    if (this.ctx.closed.aborted) return;
    this.ctx.send({ type: MessageType.Reply, target: job.from, number: job.number, gather: job.gather, attempt: job.attempt, status, data });
  }
}
