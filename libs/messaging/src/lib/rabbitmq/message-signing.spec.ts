import type { Message } from 'amqplib';
import {
  MessageRejections,
  MessageSigner,
  SIGNATURE_HEADER,
  SIGNER_HEADER,
  claimedSigner,
} from './message-signing';

const SECRET = 'cluster-secret-for-the-unit-tests-0123456789';
const OTHER_SECRET = 'another-cluster-secret-0123456789-abcdefgh';

function message(body: string, headers: Record<string, unknown> | undefined): Message {
  return {
    content: Buffer.from(body, 'utf8'),
    fields: {},
    properties: { headers },
  } as unknown as Message;
}

function signed(signer: MessageSigner, id: string, body: string): Message {
  return message(body, signer.headers(id, Buffer.from(body, 'utf8')));
}

describe(`${MessageSigner.name}`, () => {
  const a = new MessageSigner(SECRET, 'node-a');
  const b = new MessageSigner(SECRET, 'node-b');
  const body = '{"id":"e-1","origin":"node-a"}';

  it('accepts what any node of the same secret signed, naming the signer', () => {
    expect(b.verify(signed(a, 'e-1', body), 'e-1')).toEqual({ ok: true, signer: 'node-a' });
    expect(a.verify(signed(a, 'e-1', body), 'e-1')).toEqual({ ok: true, signer: 'node-a' });
    // The second check of a signer uses its cached key: same answer.
    expect(b.verify(signed(a, 'e-1', body), 'e-1')).toEqual({ ok: true, signer: 'node-a' });
  });

  it('puts the signer and a base64 HMAC-SHA256 into two headers', () => {
    const headers = a.headers('e-1', Buffer.from(body));
    expect(headers[SIGNER_HEADER]).toBe('node-a');
    expect(Buffer.from(headers[SIGNATURE_HEADER] ?? '', 'base64')).toHaveLength(32);
  });

  it('rejects a tampered body, message id or signer', () => {
    const original = signed(a, 'e-1', body);
    const headers = original.properties.headers as Record<string, unknown>;
    expect(b.verify(message(body.replace('e-1', 'e-2'), headers), 'e-1')).toEqual({
      ok: false,
      reason: 'signature',
    });
    expect(b.verify(original, 'e-2')).toEqual({ ok: false, reason: 'signature' });
    expect(b.verify(message(body, { ...headers, [SIGNER_HEADER]: 'node-b' }), 'e-1')).toEqual({
      ok: false,
      reason: 'signature',
    });
    const flipped = Buffer.from(headers[SIGNATURE_HEADER] as string, 'base64');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(
      b.verify(
        message(body, { ...headers, [SIGNATURE_HEADER]: flipped.toString('base64') }),
        'e-1',
      ),
    ).toEqual({ ok: false, reason: 'signature' });
  });

  it('does not confuse the id with the body (the id is length-prefixed)', () => {
    const headers = signed(a, 'e-1', 'x').properties.headers as Record<string, unknown>;
    expect(b.verify(message('x', headers), 'e-1')).toEqual({ ok: true, signer: 'node-a' });
    // Moving characters between the id and the body changes the signed data.
    expect(b.verify(message('1x', headers), 'e-')).toEqual({ ok: false, reason: 'signature' });
  });

  it('rejects messages signed with another secret', () => {
    const stranger = new MessageSigner(OTHER_SECRET, 'node-a');
    expect(b.verify(signed(stranger, 'e-1', body), 'e-1')).toEqual({
      ok: false,
      reason: 'signature',
    });
  });

  it('calls a message without (or with malformed) headers unsigned', () => {
    expect(b.verify(message(body, undefined), 'e-1')).toEqual({ ok: false, reason: 'unsigned' });
    expect(b.verify(message(body, {}), 'e-1')).toEqual({ ok: false, reason: 'unsigned' });
    expect(b.verify(message(body, { [SIGNER_HEADER]: 'node-a' }), 'e-1')).toEqual({
      ok: false,
      reason: 'unsigned',
    });
    expect(
      b.verify(message(body, { [SIGNER_HEADER]: 7, [SIGNATURE_HEADER]: 'abc' }), 'e-1'),
    ).toEqual({ ok: false, reason: 'unsigned' });
    expect(
      b.verify(
        message(body, { [SIGNER_HEADER]: 'x'.repeat(200), [SIGNATURE_HEADER]: 'abc' }),
        'e-1',
      ),
    ).toEqual({ ok: false, reason: 'unsigned' });
    expect(
      b.verify(message(body, { [SIGNER_HEADER]: 'node-a', [SIGNATURE_HEADER]: 'short' }), 'e-1'),
    ).toEqual({ ok: false, reason: 'signature' });
  });

  it('also accepts an accepted (rotation) secret, and never signs with it', () => {
    const rotating = new MessageSigner(SECRET, 'node-c', [OTHER_SECRET]);
    const old = new MessageSigner(OTHER_SECRET, 'node-a');
    expect(rotating.verify(signed(old, 'e-1', body), 'e-1')).toEqual({
      ok: true,
      signer: 'node-a',
    });
    expect(rotating.verify(signed(a, 'e-1', body), 'e-1')).toEqual({ ok: true, signer: 'node-a' });
    // Signed with the current secret: a node that knows only the accepted one refuses it.
    expect(old.verify(signed(rotating, 'e-1', body), 'e-1')).toMatchObject({ ok: false });
    expect(b.verify(signed(rotating, 'e-1', body), 'e-1')).toEqual({ ok: true, signer: 'node-c' });
  });

  it('refuses a short secret or an empty node name', () => {
    expect(() => new MessageSigner('short', 'node-a')).toThrow(/at least 32/);
    expect(() => new MessageSigner(SECRET, '')).toThrow(/signer name/);
  });

  it('reads the claimed (unverified) signer for reports', () => {
    expect(claimedSigner(signed(a, 'e-1', body))).toBe('node-a');
    expect(claimedSigner(message(body, undefined))).toBeUndefined();
  });
});

