/**
 * `blipcast/bus`: a service bus on a multicast group, with no broker —
 * request/reply to one live server, scatter/gather to all of them, and task
 * acquisition with leases (offer, bid, award, renew, re-offer). docs/bus.md
 * has the whole story; codec.ts the wire.
 *
 * @packageDocumentation
 */

export {
  DEFAULT_BUS_STREAM, DEFAULT_CONCURRENCY, DEFAULT_DISCOVERY_MS, DEFAULT_LEASE_MS, DEFAULT_MAX_BACKLOG, DEFAULT_MAX_FAILURES, DEFAULT_MAX_QUEUED,
  DEFAULT_TIMEOUT_MS, HELLO_MS, openBus,
} from './bus';
export { MAX_PAYLOAD_BYTES } from './payload';
export { BacklogFullError, BusTimeoutError, NoServerError, ReconcileError, RemoteError, TaskFailedError } from './errors';
export type {
  Bus, BusHandler, BusOptions, BusPayload, BusPeer, BusReply, BusRequest, BusStats, BusTask, Gather, GatherMissReason, GatherOptions,
  GatherSummary, ReplicaResult, RequestOptions, ServeOptions, Service, SubmitOptions, TaskHandler, TaskResult, WorkOptions, Worker,
} from './types';
