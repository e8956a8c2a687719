import { messageIdsDigest as serverDigest } from '@chat/domain';
import { messageIdsDigest } from './digest';

describe(`${messageIdsDigest.name}`, () => {
  it('matches reference values of FNV-1a 64 over each id and a line feed', () => {
    expect(messageIdsDigest([])).toBe('cbf29ce484222325');
    expect(messageIdsDigest(['a'])).toBe('089bdc07b544e7b2');
    expect(messageIdsDigest(['m1', 'm2'])).toBe('e28f846f3ef8bbf6');
  });

  it("computes exactly the server's digest", () => {
    const ids = Array.from(
      { length: 50 },
      (_, i) => `0198c3a2-${String(i).padStart(4, '0')}-7000-8000-${'ab'.repeat(6)}`,
    );
    for (let n = 0; n <= ids.length; n += 7) {
      expect(messageIdsDigest(ids.slice(0, n))).toBe(serverDigest(ids.slice(0, n)));
    }
  });
});
