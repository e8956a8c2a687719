import { randomBytes } from 'node:crypto';

const MAX_IDENTIFIER_LENGTH = 63; // PostgreSQL's NAMEDATALEN - 1

/**
 * A unique, lowercase PostgreSQL schema name such as `t_1718000000000_9f3a2c1b`, so parallel test
 * runs never share tables. The prefix must be a lowercase identifier (letters, digits, `_`).
 */
export function createTestSchemaName(prefix = 't'): string {
  if (!/^[a-z][a-z0-9_]*$/.test(prefix)) {
    throw new Error(`Schema prefix must match /^[a-z][a-z0-9_]*$/, got "${prefix}"`);
  }
  const name = `${prefix}_${Date.now()}_${randomBytes(4).toString('hex')}`;
  if (name.length > MAX_IDENTIFIER_LENGTH) {
    throw new Error(`Schema prefix "${prefix}" is too long for a PostgreSQL identifier`);
  }
  return name;
}
