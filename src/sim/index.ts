/**
 * `blipcast/sim` — simulate before you deploy. A seeded, virtual-time
 * network on which real channels and members run under loss, latency,
 * jitter, reordering, duplication, partitions and host crashes and pauses,
 * scripted over time, and which collects delivery, NAK, convergence and
 * detection statistics. Two levels:
 *
 * - {@link Simulation}: channels opened with the public `open()` on the
 *   memory transport, one simulated host each (tens of members);
 * - {@link MembershipSimulation}: the sans-IO membership cores alone,
 *   fast enough for a thousand members ({@link runMembershipScenario} is
 *   the membership benchmark's scenario).
 *
 * Same seed, same run. docs/simulator.md is the guide.
 *
 * @packageDocumentation
 */

export { DEFAULT_SIM_GROUP, Simulation } from './simulation';
export type { ChannelReport, SimChannel, SimChannelOptions, SimulationOptions, SimulationReport } from './simulation';
export type { ConvergenceEpisode, FailureDetection, SimMembershipStats } from './convergence';
export { DEFAULT_STEP_MS, drive } from './drive';
export { MembershipSimulation } from './membership';
export type { MembershipSimEvent, MembershipSimulationOptions, SimMember } from './membership';
export { CONVERGENCE_LIMIT_MS, formatMembershipScenario, runMembershipScenario } from './membership-scenario';
export type { Detection, MembershipReport, MembershipScenarioOptions, MembershipScenarioResult } from './membership-scenario';
export type { Header } from '../wire/header';
export type { Membership, MemberFilter, MemberInfo, MemberState, MembershipEvent, MembershipEventType, MembershipStats, MembershipTuning, ScaledTimers } from '../group/api';
