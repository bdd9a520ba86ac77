/**
 * The layers of ARCHITECTURE.md, enforced: a module imports only from its own
 * layer and the layers below it. `npm test` runs this (script `lint:layers`).
 *
 *   apps      src/cli, src/logs, src/metrics, src/bus, src/state, src/observe — the public API only (src/index.ts);
 *             src/apps holds what they share (option checks), on the same rule
 *   sim       src/sim                          — the simulator: channels through the public API (src/index.ts; the
 *                                                `seed` hook of src/internal.ts), the sans-IO membership core driven
 *                                                directly (group, wire, util)
 *   api       src/api                          — Channel, options, the driver
 *   group     src/group    crypto  src/crypto  — sans-IO wrappers of the core (siblings)
 *   protocol  src/protocol                     — the sans-IO reliable-multicast core
 *   transport src/transport                    — sockets and the simulated network
 *   wire      src/wire                         — frame layouts, the one header decoder
 *   addon     src/addon                        — the native addon's loader and types
 *   util      src/util                         — errors, clock types, RNG, containers
 *
 * The barrels (src/index.ts, src/core.ts, src/internal.ts) may import any layer.
 */

const LAYERS = {
  util: [],
  addon: ['util'],
  wire: ['util', 'addon'],
  transport: ['util', 'addon', 'wire'],
  protocol: ['util', 'wire'],
  crypto: ['util', 'addon', 'wire', 'protocol'],
  group: ['util', 'wire', 'protocol'],
  api: ['util', 'addon', 'wire', 'transport', 'protocol', 'crypto', 'group'],
};

const layerRules = Object.entries(LAYERS).map(([layer, below]) => ({
  name: `layer-${layer}`,
  comment: `src/${layer} may import only ${below.length === 0 ? 'itself' : `itself and ${below.join(', ')}`} (ARCHITECTURE.md, "Layers").`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: '^src/', pathNot: [`^src/${layer}/`, ...below.map((b) => `^src/${b}/`)] },
}));

module.exports = {
  forbidden: [
    ...layerRules,
    {
      name: 'apps-use-public-api',
      comment: 'An app is a client: it imports the library only through its public entry (src/index.ts). The CLI may also use the apps and, for the demo, the test hooks of src/internal.ts.',
      severity: 'error',
      from: { path: '^src/cli/' },
      to: { path: '^src/', pathNot: ['^src/(cli|logs|metrics|bus|state|observe|apps)/', '^src/(index|internal)\\.ts$'] },
    },
    ...['logs', 'metrics', 'bus', 'state', 'observe', 'apps'].map((app) => ({
      name: `app-${app}-uses-public-api`,
      comment: `src/${app} is an app on the public API: it imports only itself, src/apps (what the apps share) and src/index.ts.`,
      severity: 'error',
      from: { path: `^src/${app}/` },
      to: { path: '^src/', pathNot: [`^src/${app}/`, '^src/apps/', '^src/index\\.ts$'] },
    })),
    {
      name: 'sim-uses-public-api-and-the-cores',
      comment: 'src/sim runs channels as a user does (src/index.ts, plus the seed hook of src/internal.ts so that runs replay) and drives the sans-IO membership core itself (src/group, src/wire, src/util); nothing else of the library.',
      severity: 'error',
      from: { path: '^src/sim/' },
      to: { path: '^src/', pathNot: ['^src/sim/', '^src/(group|wire|util)/', '^src/(index|internal)\\.ts$'] },
    },
    {
      name: 'sans-io',
      comment: 'The cores (protocol, group, wire) read no clock and touch no socket: no Node I/O, timers or events modules.',
      severity: 'error',
      from: { path: '^src/(protocol|group|wire)/' },
      to: { dependencyTypes: ['core'], path: '^(node:)?(dgram|net|os|events|timers|fs|child_process|worker_threads|stream)$' },
    },
    {
      name: 'no-circular',
      comment: 'No import cycles between modules at run time (cycles of type-only imports are harmless).',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true, viaOnly: { dependencyTypesNot: ['type-only'] } },
    },
    {
      name: 'src-not-to-test',
      comment: 'Production code never imports tests, benchmarks or their helpers.',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    {
      name: 'not-to-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
};