describe(`${MessageRejections.name}`, () => {
  it('counts every rejection and reports once per kind, reason and signer per interval', () => {
    let now = 1_000_000;
    const counted: string[] = [];
    const reported: string[] = [];
    const sut = new MessageRejections(
      (kind, reason) => counted.push(`${kind}/${reason}`),
      (error) => reported.push(error.message),
      60_000,
      () => now,
    );
    sut.reject('event', 'signature', 'node-a', 'event "1"');
    sut.reject('event', 'signature', 'node-a', 'event "2"');
    sut.reject('event', 'signature', 'node-b', 'event "3"');
    sut.reject('event', 'origin', 'node-a', 'event "4"');
    expect(counted).toEqual([
      'event/signature',
      'event/signature',
      'event/signature',
      'event/origin',
    ]);
    expect(reported).toHaveLength(3);
    expect(reported[0]).toMatch(/Dropped event "1": signature \(event, signer "node-a"\)/);
    now += 60_000;
    sut.reject('event', 'signature', 'node-a', 'event "5"');
    expect(reported).toHaveLength(4);
    expect(reported[3]).toMatch(/and 1 more since/);
  });

  it('reports at most 20 times a minute, whatever names the senders make up', () => {
    const reported: string[] = [];
    let counted = 0;
    const sut = new MessageRejections(
      () => (counted += 1),
      (error) => reported.push(error.message),
      60_000,
      () => 0,
    );
    for (let i = 0; i < 100; i += 1) sut.reject('work', 'unsigned', `made-up-${i}`, `item ${i}`);
    expect(counted).toBe(100);
    expect(reported).toHaveLength(20);
  });

  it('survives a failing counter', () => {
    const reported: string[] = [];
    const sut = new MessageRejections(
      () => {
        throw new Error('metrics broken');
      },
      (error) => reported.push(error.message),
    );
    expect(() => sut.reject('rpc', 'malformed', undefined, 'request')).not.toThrow();
    expect(reported[0]).toMatch(/no signer/);
  });
});
