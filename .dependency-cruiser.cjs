/**
 * The layers, checked by test/unit/layers.unit.test.ts (`npx depcruise --config
 * .dependency-cruiser.cjs engine projections sync protocol client-lib web`). Imports only go
 * down this stack; each folder is entered through its index.ts.
 *
 *   engine/cli                      the ops commands (top)
 *   engine/node, engine/index.ts    the composition root: HTTP, WebSocket gateway, wiring
 *   engine/cluster                  JetStream store wiring and cluster presence
 *   sync                            Yjs documents (a node extension, declared from below)
 *   projections                     read models and their runner
 *   engine/domain                   pure deciders, event shapes, upcasting
 *   engine/store                    the EventStore port and its adapters
 *   protocol                        the wire contract (bottom; the client's only import)
 */
const LAYERS = ['protocol', 'engine/store', 'engine/domain', 'projections', 'sync', 'engine/cluster', 'engine/node', 'engine/cli'];

/** A rule forbidding each layer to import any layer above it. */
const upward = LAYERS.map((layer, i) => ({
  name: `no-upward-from-${layer.replace('/', '-')}`,
  comment: `${layer} may only import the layers below it: ${LAYERS.slice(0, i).join(', ') || 'none'}`,
  severity: 'error',
  from: { path: `^${layer}/` },
  to: { path: `^(${[...LAYERS.slice(i + 1), 'engine/index\\.ts$'].join('|')})` },
}));

module.exports = {
  forbidden: [
    { name: 'no-cycles', comment: 'an import cycle ties layers (or files) together for good', severity: 'error', from: {}, to: { circular: true } },
    ...upward,
    {
      name: 'client-imports-only-protocol',
      comment: 'the client ships alone (its own package): nothing of the server may reach it',
      severity: 'error',
      from: { path: '^client-lib/' },
      to: { path: '^(engine|projections|sync|bench|test)/' },
    },
    {
      name: 'web-imports-only-the-client',
      comment: 'the web app is the reference client: it uses the public client package (its index.ts) and nothing of the server',
      severity: 'error',
      from: { path: '^web/' },
      to: { path: '^(engine|projections|sync|bench|test)/' },
    },
    {
      name: 'one-entry-per-folder',
      comment: "another folder is entered through its index.ts (its public entry), never a file inside it",
      severity: 'error',
      from: { path: '^(engine/[^/]+|projections|sync|protocol|client-lib|web)/' },
      to: { path: '^(engine/[^/]+|projections|sync|protocol|client-lib|web)/', pathNot: ['^$1/', '/index\\.ts$', '^engine/index\\.ts$'] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/|\\.test\\.ts$' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['es6', 'cjs'],
  },
};
