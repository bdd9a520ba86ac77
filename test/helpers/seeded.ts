/** mulberry32: small, fast, seeded — the same sequence on every run (simulations, fixtures). One copy, in src/util/random.ts. */
export { mulberry32 as seededRandom } from '../../src/util/random';
