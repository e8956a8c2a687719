import { ConfigError, loadNodeConfig } from './node-config';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadNodeConfig([], env);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('per-client limits in the node configuration', () => {
  it('has production defaults, loopback as the trusted proxy and no Redis', () => {
    const sut = loadNodeConfig([], {});
    expect(sut.limits).toEqual({
      socketEventsPerSecond: 20,
      ipEventsPerSecond: 100,
      chatMessagesPerMinute: 60,
      ipConnections: 50,
      ipConnectionCountTtlSeconds: 3600,
      chatStartsPerMinute: 10,
      offlineMessagesPerMinute: 5,
      loginsPerMinute: 20,
    });
    expect(sut.trustProxy).toEqual(['loopback']);
    expect(sut.redisUrl).toBeNull();
  });

  it('reads every budget, with 0 turning one off', () => {
    const sut = loadNodeConfig([], {
      SOCKET_EVENT_RATE_LIMIT_PER_SECOND: '0',
      IP_EVENT_RATE_LIMIT_PER_SECOND: '500',
      CHAT_MESSAGE_RATE_LIMIT_PER_MINUTE: '0',
      IP_CONNECTION_LIMIT: '7',
      IP_CONNECTION_COUNT_TTL_SECONDS: '600',
      CHAT_START_RATE_LIMIT_PER_MINUTE: '3',
      OFFLINE_MESSAGE_RATE_LIMIT_PER_MINUTE: '0',
      LOGIN_RATE_LIMIT_PER_MINUTE: '0',
      REDIS_URL: 'rediss://:pw@redis.internal:6380/2',
    });
    expect(sut.limits).toEqual({
      socketEventsPerSecond: 0,
      ipEventsPerSecond: 500,
      chatMessagesPerMinute: 0,
      ipConnections: 7,
      ipConnectionCountTtlSeconds: 600,
      chatStartsPerMinute: 3,
      offlineMessagesPerMinute: 0,
      loginsPerMinute: 0,
    });
    expect(sut.redisUrl).toBe('rediss://:pw@redis.internal:6380/2');
  });

  it('refuses negative or fractional budgets, a short counter life and a non-Redis URL', () => {
    const problems = problemsOf({
      SOCKET_EVENT_RATE_LIMIT_PER_SECOND: '-1',
      CHAT_START_RATE_LIMIT_PER_MINUTE: '2.5',
      IP_CONNECTION_COUNT_TTL_SECONDS: '5',
      REDIS_URL: 'http://:secret@redis:6379',
    });
    expect(problems).toHaveLength(4);
    expect(problems.join('\n')).toMatch(/SOCKET_EVENT_RATE_LIMIT_PER_SECOND="-1"/);
    expect(problems.join('\n')).toMatch(/CHAT_START_RATE_LIMIT_PER_MINUTE="2.5"/);
    expect(problems.join('\n')).toMatch(/IP_CONNECTION_COUNT_TTL_SECONDS="5"/);
    // the URL may carry a password: never shown
    expect(problems.join('\n')).toMatch(
      /REDIS_URL=\(hidden\): must be a redis:\/\/ or rediss:\/\//,
    );
    expect(problems.join('\n')).not.toMatch(/secret/);
  });

  it('reads TRUST_PROXY like Express: booleans, hop counts, addresses, subnets and names', () => {
    const trust = (value: string) => loadNodeConfig([], { TRUST_PROXY: value }).trustProxy;
    expect(trust('true')).toBe(true);
    expect(trust('false')).toBe(false);
    expect(trust('2')).toBe(2);
    expect(trust('loopback, 10.0.0.0/8,192.168.1.5')).toEqual([
      'loopback',
      '10.0.0.0/8',
      '192.168.1.5',
    ]);
    expect(trust('uniquelocal,fd00::/8,10.1.0.0/255.255.0.0')).toEqual([
      'uniquelocal',
      'fd00::/8',
      '10.1.0.0/255.255.0.0',
    ]);
    expect(problemsOf({ TRUST_PROXY: 'nginx' })[0]).toMatch(
      /TRUST_PROXY="nginx": "nginx" is not an address, a subnet, loopback/,
    );
    expect(problemsOf({ TRUST_PROXY: '10.0.0.0/33' })[0]).toMatch(/"10.0.0.0\/33"/);
    expect(problemsOf({ TRUST_PROXY: '10.1.0.0/255.0.255.0' })[0]).toMatch(/invalid range/);
  });
});
