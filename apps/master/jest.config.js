module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'master',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
