import { type TrustProxy } from '@chat/cluster';
import { type IncomingMessage } from 'node:http';
import { isIPv4, isIPv6 } from 'node:net';
import proxyAddr from 'proxy-addr';

export type TrustFunction = (address: string, hop: number) => boolean;

/** `TRUST_PROXY` as the function proxy-addr (and Express's `trust proxy`) takes. */
export function compileTrust(trust: TrustProxy): TrustFunction {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile([...trust]);
}

/**
 * The key a client is counted on: an IPv4 address as it is (IPv4-mapped IPv6 included), an IPv6
 * address by its /64 network, because one subscriber usually holds a whole /64 and could
 * otherwise take a fresh address for every request.
 */
export function addressKey(address: string): string {
  const bare = address.split('%')[0] ?? address;
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(bare);
  if (mapped?.[1]) return mapped[1];
  if (isIPv4(bare)) return bare;
  if (!isIPv6(bare)) return bare || 'unknown';
  return `${expandIpv6(bare).slice(0, 4).join(':')}::/64`;
}

/** The eight 16-bit groups of a valid IPv6 address, in lower-case hex without leading zeros. */
function expandIpv6(address: string): string[] {
  let text = address.toLowerCase();
  const v4 = /(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const zeros = tail === undefined ? 0 : 8 - left.length - right.length;
  return [...left, ...Array<string>(zeros).fill('0'), ...right].map((group) =>
    parseInt(group, 16).toString(16),
  );
}

/**
 * Where a request or a socket handshake comes from. The peer's address, unless the peer is a
 * trusted proxy (`TRUST_PROXY`): then the nearest address in `X-Forwarded-For` that is not a
 * trusted proxy itself, exactly as Express computes `req.ip` (both use proxy-addr). A client
 * cannot choose its key by sending the header itself: an untrusted peer's header is ignored.
 */
export class ClientIpResolver {
  private readonly trust: TrustFunction;

  constructor(trust: TrustProxy) {
    this.trust = compileTrust(trust);
  }

  /** The Express `trust proxy` setting, so that `req.ip` agrees with this. */
  get expressTrust(): TrustFunction {
    return this.trust;
  }

  /** `req`: an HTTP request, or a socket.io handshake (`socket.request`). */
  keyOf(req: IncomingMessage): string {
    if (!req.socket?.remoteAddress) return 'unknown';
    return addressKey(proxyAddr(req, this.trust));
  }
}
