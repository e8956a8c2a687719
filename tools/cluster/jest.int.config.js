// Routing tests: the real nginx (tools/cluster/ensure-nginx.sh) in front of stand-in nodes.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'cluster-tools-int',
  rootDir: __dirname,
  testMatch: ['<rootDir>/**/*.int-spec.ts'],
  testTimeout: 60000,
};
