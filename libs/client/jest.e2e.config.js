module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'client-e2e',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.e2e-spec.ts'],
  testTimeout: 120000,
};
