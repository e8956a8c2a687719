// Integration tests against the real RabbitMQ of this machine (TEST_AMQP_URL), each run in a fresh vhost.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'messaging-int',
  rootDir: __dirname,
  testMatch: ['<rootDir>/src/**/*.int-spec.ts'],
  testTimeout: 60000,
};
