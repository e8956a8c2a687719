import { type IncomingMessage } from 'node:http';
import { addressKey, ClientIpResolver } from './client-ip';

function request(remoteAddress: string | undefined, forwardedFor?: string): IncomingMessage {
  return {
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  } as unknown as IncomingMessage;
}

describe(`${addressKey.name}`, () => {
  it('keeps IPv4 addresses and unwraps IPv4-mapped IPv6', () => {
    expect(addressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(addressKey('::FFFF:127.0.0.1')).toBe('127.0.0.1');
  });

  it('counts IPv6 addresses by their /64, whatever the notation', () => {
    const key = '2001:db8:0:1::/64';
    expect(addressKey('2001:db8:0:1::1')).toBe(key);
    expect(addressKey('2001:0DB8:0000:0001:ffff:1:2:3')).toBe(key);
    expect(addressKey('2001:db8::1:0:0:0:9')).toBe(key);
    expect(addressKey('2001:db8:0:1::1%eth0')).toBe(key);
    expect(addressKey('2001:db8:0:2::1')).not.toBe(key);
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('64:ff9b:1:2::192.0.2.33')).toBe('64:ff9b:1:2::/64');
  });
});

describe(`${ClientIpResolver.name}`, () => {
  it('believes X-Forwarded-For only from a trusted proxy (default: loopback)', () => {
    const sut = new ClientIpResolver(['loopback']);
    // behind nginx on this machine
    expect(sut.keyOf(request('127.0.0.1', '198.51.100.4'))).toBe('198.51.100.4');
    expect(sut.keyOf(request('::ffff:127.0.0.1', '198.51.100.4'))).toBe('198.51.100.4');
    // a client that sends the header itself chooses nothing
    expect(sut.keyOf(request('203.0.113.9', '198.51.100.4'))).toBe('203.0.113.9');
    // the nearest untrusted address counts: what the client prepended is ignored
    expect(sut.keyOf(request('127.0.0.1', '10.9.9.9, 198.51.100.4'))).toBe('198.51.100.4');
    expect(sut.keyOf(request('127.0.0.1'))).toBe('127.0.0.1');
  });

  it('follows a chain of trusted proxies, and honours true, false and hop counts', () => {
    const chain = request('10.0.0.2', '198.51.100.4, 10.0.0.1');
    expect(new ClientIpResolver(['10.0.0.0/8']).keyOf(chain)).toBe('198.51.100.4');
    expect(new ClientIpResolver(false).keyOf(chain)).toBe('10.0.0.2');
    expect(new ClientIpResolver(1).keyOf(chain)).toBe('10.0.0.1');
    expect(new ClientIpResolver(2).keyOf(chain)).toBe('198.51.100.4');
    expect(new ClientIpResolver(true).keyOf(chain)).toBe('198.51.100.4');
  });

  it('answers "unknown" for a request whose socket is already gone', () => {
    expect(new ClientIpResolver(['loopback']).keyOf(request(undefined))).toBe('unknown');
  });
});
