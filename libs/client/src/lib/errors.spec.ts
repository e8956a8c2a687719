import { ChatClientError } from './errors';

describe(`${ChatClientError.name}`, () => {
  it('takes RATE_LIMITED for a reason to retry later, like UNAVAILABLE', () => {
    expect(new ChatClientError('RATE_LIMITED', 'too many').transient).toBe(true);
    expect(new ChatClientError('UNAVAILABLE', 'broker down').transient).toBe(true);
    expect(new ChatClientError('CHAT_CLOSED', 'closed').transient).toBe(false);
    expect(new ChatClientError('TIMEOUT', 'no ack').transient).toBe(false);
  });
});
