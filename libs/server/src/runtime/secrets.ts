import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface NodeSecrets {
  adminApiKey: string;
  jwtSecret: string;
  /** true when a value was generated now (the admin key is then printed once) */
  generated: boolean;
}

/**
 * A standalone node needs no setup: missing secrets are generated once and kept in the data
 * directory (mode 0600), so tokens survive restarts. A cluster must set them in the environment.
 */
export function loadOrCreateSecrets(
  dataDir: string,
  given: { adminApiKey: string | null; jwtSecret: string | null },
): NodeSecrets {
  const file = join(dataDir, 'secrets.json');
  let stored: Partial<Record<'adminApiKey' | 'jwtSecret', string>> = {};
  try {
    stored = JSON.parse(readFileSync(file, 'utf8')) as typeof stored;
  } catch {
    stored = {};
  }
  const generatedAdminKey = given.adminApiKey === null && stored.adminApiKey === undefined;
  const generatedJwtSecret = given.jwtSecret === null && stored.jwtSecret === undefined;
  const adminApiKey =
    given.adminApiKey ?? stored.adminApiKey ?? randomBytes(24).toString('base64url');
  const jwtSecret = given.jwtSecret ?? stored.jwtSecret ?? randomBytes(48).toString('base64url');
  const generated = generatedAdminKey || generatedJwtSecret;
  if (generated) {
    // Only values this node made (or made earlier) go to disk; a secret given in the environment
    // never lands in a file.
    const keep: Partial<Record<'adminApiKey' | 'jwtSecret', string>> = {};
    if (given.adminApiKey === null) keep.adminApiKey = adminApiKey;
    if (given.jwtSecret === null) keep.jwtSecret = jwtSecret;
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(keep, null, 2), { mode: 0o600 });
  }
  return { adminApiKey, jwtSecret, generated };
}
