/**
 * The public shapes of `blipcast/bus`: options, handlers, replies, results,
 * counters. docs/bus.md tells the semantics; codec.ts the wire.
 */

import type { Channel, GroupKeyInput, MemoryHost, MemoryNetwork, TransportChoice } from '../index';

/** A request's or a task's bytes: a string goes as UTF-8. */
export type BusPayload = string | Uint8Array;

/** Another bus member, as its announce and the group's membership name it. */
export interface BusPeer {
  /** The member id (its channel's session id, 16 hex digits). */
  id: string;
  /** The member name (`BusOptions.name`, default `host:pid`). */
  name: string;
}

export interface BusOptions {
  /** `'239.255.0.1:5000'`: every member of the bus opens the same group. */
  group: string;
  /** As open(): the interface by name or address. */
  interface?: string;
  /** As open(): multicast TTL, 0–255 (default 1). */
  ttl?: number;
  /** As open(): `'auto'` (default), `'native'`, `'dgram'` or `'memory'`. */
  transport?: TransportChoice;
  /** As open(): with transport `'memory'`, the simulated network (its virtual clock then drives the bus's timers too). */
  network?: MemoryNetwork;
  /** As open(): with transport `'memory'`, the host to open on. */
  host?: string | MemoryHost;
  /** As open(): the group key when the group is encrypted. */
  key?: GroupKeyInput;
  /** This member's name (default `host:pid`). */
  name?: string;
  /** The stream the bus talks on (default `'bus'`); every member must use the same. */
  stream?: string;
  /**
   * How long after opening a gather with `expect: 'members'`, or a request or
   * submit that knows no server or worker yet, waits for the group to be
   * discovered, ms (default 2000: one membership announce interval, then one
   * bus announce, or the HELLO round that recovers a missed one).
   */
  discoveryMs?: number;
  /** Tasks submit() holds at once, waiting or running, beyond which it rejects with BacklogFullError (default 65536). */
  maxBacklog?: number;
  /** An AbortSignal: aborting closes the bus (as close()). */
  signal?: AbortSignal;
}

/** What a `serve()` handler receives. */
export interface BusRequest {
  /** The payload. */
  data: Buffer;
  subject: string;
  /** The requester. */
  from: BusPeer;
  /** `REQUESTER-ID/NUMBER`: unique in the group, the same on a failover to another server. */
  id: string;
  /** `'request'` (one server answers) or `'gather'` (every server answers). */
  kind: 'request' | 'gather';
  /** Aborts when the bus closes. */
  signal: AbortSignal;
}

/** A handler's answer; what it throws goes back to the requester as a RemoteError with its message. */
export type BusHandler = (request: BusRequest) => BusPayload | void | Promise<BusPayload | void>;

export interface ServeOptions {
  /** Handlers of this subject running at once on this member (default 16). */
  concurrency?: number;
  /** Requests waiting for a free slot beyond which this member answers "overloaded" and the requester tries the next server (default 1024). */
  maxQueued?: number;
}

/** What `serve()` returns. */
export interface Service {
  readonly subject: string;
  /** Stops serving: the others learn it with this member's next announce (sent at once); running handlers finish and their replies go out. */
  stop(): void;
}

export interface RequestOptions {
  /** The whole request, all attempts, ms (default 5000). */
  timeoutMs?: number;
  /** How long one server has to answer before the next one gets the request, ms (default: half of timeoutMs). A slow server's late answer is still taken if it comes first. */
  attemptTimeoutMs?: number;
  signal?: AbortSignal;
}

/** An answer. */
export interface BusReply {
  data: Buffer;
  /** The server that answered. */
  from: BusPeer;
  /** 1 for the first server asked, 2 for the next, … (request only; 1 in a gather). */
  attempt: number;
}

export interface GatherOptions {
  /**
   * `'members'` (default): the live servers of the subject this bus knows when
   * the gather starts (after discovery); a number: end after that many replies.
   */
  expect?: 'members' | number;
  /** When to stop waiting, ms from the call (default 5000). */
  deadlineMs?: number;
  signal?: AbortSignal;
}

/** Why an expected member did not answer a gather. */
export type GatherMissReason = 'timeout' | 'dead' | 'left' | 'error';

export interface GatherSummary {
  /** The members waited for (with `expect: 'members'`; with a number: the servers known at the start). */
  expected: BusPeer[];
  /** Members whose reply was yielded, in arrival order (members that joined during the gather included). */
  replied: BusPeer[];
  /** Expected members that gave no reply: `'timeout'` (still alive at the deadline), `'dead'`, `'left'`, `'error'` (the handler threw: `message`). */
  missing: { member: BusPeer; reason: GatherMissReason; message?: string }[];
  /** `'complete'` (every expected member answered, or `expect` replies came), `'deadline'`, `'aborted'`. */
  ended: 'complete' | 'deadline' | 'aborted';
  durationMs: number;
}

