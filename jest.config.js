/**
 * Jest runs in native ESM mode: Nest 12 packages are ESM-only, and Jest's own
 * CommonJS loader cannot load them. ts-jest transpiles only (isolatedModules);
 * `npm run typecheck` type-checks the whole tree before the tests run.
 * @type {import('jest').Config}
 */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  rootDir: '.',
  roots: ['<rootDir>/libs', '<rootDir>/apps', '<rootDir>/test', '<rootDir>/bench'],
  testMatch: ['**/*.spec.ts', '**/*.e2e-spec.ts'],
  moduleNameMapper: {
    '^@nest-coordination/core$': '<rootDir>/libs/coordination/src/index.ts',
    '^@nest-coordination/core/testing$': '<rootDir>/libs/coordination/src/testing/index.ts',
    '^@nest-coordination/core/express-session$': '<rootDir>/libs/coordination/src/sessions/express/index.ts',
    '^@nest-coordination/core/throttler$': '<rootDir>/libs/coordination/src/rate-limit/throttler/index.ts',
    '^@nest-coordination/core/websockets$': '<rootDir>/libs/coordination/src/contexts/websockets/index.ts',
    '^@nest-coordination/core/microservices$': '<rootDir>/libs/coordination/src/contexts/microservices/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: '<rootDir>/tsconfig.json' }],
  },
  globalSetup: '<rootDir>/test/harness/global-setup.ts',
  globalTeardown: '<rootDir>/test/harness/global-teardown.ts',
  reporters: ['default', '<rootDir>/test/harness/summary-reporter.mjs'],
  testTimeout: 30000,
  maxWorkers: 2,
  // ESM mode keeps every test file's modules alive in its worker: without a limit a worker that ran
  // many files grows towards the heap limit and crawls in GC. A worker past 1 GB after a file is replaced.
  workerIdleMemoryLimit: '1GB',
};
