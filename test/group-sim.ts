/**
 * The core-level membership simulator moved to src/sim (public as
 * `blipcast/sim`, {@link MembershipSimulation}); the group tests keep their
 * short names for it.
 */

export { MembershipSimulation as GroupSim, type MembershipSimEvent as GroupEvent, type MembershipSimulationOptions as GroupSimOptions, type SimMember as GroupNode } from '../src/sim/membership';
export { mulberry32 as seededRandom } from '../src/util/random';
