import { JwtService } from '@nestjs/jwt';
import { TokenService } from './token.service';

const secret = 'unit-test-secret-unit-test-secret-0123';

describe(`${TokenService.name}`, () => {
  const sut = new TokenService(new JwtService({ secret, signOptions: { expiresIn: 60 } }), 60);

  it('round-trips operator and visitor principals', () => {
    expect(sut.verify(sut.issueOperator({ operatorId: 'o1', siteId: 's1' }))).toEqual({
      role: 'operator',
      operatorId: 'o1',
      siteId: 's1',
    });
    expect(sut.verify(sut.issueVisitor({ visitorId: 'v1', siteId: 's1', chatId: 'c1' }))).toEqual({
      role: 'visitor',
      visitorId: 'v1',
      siteId: 's1',
      chatId: 'c1',
    });
  });

  it('rejects forged, foreign, malformed and missing tokens', () => {
    const foreign = new JwtService({ secret: `${secret}-other` }).sign({
      role: 'operator',
      sub: 'o',
      sid: 's',
    });
    const wrongShape = new JwtService({ secret }).sign({ role: 'admin', sub: 'o' });
    const token = sut.issueOperator({ operatorId: 'o1', siteId: 's1' });
    for (const bad of [
      foreign,
      wrongShape,
      `${token}x`,
      'not.a.jwt',
      '',
      undefined,
      42,
      'x'.repeat(5000),
    ]) {
      expect(sut.verify(bad)).toBeNull();
    }
  });

  it('rejects an expired token', () => {
    const expired = new JwtService({ secret }).sign({
      role: 'operator',
      sub: 'o',
      sid: 's',
      exp: Math.floor(Date.now() / 1000) - 10,
    });
    expect(sut.verify(expired)).toBeNull();
  });
});
