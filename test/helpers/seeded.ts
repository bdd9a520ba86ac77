import { createRandom } from '../../src/util/random';

/**
 * A seeded `() => number` in [0, 1) for configs that take a plain function
 * (EndpointConfig.random, MembershipConfig.random): the one generator of
 * src/util/random.ts, so the same seed gives the same run.
 */
export function seededRandom(seed: number | string): () => number {
  const rng = createRandom(seed);
  return () => rng.next();
}
