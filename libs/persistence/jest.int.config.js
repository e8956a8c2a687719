const preset = require('../../jest.preset.js');

module.exports = {
  ...preset,
  displayName: 'persistence-int',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  testTimeout: 60000,
  transform: {
    ...preset.transform,
    '[/\\\\]node_modules[/\\\\]@electric-sql[/\\\\]pglite[/\\\\].+\\.cjs$':
      '<rootDir>/jest/import-builtins.transform.js',
  },
  transformIgnorePatterns: ['[/\\\\]node_modules[/\\\\](?!@electric-sql[/\\\\]pglite[/\\\\])'],
};
