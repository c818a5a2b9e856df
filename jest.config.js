// ESM jest: @kubernetes/client-node 1.x ships only ES modules, so tests run as native ESM
// (NODE_OPTIONS=--experimental-vm-modules, set by `npm test`) and ts-jest emits ESM.
/** @type {import('jest').Config} */
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] },
  coverageProvider: 'v8',
  collectCoverageFrom: ['src/**/*.ts', '!src/**/generated/**', '!src/cmd/**'],
  coverageThreshold: { global: { lines: 80 } },
  testTimeout: 60000,
  // jest's own process grows across ~110 ESM test files (4.6 GB by the end when run in band, with
  // late suites several times slower for it). A memory limit makes jest run the files in a worker
  // (one, on 2 cores) and replace it whenever a file leaves it above the limit.
  workerIdleMemoryLimit: '1GB',
};
