// The chaos suite (npm run test:chaos): a real cluster behind nginx, real faults, one long run.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'chaos',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.chaos-spec.ts'],
  testTimeout: 600000,
  // One cluster, one run: no retries, no parallel workers.
  maxWorkers: 1,
};
