import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateSecrets } from './secrets';

describe(`${loadOrCreateSecrets.name}`, () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'secrets-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates missing secrets once and keeps them across starts', () => {
    const first = loadOrCreateSecrets(dir, { adminApiKey: null, jwtSecret: null });
    const second = loadOrCreateSecrets(dir, { adminApiKey: null, jwtSecret: null });
    expect(first.generated).toBe(true);
    expect(second).toEqual({ ...first, generated: false });
  });

  it('never writes a secret given in the environment to disk', () => {
    const sut = loadOrCreateSecrets(dir, {
      adminApiKey: 'from-the-environment-key',
      jwtSecret: null,
    });
    expect(sut.adminApiKey).toBe('from-the-environment-key');
    const onDisk = readFileSync(join(dir, 'secrets.json'), 'utf8');
    expect(onDisk).not.toContain('from-the-environment-key');
    expect(JSON.parse(onDisk)).toEqual({ jwtSecret: sut.jwtSecret });
  });
});