/** What `gather()` returns: iterate the replies as they come, then read the summary. */
export interface Gather extends AsyncIterable<BusReply> {
  /** Resolves when the gather ends (whether or not anybody iterates). */
  readonly summary: Promise<GatherSummary>;
}

/** What a `work()` handler receives. */
export interface BusTask {
  data: Buffer;
  queue: string;
  /** The submitter. */
  from: BusPeer;
  /** `SUBMITTER-ID/NUMBER`: the same across re-offers. */
  id: string;
  /** This worker's attempt number for the task (1, 2, … across re-offers and replicas). */
  attempt: number;
  /** Aborts when the submitter superseded this attempt (lease lapsed, submit aborted) or the bus closes: stop, the result would be discarded. */
  signal: AbortSignal;
}

export type TaskHandler = (task: BusTask) => BusPayload | void | Promise<BusPayload | void>;

export interface WorkOptions {
  /** Tasks of this queue running at once on this member, 1–65535 (default 1). */
  capacity?: number;
}

/** What `work()` returns. */
export interface Worker {
  readonly queue: string;
  /** Stops taking tasks of this queue; running ones finish and their results go out. */
  stop(): void;
}

/** One replica's result, as `reconcile` sees it. */
export interface ReplicaResult {
  data: Buffer;
  worker: BusPeer;
}

export interface SubmitOptions {
  /** Lease of one attempt, ms (default 10000): a worker that neither renews (every third of it) nor answers in this time loses the task to another. */
  leaseMs?: number;
  /** Workers that run the task, each a different member (default 1). */
  replicas?: number;
  /** With replicas > 1: turns the replicas' results into the task's one result; throwing fails the task. Default: all results byte-equal, else ReconcileError. */
  reconcile?: (results: ReplicaResult[]) => BusPayload;
  /** Handler failures (the worker's handler threw) after which the task fails with TaskFailedError (default 3). Lost workers do not count. */
  maxFailures?: number;
  signal?: AbortSignal;
}

/** What `submit()` resolves with. */
export interface TaskResult {
  data: Buffer;
  /** The worker(s) whose result(s) made it. */
  workers: BusPeer[];
  /** Attempts awarded for this task, all replicas together (1 when nothing went wrong). */
  attempts: number;
}

/** A bus's counters: a copy the caller may keep. */
export interface BusStats {
  requestsSent: number;
  requestsFailedOver: number;
  repliesReceived: number;
  /** Replies to a request already answered, timed out or aborted (a slow server's late answer). */
  repliesLate: number;
  requestsServed: number;
  requestsRefused: number;
  gathersSent: number;
  tasksSubmitted: number;
  tasksCompleted: number;
  tasksFailed: number;
  tasksReoffered: number;
  leasesExpired: number;
  /** Results of superseded attempts, discarded (exactly one result per task is accepted). */
  resultsLate: number;
  awardsSent: number;
  awardsRefused: number;
  tasksRun: number;
  /** Tasks (one per replica) waiting for a worker, now. */
  tasksPending: number;
  /** Attempts awarded and not yet answered, now. */
  tasksInFlight: number;
  /** Messages on the bus stream this member could not decode. */
  invalidMessages: number;
  /** Writes the channel refused or that threw. */
  sendErrors: number;
}

/** The bus: what `openBus()` resolves with. */
export interface Bus {
  /** This member's id (its channel's session id). */
  readonly id: string;
  readonly name: string;
  /** The channel underneath (stats(), group); close it through close(). */
  readonly channel: Channel;
  serve(subject: string, handler: BusHandler, options?: ServeOptions): Service;
  request(subject: string, payload?: BusPayload, options?: RequestOptions): Promise<BusReply>;
  gather(subject: string, payload?: BusPayload, options?: GatherOptions): Gather;
  work(queue: string, handler: TaskHandler, options?: WorkOptions): Worker;
  submit(queue: string, task: BusPayload, options?: SubmitOptions): Promise<TaskResult>;
  /** Live members serving `subject` now (this one included when it serves it). */
  servers(subject: string): BusPeer[];
  /** Live members working `queue` now. */
  workers(queue: string): BusPeer[];
  stats(): BusStats;
  /**
   * Leaves the bus: pending requests, gathers and submits reject with
   * ClosedError, running handlers are aborted (their signal), the channel
   * closes (the others see this member leave and fail over at once). Every
   * call returns the same promise.
   */
  close(): Promise<void>;
}
