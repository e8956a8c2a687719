module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'slave',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.spec.ts'],
};
