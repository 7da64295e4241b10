/**
 * Boundaries between the parts of the code (npm run lint:boundaries, part of npm test).
 * Violations that predate a rule are listed in .dependency-cruiser-known-violations.json
 * and tolerated until fixed; any new one fails the check. Regenerate that list only when
 * an entry is removed by a fix: npx depcruise-baseline apps libs bench test
 * --config .dependency-cruiser.cjs --output-to .dependency-cruiser-known-violations.json
 */
const FEATURES = '^apps/execution/src/(runs|sessions|code-sessions|projects)/';
// Runtime adapters; runtime/script-runtime.ts, launch-spec.ts and loopback-port.ts are the port side,
// runtime/runtime.module.ts the one place that chooses an adapter.
const ADAPTERS = '^apps/execution/src/runtime/(kubernetes/|local-process|process-launcher|output-spool)';

module.exports = {
  forbidden: [
    {
      name: 'feature-imports-adapter',
      comment: 'runs/, sessions/, code-sessions/ and projects/ know the runtime only through the ScriptRuntime port.',
      severity: 'error',
      from: { path: FEATURES, pathNot: '\\.spec\\.ts$' },
      to: { path: ADAPTERS },
    },
    {
      name: 'adapter-imports-feature',
      comment: 'A runtime adapter implements the port; it never reaches into a feature.',
      severity: 'error',
      from: { path: ADAPTERS },
      to: { path: FEATURES },
    },
    {
      name: 'feature-imports-feature',
      comment: 'One feature calls another through a small port (*.port.ts, provided by a token), never its services.',
      severity: 'error',
      from: { path: FEATURES, pathNot: '\\.spec\\.ts$' },
      to: { path: FEATURES, pathNot: ['^apps/execution/src/$1/', '\\.port\\.ts$', '\\.entity\\.ts$'] },
    },
    {
      name: 'app-imports-test',
      comment: 'Production code (apps/) never imports the test harness.',
      severity: 'error',
      from: { path: '^apps/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^test/' },
    },
    {
      name: 'lib-imports-app',
      comment: 'libs/ are shared by every app and depend on none.',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^apps/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|gen|node_modules)/' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    combinedDependencies: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'], extensions: ['.ts', '.js'] },
    cache: false,
  },
};
